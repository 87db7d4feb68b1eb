"""Training throughput: our loader + loop against an original-like loop, same model, size and data.

    .venv/bin/python bench/train_throughput.py            # EfficientNetV2-S, 256 px, batch 8
    .venv/bin/python bench/train_throughput.py --backbone mobilenet_v3_small --image-size 64
    .venv/bin/python bench/train_throughput.py --variants bf16-cl,bf16-cl-compile

Baseline (the original's notebook): a Dataset that decodes the stored crop bytes with PIL and runs
torchvision transforms per sample every epoch (RandomCrop with padding, flip, rotation,
ColorJitter, ToTensor, Normalize), DataLoader num_workers=0, fp32, contiguous memory.
Ours (prettymeter.training.data and .augment): crops decoded once into a uint8 tensor,
augmentation on the whole batch at once, then one of the VARIANTS below (`--variants`, default
all). The compile variant wraps the model in `torch.compile(model)` with default options, as
`prettymeter.training.loop.fit_member` does for `--compile`; compiling happens in the first
steps, so it lands in the warm-up, outside the timed steps, and is reported on its own (the
"warm-up extra" column: warm-up time beyond the timed step rate; a user pays it once per fold).
All variants run in the same process on the same data, one after another; the baseline runs
first and last and the ratio is against the mean of those two runs.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# short name -> (label, bf16 autocast, channels-last, torch.compile)
VARIANTS: dict[str, tuple[str, bool, bool, bool]] = {
    "fp32-cl": ("ours: cached crops + batch aug, fp32, channels-last", False, True, False),
    "bf16": ("ours: cached crops + batch aug, bf16 autocast, contiguous", True, False, False),
    "bf16-cl": ("ours: cached crops + batch aug, bf16 autocast, channels-last", True, True, False),
    "bf16-cl-compile": (
        "ours: cached crops + batch aug, bf16 autocast, channels-last, torch.compile",
        True,
        True,
        True,
    ),
}


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
    parser.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help=f"comma list of: {', '.join(VARIANTS)} (default: all; the original-like baseline "
        "always runs first and last)",
    )
    parser.add_argument(
        "--compile-cache",
        choices=["cold", "warm"],
        default="cold",
        help="cold (default): inductor compiles into a fresh cache folder, as a user's first run "
        "does; warm: reuse this machine's inductor cache (TORCHINDUCTOR_CACHE_DIR or its default)",
    )
    args = parser.parse_args()
    chosen = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in chosen if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    if args.steps < 1:
        parser.error("--steps must be at least 1")
    if args.warmup < 1 and any(VARIANTS[v][3] for v in chosen):
        parser.error("the compile variant needs --warmup 1 or more: the first step compiles")

    work = Path(tempfile.mkdtemp(prefix="train-bench-"))
    try:
        run(args, chosen, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, chosen: list[str], work: Path) -> None:
    if args.compile_cache == "cold":  # read by inductor when it compiles, so before any compile
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(work / "inductor-cache")

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

    # -- the original-like baseline -----------------------------------------------------------
    original_transform = T.Compose(
        [
            T.RandomCrop(size, padding=pad),
            T.RandomHorizontalFlip(),
            T.RandomRotation(config.aug_rotate),
            T.ColorJitter(config.aug_jitter, config.aug_jitter, config.aug_jitter),
            T.ToTensor(),
            T.Normalize(imaging.MEAN.tolist(), imaging.STD.tolist()),
        ]
    )

    class OriginalDataset(torch.utils.data.Dataset):  # type: ignore[type-arg]
        def __len__(self) -> int:
            return len(crops)

        def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
            image = Image.open(io.BytesIO(crops[i])).convert("RGB")
            return original_transform(image), labels[i]

    def rate_and_extra(first: float, started: float, ended: float) -> tuple[float, float]:
        """Images/s over the timed steps, and the warm-up's seconds beyond that step rate."""
        per_step = (ended - started) / args.steps
        return args.steps * batch / (ended - started), (started - first) - args.warmup * per_step

    def run_baseline() -> tuple[float, float]:
        model, opt = fresh_model(channels_last=False)
        loader = torch.utils.data.DataLoader(
            OriginalDataset(), batch_size=batch, shuffle=True, num_workers=0, drop_last=True
        )
        done, first, started = 0, time.perf_counter(), 0.0
        while done < steps_total:
            for x, y in loader:
                if done == args.warmup:
                    started = time.perf_counter()
                step(model, opt, x, y, bf16=False)
                done += 1
                if done == steps_total:
                    break
        return rate_and_extra(first, started, time.perf_counter())

    # -- ours -------------------------------------------------------------------------------
    cache_started = time.perf_counter()
    cache = decode_crops(crops, size, show=False)
    cache_seconds = time.perf_counter() - cache_started

    def run_ours(bf16: bool, channels_last: bool, compiled: bool) -> tuple[float, float]:
        model, opt = fresh_model(channels_last)
        net: torch.nn.Module = model
        if compiled:  # the same call as prettymeter.training.loop.fit_member's --compile
            net = torch.compile(model)  # type: ignore[assignment]
        generator = torch.Generator().manual_seed(0)
        first, started = time.perf_counter(), 0.0
        for i in range(steps_total):
            if i == args.warmup:
                started = time.perf_counter()
            rows = torch.randint(0, len(crops), (batch,), generator=generator)
            x = augment_batch(cache.index_select(0, rows), config, generator)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            step(net, opt, x, labels[rows], bf16)
        return rate_and_extra(first, started, time.perf_counter())

    next_fold: list[float] = []  # the compile variant's warm-up extra for a second fresh model

    def attempt(name: str) -> tuple[float, float] | str:
        """The variant's (images/s, warm-up extra s), or one line saying why it failed."""
        _, bf16, channels_last, compiled = VARIANTS[name]
        try:
            result = run_ours(bf16, channels_last, compiled)
            if compiled:  # the next fold: a fresh model compiled again in the same process
                next_fold.append(run_ours(bf16, channels_last, compiled)[1])
            return result
        except Exception as error:  # a failed variant must not end the benchmark
            lines = [line for line in str(error).splitlines() if line.strip()]
            return f"failed: {type(error).__name__}: {lines[0] if lines else ''}"[:200]
        finally:
            if compiled:
                torch._dynamo.reset()

    first_baseline = run_baseline()
    ours: dict[str, tuple[float, float] | str] = {}
    for name in chosen:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        ours[name] = attempt(name)
    last_baseline = run_baseline()
    base = (first_baseline[0] + last_baseline[0]) / 2
    results: list[tuple[str, tuple[float, float] | str]] = [
        ("original-like: PIL per sample, fp32, workers 0", first_baseline),
        *[(f"[{name}] {VARIANTS[name][0]}", ours[name]) for name in chosen],
        ("original-like again (drift check)", last_baseline),
    ]

    print(
        f"\ntraining throughput: {args.backbone}, {size} px, batch {batch}, "
        f"{args.steps} timed steps, torch threads {torch.get_num_threads()}, "
        f"AMX {'yes' if cpu_has_amx() else 'no'}, bf16 {'yes' if cpu_has_bf16() else 'no'}, "
        f"torch {torch.__version__}"
    )
    print(
        f"crop cache: {len(crops)} crops decoded once in {cache_seconds:.2f} s (not in the rates)"
    )
    width = max(len(name) for name, _ in results)
    print(f"{'variant':<{width}} {'images/s':>9} {'× baseline':>11} {'warm-up extra s':>16}")
    for name, result in results:
        if isinstance(result, str):
            print(f"{name:<{width}} {result}")
        else:
            rate, extra = result
            print(f"{name:<{width}} {rate:>9.2f} {rate / base:>11.2f} {extra:>16.1f}")
    print(
        f"baseline = mean of the two original-like runs; warm-up extra = the {args.warmup} warm-up "
        "steps' time beyond the timed step rate (for torch.compile: the first fold's compile); "
        "the machine is shared, so expect noise"
    )
    compiled, plain = ours.get("bf16-cl-compile"), ours.get("bf16-cl")
    if isinstance(compiled, tuple):
        line = (
            f"torch.compile ({args.compile_cache} inductor cache): {compiled[1]:.1f} s of warm-up "
            f"beyond the step rate, {next_fold[0]:.1f} s for the next fold's fresh model"
        )
        if isinstance(plain, tuple):
            line += (
                f"; against bf16-cl: {compiled[1] - plain[1]:+.1f} s warm-up, "
                f"{compiled[0] / plain[0]:.2f}× its images/s"
            )
        print(line)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
