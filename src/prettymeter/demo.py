"""The demo models: synthetic rated photos of real faces through the real pipeline, cached.

The photos come from `data.portraits` (made-up looks painted on the portraits installed
packages ship); the detect stage finds each face with MTCNN, so the models score person crops
like a model trained on real photos, and every face of a group photo can be scored.
"""

from __future__ import annotations

import json
import multiprocessing
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from prettymeter.card import load_model_dir
from prettymeter.console import console, summary
from prettymeter.contract import MTCNN
from prettymeter.errors import PrettyMeterError
from prettymeter.hardware import usable_cores

ROUTES = {"m": "man", "w": "woman"}
DEMO_NOTES = (
    "Demo model trained on synthetic photos: made-up looks (skin warmth, lip colour, eye "
    "shadow) painted on three public-domain portraits that matplotlib and scikit-image ship. "
    "Its scores mean nothing for real people. Train a real model on your own rated photos: "
    "see docs/training.md."
)


@dataclass(frozen=True)
class DemoSettings:
    """How big the demo is: small enough to train in about a minute on two CPU cores."""

    n: int = 1500
    photo_size: int = 192  # the faces are 17-30 % of it: found by MTCNN, a crop's worth of px
    crop_size: int = 64
    backbone: str = "mobilenet_v3_small"
    epochs: int = 12
    folds: int = 3
    batch_size: int = 8
    lr: float = 2e-3
    min_voices: int = 40
    seed: int = 0
    # One thread: two OpenMP threads on two shared cores spin against each other.
    threads: int = 1
    # bf16 autocast pays off for EfficientNetV2-S at 256 px, but makes this tiny model slower
    # and less accurate (docs/training.md, "Precision on CPU").
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "fp32"
    # Flips only: the detect stage aligns every crop on its face, and the photos already vary
    # in angle and place; the default random crop and rotation left this small network from
    # scratch guessing within 12 epochs (out-of-fold PC 0.24, flips only 0.50: docs/decisions.md).
    aug_rotate: float = 0.0
    aug_pad: float = 0.0
    # The LDS and voices weights suit a real crowd's skewed rates; on the demo's even spread
    # they only added noise (out-of-fold PC 0.50 with them, 0.58 without, one gender).
    sample_weights: bool = False
    parallel: bool = True


# The test suite's demo: the same stages, a fraction of the work.
TINY = DemoSettings(n=300, epochs=2, folds=2)


def model_dirs(out: Path) -> dict[str, Path]:
    """Where `prepare_demo` puts the two models (route name → model directory)."""
    return {route: Path(out) / "models" / route for route in ROUTES.values()}


def _ready(model_dir: Path) -> bool:
    try:
        load_model_dir(model_dir)
    except PrettyMeterError:
        return False
    return True


def _run_done(run: Path) -> bool:
    from prettymeter.training.config import RUN_FILE

    path = run / RUN_FILE
    if not path.is_file():
        return False
    return bool(json.loads(path.read_text(encoding="utf-8")).get("done"))


MARKER = ".pretty-meter-demo"
# The photos' recipe, written to the photos' completion mark: another one means a rebuild.
RECIPE = "portraits-1"
GROUP_PHOTO = Path("try") / "group.jpg"


def _claim(out: Path) -> None:
    """The demo rewrites its own cache freely, so it never works in a folder it did not make."""
    if out.exists() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise PrettyMeterError(
            f"{out} is not empty and was not made by `pretty-meter demo`; choose another --out"
        )
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("made by pretty-meter demo; safe to delete\n", encoding="utf-8")


def _group_photo(out: Path) -> Path:
    """A group photo of the demo's real faces, written once: what to try `faces=all` on."""
    from prettymeter.data.portraits import group_photo, load_portraits
    from prettymeter.io import atomic_path

    path = out / GROUP_PHOTO
    if not path.is_file():
        with atomic_path(path) as tmp:
            group_photo(load_portraits()).save(tmp, format="JPEG", quality=92)
    return path


