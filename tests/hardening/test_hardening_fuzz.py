"""Schemathesis against the live service's own OpenAPI: no 5xx, no answer off its schema."""

from __future__ import annotations

from fuzzing import CHECK_NAMES, fuzz
from hardening_helpers import raw_request

EXAMPLES_PER_ROUTE = 50  # ~320 cases here; bench/fuzz.py runs the full ≥1,000


def test_generated_requests_on_every_route_get_no_5xx_and_answers_that_fit_the_schema(
    hardened_url: str,
) -> None:
    report = fuzz(hardened_url, EXAMPLES_PER_ROUTE, seed=7)
    assert report.cases >= 250, report.per_route
    assert {"POST /man/predict", "POST /woman/predict", "POST /v1/rate"} <= set(report.per_route)
    assert "not_a_server_error" in CHECK_NAMES
    assert not [s for s in report.statuses if s >= 500], report.statuses
    assert report.failures == [], "\n".join(report.failures[:10])
    assert raw_request(hardened_url, "GET", "/readyz").status == 200
