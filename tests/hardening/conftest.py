"""Fixtures for the hardening tests: real exported models and a live service on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.live import LiveServer
from tests.support.settings import BODY_TIMEOUT_S, service_settings


@pytest.fixture(scope="session")
def hardening_models(model_dirs: dict[str, Path]) -> dict[str, Path]:
    """The shared real exported model directories (tests/conftest.py), made once a session."""
    return model_dirs


@pytest.fixture(scope="session")
def hardened_url(hardening_models: dict[str, Path]) -> Iterator[str]:
    """The service with detection on, both seed routes, 3 MB bodies, a 2 s body timeout."""
    with LiveServer(service_settings(hardening_models, body_timeout_s=BODY_TIMEOUT_S)) as server:
        yield server.url
