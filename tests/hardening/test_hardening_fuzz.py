"""Schemathesis against the live service's own OpenAPI: no 5xx, no answer off its schema."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support.fuzzing import fuzz
from tests.support.live import free_port
from tests.support.raw_http import raw_request

EXAMPLES_PER_ROUTE = 50  # ~320 cases here; bench/fuzz.py runs the full ≥1,000


@contextmanager
def broken_service() -> Iterator[str]:
    """A tiny live API that breaks its own schema: one route crashes, one answers off it."""
    import uvicorn
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel

    class Score(BaseModel):
        score: float

    app = FastAPI()

    @app.get("/crash", response_model=Score)
    async def crash() -> Score:
        raise RuntimeError("a bug")

    @app.get("/off-schema", response_model=Score)
    async def off_schema() -> JSONResponse:
        return JSONResponse({"points": "many"})

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_the_fuzz_run_reports_a_server_error_and_an_answer_off_the_schema() -> None:
    """The checks below mean something only if this harness catches what they look for."""
    with broken_service() as url:
        report = fuzz(url, examples_per_route=2, seed=7)
    assert report.statuses.get(500, 0) >= 1, report.statuses
    assert any(f.startswith("GET /crash → 500") for f in report.failures), report.failures
    assert any(f.startswith("GET /off-schema → 200") for f in report.failures), report.failures


def test_generated_requests_on_every_route_get_no_5xx_and_answers_that_fit_the_schema(
    hardened_url: str,
) -> None:
    report = fuzz(hardened_url, EXAMPLES_PER_ROUTE, seed=7)
    assert report.cases >= 250, report.per_route
    assert {"POST /man/predict", "POST /woman/predict", "POST /v1/rate"} <= set(report.per_route)
    assert not [s for s in report.statuses if s >= 500], report.statuses
    assert report.failures == [], "\n".join(report.failures[:10])
    assert raw_request(hardened_url, "GET", "/readyz").status == 200
