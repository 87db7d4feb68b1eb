"""Fixtures for the service tests: real exported models and live services on 127.0.0.1."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from service_helpers import LiveServer, service_settings


@pytest.fixture(scope="session")
def service_url(model_dirs: dict[str, Path]) -> Iterator[str]:
    """The service with person detection on, both seed routes, a 3 MB body limit."""
    with LiveServer(service_settings(model_dirs)) as server:
        yield server.url
