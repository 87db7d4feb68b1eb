"""Training throughput: our loader + loop against a seed-like loop, same model, size and data.

    .venv/bin/python bench/train_throughput.py            # EfficientNetV2-S, 256 px, batch 8
    .venv/bin/python bench/train_throughput.py --backbone mobilenet_v3_small --image-size 64

Baseline (the seed's notebook): a Dataset that decodes the stored crop bytes with PIL and runs
torchvision transforms per sample every epoch (RandomCrop with padding, flip, rotation,
ColorJitter, ToTensor, Normalize), DataLoader num_workers=0, fp32, contiguous memory.
Ours (prettymeter.training.data and .augment): crops decoded once into a uint8 tensor,
augmentation on the whole batch at once, channels-last, and fp32 or bf16 autocast. All variants
run in the same process on the same data, one after another; the ratio is against the baseline
measured in this run.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_table(root: Path, photos: int, size: int) -> Path:
    """Synthetic photos through the real stages (synth → ingest → dedupe → detect)."""
    from prettymeter.data.dedupe import dedupe
    from prettymeter.data.detect import detect
    from prettymeter.data.ingest import ingest
    from prettymeter.data.synth import generate

    generate(root / "photos", photos, seed=0, size=size)
    ingest(root / "photos", root / "raw.parquet")
    dedupe(root / "raw.parquet", root / "dedup.parquet")
    detect(root / "dedup.parquet", root / "crops.parquet", detector="none", crop_size=size)
    return root / "crops.parquet"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backbone", default="efficientnet_v2_s")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--photos", type=int, default=64)
    parser.add_argument("--steps", type=int, default=8, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()

    import pyarrow.parquet as pq
    import torch
    import torchvision.transforms as T  # noqa: N812
    from PIL import Image

    from prettymeter import imaging
    from prettymeter.hardware import cpu_has_amx, cpu_has_bf16
    from prettymeter.training.augment import augment_batch
    from prettymeter.training.config import TrainConfig
    from prettymeter.training.data import decode_crops
    from prettymeter.training.model import build_model

    if args.threads:
        torch.set_num_threads(args.threads)
    size, batch = args.image_size, args.batch_size
    work = Path(tempfile.mkdtemp(prefix="train-bench-"))
    table = pq.read_table(make_table(work, args.photos, size), columns=["crop", "rate"])
    crops = table.column("crop").to_pylist()
    labels = torch.tensor(np.asarray(table.column("rate").to_numpy()) / 10.0, dtype=torch.float32)
    config = TrainConfig(data=work, out=work, image_size=size, batch_size=batch)
    pad = round(config.aug_pad * size)
    steps_total = args.warmup + args.steps

    def fresh_model(channels_last: bool) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
        torch.manual_seed(0)
        model = build_model(args.backbone, None).train()
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        return model, torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step(model: torch.nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor,
             y: torch.Tensor, bf16: bool) -> None:  # fmt: skip
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            pred = model(x).float().view(-1)
        loss = ((pred - y) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    # -- the seed-like baseline -----------------------------------------------------------
    seed_transform = T.Compose(
        [
            T.RandomCrop(size, padding=pad),
            T.RandomHorizontalFlip(),
            T.RandomRotation(config.aug_rotate),
            T.ColorJitter(config.aug_jitter, config.aug_jitter, config.aug_jitter),
            T.ToTensor(),
            T.Normalize(imaging.MEAN.tolist(), imaging.STD.tolist()),
        ]
    )

    class SeedDataset(torch.utils.data.Dataset):  # type: ignore[type-arg]
        def __len__(self) -> int:
            return len(crops)

        def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
            image = Image.open(io.BytesIO(crops[i])).convert("RGB")
            return seed_transform(image), labels[i]

    def run_baseline() -> float:
        model, opt = fresh_model(channels_last=False)
        loader = torch.utils.data.DataLoader(
            SeedDataset(), batch_size=batch, shuffle=True, num_workers=0, drop_last=True
        )
        done, started = 0, 0.0
        while done < steps_total:
            for x, y in loader:
                if done == args.warmup:
                    started = time.perf_counter()
                step(model, opt, x, y, bf16=False)
                done += 1
                if done == steps_total:
                    break
        return args.steps * batch / (time.perf_counter() - started)

    # -- ours -------------------------------------------------------------------------------
    cache_started = time.perf_counter()
    cache = decode_crops(crops, size, show=False)
    cache_seconds = time.perf_counter() - cache_started

    def run_ours(bf16: bool, channels_last: bool = True) -> float:
        model, opt = fresh_model(channels_last)
        generator = torch.Generator().manual_seed(0)
        started = 0.0
        for i in range(steps_total):
            if i == args.warmup:
                started = time.perf_counter()
            rows = torch.randint(0, len(crops), (batch,), generator=generator)
            x = augment_batch(cache.index_select(0, rows), config, generator)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            step(model, opt, x, labels[rows], bf16)
        return args.steps * batch / (time.perf_counter() - started)

    results: list[tuple[str, float]] = []
    results.append(("seed-like: PIL per sample, fp32, workers 0", run_baseline()))
    results.append(("ours: cached crops + batch aug, fp32, channels-last", run_ours(False)))
    results.append(("ours: cached crops + batch aug, bf16 autocast, channels-last", run_ours(True)))
    results.append(("seed-like again (drift check)", run_baseline()))
    base = (results[0][1] + results[-1][1]) / 2

    print(
        f"\ntraining throughput: {args.backbone}, {size} px, batch {batch}, "
        f"{args.steps} timed steps, torch threads {torch.get_num_threads()}, "
        f"AMX {'yes' if cpu_has_amx() else 'no'}, bf16 {'yes' if cpu_has_bf16() else 'no'}, "
        f"torch {torch.__version__}"
    )
    print(
        f"crop cache: {len(crops)} crops decoded once in {cache_seconds:.2f} s (not in the rates)"
    )
    print(f"{'variant':<64} {'images/s':>9} {'× baseline':>11}")
    for name, rate in results:
        print(f"{name:<64} {rate:>9.2f} {rate / base:>11.2f}")
    print("baseline = mean of the two seed-like runs; the machine is shared, so expect noise")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
