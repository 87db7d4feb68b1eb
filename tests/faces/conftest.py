"""Fixtures for the face detector and detect-stage tests: real photos and small tables."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from PIL import Image

from tests.support.faces import load, write_table


@pytest.fixture
def man() -> Image.Image:
    return load("man.png")


@pytest.fixture
def woman() -> Image.Image:
    return load("woman.jpg")


@pytest.fixture
def make_table(tmp_path: Path) -> Callable[..., Path]:
    def make(images: Sequence[bytes], name: str = "dedup.parquet") -> Path:
        return write_table(tmp_path / name, images)

    return make
