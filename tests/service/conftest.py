"""Fixtures for the service tests: real exported models and live services on 127.0.0.1."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from service_helpers import LiveServer, make_model_dir

from prettymeter.serve import Settings

BODY_LIMIT = 3 * 1024 * 1024


@pytest.fixture(scope="session")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two real exported model directories: {'man': ..., 'woman': ...}."""
    root = tmp_path_factory.mktemp("models")
    return {
        "man": make_model_dir(root / "man", "m", seed=1),
        "woman": make_model_dir(root / "woman", "w", seed=2),
    }


def service_settings(model_dirs: dict[str, Path], **changes: object) -> Settings:
    base: dict[str, object] = {
        "models": model_dirs,
        "engine": "onnxruntime",
        "threads": 1,
        "web_dir": None,
        "log_requests": False,
        "limits": {"max_body_bytes": BODY_LIMIT, "max_instances": 16},
    }
    base.update(changes)
    return Settings(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def service_url(model_dirs: dict[str, Path]) -> Iterator[str]:
    """The service with person detection on, both seed routes, a 3 MB body limit."""
    with LiveServer(service_settings(model_dirs)) as server:
        yield server.url
