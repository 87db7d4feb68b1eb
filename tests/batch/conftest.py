"""Fixtures for the batch scoring tests: a folder of photos with broken files, a loaded Rater."""

from __future__ import annotations

from pathlib import Path

import pytest

from prettymeter.rating_model import Rater
from tests.support import collection


@pytest.fixture(scope="session")
def photo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~35 photos in sub-folders: real faces and their variants (scored), drawn faces, two
    people side by side, broken files (tests/support/collection.py: BROKEN); plus files `rate`
    must not pick up."""
    return collection.photo_folder(tmp_path_factory.mktemp("collection") / "photos")


@pytest.fixture(scope="session")
def model_dir(model_dirs: dict[str, Path]) -> Path:
    """A small exported model trained on person crops (detector mtcnn, crop 96, input 64)."""
    return model_dirs["man"]


@pytest.fixture(scope="session")
def rater(model_dir: Path) -> Rater:
    return Rater(model_dir, engine="onnxruntime")
