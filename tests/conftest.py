"""Fixtures shared by every test area: the real-face photos and the demo models."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.paths import DATA as DATA_DIR


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA_DIR


@pytest.fixture(scope="session")
def man_png() -> Path:
    return DATA_DIR / "man.png"


@pytest.fixture(scope="session")
def woman_jpg() -> Path:
    return DATA_DIR / "woman.jpg"


@pytest.fixture(scope="session")
def demo_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Both genders' demo models, prepared once per test session through the real pipeline
    (synth → ingest → dedupe → detect → normalize → train → export) with tiny settings."""
    from prettymeter.demo import TINY, prepare_demo

    out = tmp_path_factory.mktemp("demo")
    return prepare_demo(out, TINY)


@pytest.fixture(scope="session")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two small real exported model directories (random-init, calibrated; tests/support/
    models.py) shared by the service, hardening and batch tests: {'man': ..., 'woman': ...}."""
    from tests.support.models import model_dirs as make_model_dirs

    return make_model_dirs(tmp_path_factory.mktemp("models"))
