"""Fixtures for the service tests: real exported models and live services on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.live import LiveServer
from tests.support.settings import service_settings


@pytest.fixture(scope="session")
def service_url(model_dirs: dict[str, Path]) -> Iterator[str]:
    """The service with person detection on, both original routes, a 3 MB body limit."""
    with LiveServer(service_settings(model_dirs)) as server:
        yield server.url
