"""Training-test fixtures: a normalized table made by the real stages, and one trained run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.training import CROP, LEARNING, SYNTH_PHOTOS, fast_config


@pytest.fixture(scope="session")
def synth_table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """synth → ingest → dedupe → detect (none, 64 px) → normalize (m): the real stages."""
    from prettymeter.data.dedupe import dedupe
    from prettymeter.data.detect import detect
    from prettymeter.data.ingest import ingest
    from prettymeter.data.normalize import normalize
    from prettymeter.data.synth import generate

    root = tmp_path_factory.mktemp("train_data")
    generate(root / "photos", SYNTH_PHOTOS, seed=1, size=CROP)
    ingest(root / "photos", root / "raw.parquet")
    dedupe(root / "raw.parquet", root / "dedup.parquet")
    detect(root / "dedup.parquet", root / "crops.parquet", detector="none", crop_size=CROP)
    normalize(root / "crops.parquet", root / "m.parquet", "m", plots=False)
    return root / "m.parquet"


@pytest.fixture(scope="session")
def trained_run(synth_table: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One finished k-fold run on the synthetic table, shared by the tests that read a run."""
    from prettymeter.training.loop import train

    return train(fast_config(synth_table, tmp_path_factory.mktemp("runs") / "run"))


@pytest.fixture(scope="session")
def learning_run(synth_table: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A k-fold run with the learning recipe (ResNet-18), for the out-of-fold PC proof."""
    from prettymeter.training.loop import train

    out = tmp_path_factory.mktemp("runs") / "learning"
    return train(fast_config(synth_table, out, **LEARNING))


@pytest.fixture(scope="session")
def exported_model(trained_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from prettymeter.training.export import export

    return export(trained_run, tmp_path_factory.mktemp("models") / "man")