def _prepare_gender(out: Path, s: DemoSettings, gender: str, force: bool) -> None:
    """normalize → train → export for one gender (runs in its own process)."""
    from prettymeter.data.normalize import normalize
    from prettymeter.training.config import TrainConfig
    from prettymeter.training.export import export
    from prettymeter.training.loop import train

    route = ROUTES[gender]
    table = out / "tables" / f"{gender}.parquet"
    run = out / "runs" / route
    model = model_dirs(out)[route]
    if force or not table.is_file():
        normalize(
            out / "tables" / "crops.parquet", table, gender, min_voices=s.min_voices, overwrite=True
        )
    if force or not _run_done(run):
        resume = not force and (run / "config.json").is_file()
        train(
            TrainConfig(
                data=table,
                out=run,
                backbone=s.backbone,
                weights=None,
                image_size=s.crop_size,
                epochs=s.epochs,
                batch_size=s.batch_size,
                lr=s.lr,
                schedule="cosine",
                aug_jitter=0.0,
                aug_rotate=s.aug_rotate,
                aug_pad=s.aug_pad,
                sample_weights=s.sample_weights,
                threads=s.threads,
                precision=s.precision,
                log_every=0,
                folds=s.folds,
                seed=s.seed,
                device="cpu",
                resume=resume,
                overwrite=not resume,
            )
        )
    if force or not _ready(model):
        export(run, model, name=f"demo-{route}", demo=True, notes=DEMO_NOTES, overwrite=True)


def prepare_demo(
    out: Path, settings: DemoSettings | None = None, *, force: bool = False
) -> dict[str, Path]:
    """Make (or reuse) both demo models under `out`; every stage's output is cached and reused,
    so an interrupted preparation continues where it stopped."""
    from prettymeter.data.dedupe import dedupe
    from prettymeter.data.detect import detect
    from prettymeter.data.ingest import ingest
    from prettymeter.data.portraits import generate_portraits

    s = settings or DemoSettings()
    out = Path(out)
    models = model_dirs(out)
    photos_done = out / ".photos-complete"
    # a cache made by an older recipe (whole drawn photos) is rebuilt, not served
    stale = photos_done.is_file() and photos_done.read_text(encoding="utf-8").strip() != RECIPE
    if not force and not stale and all(_ready(d) for d in models.values()):
        console.print(f"demo models ready in {out / 'models'} (reused; pass --force to rebuild)")
        console.print(f"a group photo to try: {_group_photo(out)}")
        return models

    _claim(out)
    force = force or stale
    photos = out / "photos"
    tables = out / "tables"
    raw, dedup, crops = tables / "raw.parquet", tables / "dedup.parquet", tables / "crops.parquet"
    if force or not photos_done.is_file():
        if photos.exists():
            shutil.rmtree(photos)
        generate_portraits(photos, n=s.n, seed=s.seed, size=s.photo_size)
        photos_done.write_text(RECIPE + "\n", encoding="utf-8")
    if force or not raw.is_file():
        ingest(photos, raw, overwrite=True)
    if force or not dedup.is_file():
        dedupe(raw, dedup, overwrite=True)
    if force or not crops.is_file():
        detect(dedup, crops, detector=MTCNN, crop_size=s.crop_size, overwrite=True)

    # One process per gender: training uses one thread each, so two cores train both at once.
    if s.parallel and usable_cores() >= 2:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=len(ROUTES), mp_context=context) as pool:
            jobs = [pool.submit(_prepare_gender, out, s, gender, force) for gender in ROUTES]
            for job in jobs:
                job.result()
    else:
        for gender in ROUTES:
            _prepare_gender(out, s, gender, force)

    summary(
        "demo: ready",
        {
            **{f"model {route}": str(path) for route, path in models.items()},
            "what it is": "demo models trained on synthetic photos (scores mean nothing)",
            "try": f"{_group_photo(out)} on the page, with 'score everyone' on",
            "serve": f"pretty-meter serve --man {models['man']} --woman {models['woman']}",
        },
    )
    return models
