"""Fixtures for the service tests: real exported models and live services on 127.0.0.1."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from service_helpers import LiveServer, make_model_dir, service_settings


@pytest.fixture(scope="session")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two real exported model directories: {'man': ..., 'woman': ...}."""
    root = tmp_path_factory.mktemp("models")
    return {
        "man": make_model_dir(root / "man", "m", seed=1),
        "woman": make_model_dir(root / "woman", "w", seed=2),
    }


@pytest.fixture(scope="session")
def service_url(model_dirs: dict[str, Path]) -> Iterator[str]:
    """The service with person detection on, both seed routes, a 3 MB body limit."""
    with LiveServer(service_settings(model_dirs)) as server:
        yield server.url
