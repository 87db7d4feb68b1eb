"""The service benchmark's model: an EfficientNetV2-S that has learned, made by the real pipeline.

    .venv/bin/python bench/bench_model.py [--work DIR]

Precision drift (bf16, int8) means something only on a network whose features mean something,
so the service benchmark serves a trained model, not a random one. Made once and cached in
`--work` (each stage is skipped when its output exists), with the `pretty-meter` verbs a user
runs: synth → ingest → dedupe → detect (whole photos) → normalize (men) → a held-out split →
train → export (which verifies the engines on the held-out crops and records them in the card).

From random init EfficientNetV2-S learns slowly on two cores, so it is trained in two stages of
the same recipe: first at 128 px (four times cheaper per image), then fine-tuned at 256 px from
those weights (`--weights FILE`), the served size. One split (70 % train, 30 % held out, grouped
by duplicate cluster) is enough for a benchmark model: `--split official-60-40` on the table's
`split` column trains one network and scores the held-out rows once, and `--final ensemble` of
that one split ships that network itself (one backbone, with its variance head, as the default
refit ships), so it costs what a user's default export costs, and the rows export verifies the
engines on were never trained on.

EfficientNetV2-S from random init has not learned this set on two cores (held-out PC 0.15
after 55 minutes; docs/benchmarks.md), so `--drift` also makes the closest network that has:
a ResNet-18 at 128 px, fp32, on the same split (a few minutes), exported and verified the same
way, to measure what bf16 and int8 move on features that mean something.

    .venv/bin/python bench/bench_model.py --drift
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import testkit  # noqa: F401 - first: the repository root on the import path

from prettymeter.contract import LABEL_MAP_OUTPUT
from tests.support.paths import CLI

PHOTOS = 3000
SEED = 0
HELD_OUT = 0.3
STAGES = (
    # (name, image size, epochs, learning rate, initial weights)
    ("stage128", 128, 10, 2e-3, "none"),
    ("stage256", 256, 1, 5e-4, "stage128"),
)
BEST_FILE = "best.safetensors"


def default_work() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "pretty-meter" / "bench-serve" / "bench-model"  # where serve_load looks


def verb(*args: str | Path) -> None:
    """One `pretty-meter` verb; its output goes to the console (progress, summaries)."""
    command = [CLI, *(str(a) for a in args)]
    print("$ pretty-meter " + " ".join(str(a) for a in args), flush=True)
    subprocess.run(command, check=True)


def with_split(src: Path, dst: Path) -> None:
    """Add a `split` column: HELD_OUT of the duplicate groups are `test`, the rest `train`."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(src)
    stage = pq.read_metadata(src).metadata or {}  # normalize's record (lo/med/hi) is file-level
    groups = table.column("group").to_numpy()
    unique = np.unique(groups)
    rng = np.random.default_rng(SEED)
    test = set(rng.choice(unique, size=round(HELD_OUT * len(unique)), replace=False).tolist())
    split = pa.array(["test" if g in test else "train" for g in groups])
    metadata = {
        **(table.schema.metadata or {}),
        **{k: v for k, v in stage.items() if k != b"ARROW:schema"},
    }
    if "split" in table.column_names:  # ingest's column (empty outside SCUT-FBP5500)
        table = table.drop_columns(["split"])
    table = table.append_column("split", split).replace_schema_metadata(metadata)
    pq.write_table(table, dst)


def run_done(run: Path) -> bool:
    record = run / "run.json"
    return record.is_file() and bool(json.loads(record.read_text()).get("done"))


def weights_done(run: Path) -> bool:
    """An earlier stage is needed only for its kept weights: its one model is finished."""
    state = run / "fold_0" / "state.json"
    return state.is_file() and bool(json.loads(state.read_text()).get("done"))


def held_out_pc(run: Path) -> float:
    return float(json.loads((run / "metrics.json").read_text())["oof"]["pc"])


def exported_now(model: Path) -> bool:
    """The model dir is there and made by this version's exporter (both bench backbones pool
    their last feature map into the head, so it has the label map explanations read; an
    accepted bf16 engine has its own weight files; the tripwire's probe labels are stored)."""
    card = model / "card.json"
    if not card.is_file():
        return False
    fields = json.loads(card.read_text())
    verification = fields.get("verification") or {}
    bf16 = (verification.get("engines") or {}).get("openvino-bf16") or {}
    new_bf16 = not bf16.get("accepted") or bool(bf16.get("files"))
    has_probes = bool(verification.get("probe_sha256"))
    return LABEL_MAP_OUTPUT in fields.get("outputs", {}) and new_bf16 and has_probes


