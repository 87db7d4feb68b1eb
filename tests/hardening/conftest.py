"""Fixtures for the hardening tests: real exported models and a live service on 127.0.0.1."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from hardening_helpers import LiveServer

from prettymeter.serve import Settings

BODY_LIMIT = 3 * 1024 * 1024
BODY_TIMEOUT_S = 2.0


@pytest.fixture(scope="session")
def hardening_models(model_dirs: dict[str, Path]) -> dict[str, Path]:
    """The shared real exported model directories (tests/conftest.py), made once a session."""
    return model_dirs


def hardened_settings(models: dict[str, Path], **changes: object) -> Settings:
    base: dict[str, object] = {
        "models": models,
        "engine": "onnxruntime",
        "threads": 1,
        "web_dir": None,
        "log_requests": False,
        "limits": {
            "max_body_bytes": BODY_LIMIT,
            "max_instances": 16,
            "body_timeout_s": BODY_TIMEOUT_S,
        },
    }
    base.update(changes)
    return Settings(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def hardened_url(hardening_models: dict[str, Path]) -> Iterator[str]:
    """The service with detection on, both seed routes, 3 MB bodies, a 2 s body timeout."""
    with LiveServer(hardened_settings(hardening_models)) as server:
        yield server.url
