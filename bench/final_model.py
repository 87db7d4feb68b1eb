"""Which model to ship: the refit (one network) against the fold ensemble, on rows neither saw.

    PYTHONPATH=src .venv/bin/python bench/final_model.py [--photos 3000] [--epochs 12]

Synthetic photos → ingest → dedupe → detect --detector none (64 px) → normalize (m), as the
demo builds its tables; a quarter of the duplicate groups is held out as a test table. One
`train` run (3 folds of MobileNetV3-Small at 64 px, random init, fp32, one thread, the default
`--final refit`) holds every candidate: the refit and the three fold models. Each candidate is
the graph `export` would write (label, label_std) and scores the held-out rows: PC, RMSE on the
0-10 score, the share of rows within 1 and 2 predicted stds, and what a photo costs. The run's
own out-of-fold figures (metrics.json) are printed too.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def make_tables(work: Path, photos: int, seed: int) -> tuple[Path, Path]:
    """The demo's stages, then a grouped hold-out of a quarter of the rows (metadata kept)."""
    import pyarrow.parquet as pq

    from prettymeter.data.dedupe import dedupe
    from prettymeter.data.detect import detect
    from prettymeter.data.ingest import ingest
    from prettymeter.data.normalize import normalize
    from prettymeter.data.synth import generate

    generate(work / "photos", photos, seed=seed, size=64)
    ingest(work / "photos", work / "raw.parquet")
    dedupe(work / "raw.parquet", work / "dedup.parquet")
    detect(work / "dedup.parquet", work / "crops.parquet", detector="none", crop_size=64)
    normalize(work / "crops.parquet", work / "m.parquet", "m", plots=False)
    table = pq.read_table(work / "m.parquet")
    groups = np.asarray(table.column("group").to_pylist())
    unique = np.unique(groups)
    rng = np.random.default_rng(seed)
    held = set(rng.choice(unique, size=len(unique) // 4, replace=False).tolist())
    test = np.array([g in held for g in groups])
    pq.write_table(table.filter(~test), work / "train.parquet")
    pq.write_table(table.filter(test), work / "test.parquet")
    return work / "train.parquet", work / "test.parquet"


def score(members: list[str], scales: list[float], run: Path, test: Path) -> dict[str, float]:
    """The exported graph of `members` on the held-out rows."""
    import torch

    from prettymeter.training.augment import normalize_batch
    from prettymeter.training.checkpoint import load_member
    from prettymeter.training.data import load_table
    from prettymeter.training.export import _ensemble_module
    from prettymeter.training.metrics import regression_metrics

    table = load_table(test, 64, show=False)
    module = _ensemble_module([load_member(run, m, "mobilenet_v3_small") for m in members], scales)
    started = time.perf_counter()
    with torch.no_grad():
        label, std = module(normalize_batch(table.images))
    seconds = time.perf_counter() - started
    error = np.abs(label.numpy() - table.labels)
    m = regression_metrics(label.numpy(), table.labels)
    return {
        "rows": len(error),
        "pc": m["pc"],
        "score_rmse": m["score_rmse"],
        "within_1_std": float((error <= std.numpy()).mean()),
        "within_2_std": float((error <= 2 * std.numpy()).mean()),
        "backbones": len(members),
        "ms_per_photo": 1000 * seconds / len(error),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()

    import torch

    from prettymeter.training.config import TrainConfig
    from prettymeter.training.loop import train

    torch.set_num_threads(1)
    work = args.work or Path(tempfile.mkdtemp(prefix="final-model-"))
    train_table, test_table = make_tables(work, args.photos, args.seed)
    config = TrainConfig(
        data=train_table, out=work / "run", backbone="mobilenet_v3_small", weights=None,
        image_size=64, epochs=args.epochs, batch_size=8, lr=2e-3, schedule="cosine", folds=3,
        aug_jitter=0.0, threads=1, device="cpu", precision="fp32", log_every=0,
        seed=args.seed, overwrite=True,
    )  # fmt: skip
    run = train(config)
    record = json.loads((run / "run.json").read_text())
    folds = sorted(p.parent.name for p in run.glob("fold_*/best.safetensors"))
    fold_scales = [json.loads((run / f / "state.json").read_text())["std_scale"] for f in folds]
    candidates = {
        "refit (1 network)": (record["members"], record["std_scales"]),
        "ensemble of the folds": ([f"{f}/best.safetensors" for f in folds], fold_scales),
        "one fold model": ([f"{folds[0]}/best.safetensors"], fold_scales[:1]),
    }
    print(f"work: {work}; held-out table: {test_table}")
    print("| candidate | held-out rows | PC | RMSE (0-10) | ≤1σ | ≤2σ | backbones/photo |")
    print("|---|---|---|---|---|---|---|")
    for name, (members, scales) in candidates.items():
        r = score(members, scales, run, test_table)
        print(
            f"| {name} | {r['rows']} | {r['pc']:.3f} | {r['score_rmse']:.3f} | "
            f"{r['within_1_std']:.0%} | {r['within_2_std']:.0%} | {r['backbones']} |"
        )
    metrics = json.loads((run / "metrics.json").read_text())
    print("out of fold:", json.dumps({"oof": metrics["oof"], **metrics.get("uncertainty", {})}))


if __name__ == "__main__":
    main()