def prepare(work: Path) -> dict[str, Path]:
    """Make (or reuse) the bench model; returns its model dir, run dir and torch weights."""
    work.mkdir(parents=True, exist_ok=True)
    photos, tables = work / "photos", work / "tables"
    tables.mkdir(exist_ok=True)
    raw, dedup, crops = tables / "raw.parquet", tables / "dedup.parquet", tables / "crops.parquet"
    normalized, table = tables / "m.parquet", tables / "m-split.parquet"
    started = time.perf_counter()
    if not (work / ".photos-complete").is_file():
        verb("synth", "--out", photos, "--n", str(PHOTOS), "--seed", str(SEED), "--overwrite")
        (work / ".photos-complete").touch()
    if not raw.is_file():
        verb("ingest", "--ds", photos, "--dst", raw)
    if not dedup.is_file():
        verb("dedupe", "--src", raw, "--dst", dedup)
    if not crops.is_file():
        verb("detect", "--src", dedup, "--dst", crops, "--detector", "none", "--crop-size", "256")
    if not normalized.is_file():
        verb("normalize", "--src", crops, "--dst", normalized, "--gender", "m", "--no-plots")
    if not table.is_file():
        with_split(normalized, table)
    runs = work / "runs"
    for name, size, epochs, lr, init in STAGES:
        run = runs / name
        if run_done(run) or (name != STAGES[-1][0] and weights_done(run)):
            continue
        weights = init if init == "none" else str(runs / init / "fold_0" / BEST_FILE)
        resume = ["--resume", str(run)] if (run / "config.json").is_file() else []
        recipe = [
            "--data", table, "--out", run, "--weights", weights, "--image-size", str(size),
            "--epochs", str(epochs), "--lr", str(lr), "--batch-size", "32",
            "--schedule", "cosine", "--split", "official-60-40", "--final", "ensemble",
            "--log-every", "0",
            "--overwrite",
        ]  # fmt: skip
        verb("train", *(resume or recipe))
    final = runs / STAGES[-1][0]
    model = work / "models" / "man"
    if not exported_now(model):
        verb("export", "--run", final, "--out", model, "--name", "bench-man", "--overwrite")
    print(
        f"bench model ready in {model} (held-out PC {held_out_pc(final):.3f}; "
        f"{time.perf_counter() - started:.0f} s this call)",
        flush=True,
    )
    return {"model": model, "run": final, "weights": final / "fold_0" / BEST_FILE}


DRIFT_RECIPE = (
    "--backbone", "resnet18", "--weights", "none", "--image-size", "128", "--epochs", "12",
    "--lr", "2e-3", "--batch-size", "32", "--schedule", "cosine", "--precision", "fp32",
    "--no-sample-weights", "--aug-pad", "0", "--aug-rotate", "0",
)  # fmt: skip


def drift_model(work: Path) -> Path:
    """The closest network that has learned the bench set: a ResNet-18 at 128 px on the same
    split, exported (and so verified on the held-out rows) like the bench model."""
    table, run = work / "tables" / "m-split.parquet", work / "runs" / "resnet18-128"
    model = work / "models" / "drift-resnet18"
    if not run_done(run):
        split = ["--split", "official-60-40", "--final", "ensemble", "--log-every", "0"]
        verb("train", "--data", table, "--out", run, *DRIFT_RECIPE, *split, "--overwrite")
    if not exported_now(model):
        verb("export", "--run", run, "--out", model, "--name", "drift-resnet18", "--overwrite")
    print(f"drift model ready in {model} (held-out PC {held_out_pc(run):.3f})", flush=True)
    return model


def as_woman(model: Path) -> Path:
    """The same network as the `woman` route's model (the card says gender w), so the service
    loads two models, as in production."""
    from prettymeter import card as card_module

    target = model.parent / "woman"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(model / card_module.ONNX_FILE, target / card_module.ONNX_FILE)
    for extra in model.iterdir():  # engine files verified at export (an int8 model, say)
        if extra.name not in (card_module.ONNX_FILE, card_module.CARD_FILE):
            shutil.copy(extra, target / extra.name)
    card, _ = card_module.load_model_dir(model)
    card.gender, card.name = "w", "bench-woman"
    card_module.write_card(target, card)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=default_work())
    parser.add_argument("--drift", action="store_true", help="also make the ResNet-18 drift model")
    args = parser.parse_args()
    made = prepare(args.work)
    if args.drift:
        made["drift"] = drift_model(args.work)
    print(json.dumps({k: str(v) for k, v in made.items()}), file=sys.stderr)


if __name__ == "__main__":
    main()
