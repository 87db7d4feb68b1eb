"""Fixtures shared by every test area (the real-face photos, the demo and test models) and
the order pytest-xdist hands the test files to its workers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.paths import DATA as DATA_DIR
from tests.support.shared import shared_folder

# The files that cost most (they train, install or drive a browser), heaviest first. pytest-xdist
# (`--dist loadfile`) hands each file whole to one worker (a file's module fixtures are made
# once), these first and the many light files into the gaps at the end. The first three build
# the session's shared runs; the learning proof and its shuffled-label control are two files so
# that their runs go to different workers. A file missing here only runs later.
HEAVY_FIRST = (
    "training/test_training_learns.py",
    "training/test_training_shuffled.py",
    "training/test_evaluate_and_predict_cli.py",
    "deploy/test_wheel.py",
    "hardening/test_hardening_kill.py",
    "e2e/test_page_e2e.py",
    "training/test_resume_and_ddp.py",
    "deploy/test_gpu_check.py",
    "hardening/test_hardening_dataset.py",
    "hardening/test_hardening_fuzz.py",
    "training/test_scut_protocol.py",
    "training/test_export_parity.py",
    "training/test_export_verification.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Heaviest files first (stable: each file's tests stay together, in their order)."""
    rank = {name: i for i, name in enumerate(HEAVY_FIRST)}

    def file_of(item: pytest.Item) -> str:
        return item.nodeid.split("::")[0].removeprefix("tests/")

    items.sort(key=lambda item: rank.get(file_of(item), len(rank)))


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
    """Both genders' demo models, prepared once per test run (all xdist workers) through the
    real pipeline (synth → ingest → dedupe → detect → normalize → train → export), tiny."""
    from prettymeter.demo import TINY, model_dirs, prepare_demo

    folder = shared_folder(tmp_path_factory, "demo-tiny", lambda f: prepare_demo(f / "demo", TINY))
    return model_dirs(folder / "demo")


@pytest.fixture(scope="session")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two small real exported model directories (random-init, calibrated; tests/support/
    models.py) shared by the service, hardening and batch tests: {'man': ..., 'woman': ...}."""
    from tests.support.models import model_dirs as make_model_dirs

    return make_model_dirs(shared_folder(tmp_path_factory, "models", make_model_dirs))
