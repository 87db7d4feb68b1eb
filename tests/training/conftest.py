"""Training-test fixtures: a normalized table made by the real stages, and one trained run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.shared import shared_folder
from tests.support.training import CROP, LEARNING, SYNTH_PHOTOS, fast_config


@pytest.fixture(scope="session")
def synth_table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """synth → ingest → dedupe → detect (none, 64 px) → normalize (m): the real stages.

    Dedupe merges only exact copies: near copies stay rows of their own in their duplicate's
    group, so the table has groups of several rows and the fold tests can catch a leak."""
    from prettymeter.data.dedupe import dedupe
    from prettymeter.data.detect import detect
    from prettymeter.data.ingest import ingest
    from prettymeter.data.normalize import normalize
    from prettymeter.data.synth import generate

    def build(root: Path) -> None:
        generate(root / "photos", SYNTH_PHOTOS, seed=1, size=CROP)
        ingest(root / "photos", root / "raw.parquet")
        dedupe(root / "raw.parquet", root / "dedup.parquet", merge="exact")
        detect(root / "dedup.parquet", root / "crops.parquet", detector="none", crop_size=CROP)
        normalize(root / "crops.parquet", root / "m.parquet", "m", plots=False)

    root = shared_folder(tmp_path_factory, "train-data", build)
    return root / "m.parquet"


@pytest.fixture(scope="session")
def trained_run(synth_table: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One finished k-fold run on the synthetic table, shared by the tests that read a run."""
    from prettymeter.training.loop import train

    folder = shared_folder(
        tmp_path_factory, "trained-run", lambda f: train(fast_config(synth_table, f / "run"))
    )
    return folder / "run"


@pytest.fixture(scope="session")
def learning_run(synth_table: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A k-fold run with the learning recipe (ResNet-18), for the out-of-fold PC proof."""
    from prettymeter.training.loop import train

    folder = shared_folder(
        tmp_path_factory,
        "learning-run",
        lambda f: train(fast_config(synth_table, f / "learning", **LEARNING)),
    )
    return folder / "learning"


@pytest.fixture(scope="session")
def exported_model(trained_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from prettymeter.training.export import export

    folder = shared_folder(tmp_path_factory, "exported", lambda f: export(trained_run, f / "man"))
    return folder / "man"


@pytest.fixture(scope="session")
def refit_model(synth_table: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small run with the default final (one network refitted on every row; 32 px, 2 epochs,
    2 folds) in FOLDER/run, exported without the engine verification to FOLDER/model."""
    from prettymeter.training.config import TrainConfig
    from prettymeter.training.export import export
    from prettymeter.training.loop import train

    def build(folder: Path) -> None:
        config = fast_config(synth_table, folder / "run", image_size=32, epochs=2, folds=2)
        config.final = TrainConfig.model_fields["final"].default
        export(train(config), folder / "model", verify=False)

    return shared_folder(tmp_path_factory, "refit-run", build)
