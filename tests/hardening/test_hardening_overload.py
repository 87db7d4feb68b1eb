"""Overload sheds with 429 + Retry-After (no 5xx, no timeouts); the rate limit is per address."""

from __future__ import annotations

import asyncio
from pathlib import Path

from prettymeter.serve import Settings
from tests.support.live import LiveServer
from tests.support.load import closed_loop
from tests.support.photos import seed_body
from tests.support.raw_http import raw_request
from tests.support.settings import BODY_TIMEOUT_S, service_settings

QUEUE = 8


def test_twice_as_many_clients_as_the_queue_holds_are_shed_with_retry_after_and_no_5xx(
    hardening_models: dict[str, Path],
) -> None:
    settings = service_settings(
        {"man": hardening_models["man"]},
        limits={"max_instances": QUEUE},
        batching={"queue_size": QUEUE, "max_batch_size": 4},
    )
    with LiveServer(settings) as server:
        report = asyncio.run(closed_loop(server.url, 2 * QUEUE, 6.0, seed_body(1), timeout=30))
    assert report.errors == {}, report.errors  # no timeouts, no resets
    assert set(report.statuses) <= {200, 429}, report.statuses
    assert report.ok > 0 and report.shed > 0, report.statuses
    assert report.shed_without_retry_after == 0


def _post_from(url: str, source: str) -> int:
    """POST /man/predict from the local address `source` (127.0.0.x all reach the server)."""
    headers = {"content-type": "application/json"}
    return raw_request(url, "POST", "/man/predict", b"{}", headers, source=source).status


def test_the_rate_limit_is_off_by_default_and_counts_each_client_address_apart(
    hardening_models: dict[str, Path],
) -> None:
    assert Settings().rate_limit.requests_per_minute == 0
    settings = service_settings(
        {"man": hardening_models["man"]},
        body_timeout_s=BODY_TIMEOUT_S,
        rate_limit={"requests_per_minute": 6, "burst": 3},
    )
    with LiveServer(settings) as server:
        first = [_post_from(server.url, "127.0.0.2") for _ in range(5)]
        other = [_post_from(server.url, "127.0.0.3") for _ in range(3)]
    assert first[:3] == [422] * 3 and first[3:] == [429, 429]  # over its burst
    assert other == [422] * 3  # another address still has its own burst
