"""A photo waiting for the model holds its model input (as uint8 pixels), not its upload: the
request body, the base64 text and the encoded photo are let go once the photo is decoded, on the
original route and the KServe V1 and V2 ones. Under load most photos wait in the queue, so
what each one holds there is what the service's memory grows by."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pytest

from prettymeter.serve.state import ServiceState
from tests.support.live import LiveServer
from tests.support.settings import service_settings

WAITING = 6


def _wait_for(condition: Callable[[], bool], what: str, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _body(route: str, photo: str) -> bytes:
    if route.startswith("/v2/"):
        tensor = {"name": "photo", "shape": [1], "datatype": "BYTES", "data": [photo]}
        return json.dumps({"inputs": [tensor]}).encode()
    return json.dumps({"instances": [photo]}).encode()


@pytest.mark.parametrize(
    "route", ["/man/predict", "/v1/models/man:predict", "/v2/models/man/infer"]
)
def test_a_photo_waiting_for_the_model_holds_far_less_than_its_upload(
    route: str, model_dirs: dict[str, Path], man_png: Path
) -> None:
    upload = man_png.read_bytes()  # a 585-KB PNG: 780 KB of base64 in the body
    body = _body(route, base64.b64encode(upload).decode())
    with LiveServer(service_settings(model_dirs, detect=False)) as server:
        state: ServiceState = server.app.state.service
        assert state.inference_pool is not None
        # The one inference thread is held busy: every photo stops at the model's door.
        gate = threading.Event()
        state.inference_pool.submit(gate.wait)
        batcher = state.models["man"].batcher

        async def send(count: int) -> list[int]:
            async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
                sent = [
                    client.post(route, content=body, headers={"content-type": "application/json"})
                    for _ in range(count)
                ]
                return [answer.status_code for answer in await asyncio.gather(*sent)]

        answers: list[list[int]] = []

        def client(count: int) -> threading.Thread:
            thread = threading.Thread(target=lambda: answers.append(asyncio.run(send(count))))
            thread.start()
            return thread

        # One photo first: its batch waits for the inference thread, so the next ones queue.
        clients = [client(1)]
        try:
            _wait_for(
                lambda: state.in_flight == 1 and batcher.depth == 0, "the first photo's batch"
            )
            time.sleep(0.2)
            tracemalloc.start()
            before = tracemalloc.get_traced_memory()[0]
            clients.append(client(WAITING))
            _wait_for(lambda: batcher.depth == WAITING, "the photos to reach the queue")
            time.sleep(0.2)  # anything a request lets go of has gone by now
            held = (tracemalloc.get_traced_memory()[0] - before) / WAITING
            waiting = [item.array.dtype for item in batcher._queue._queue]  # type: ignore[attr-defined]
        finally:
            tracemalloc.stop()
            gate.set()  # the model runs again, also when a wait above failed
            for thread in clients:
                thread.join(timeout=60)
    assert sorted(answers) == [[200], [200] * WAITING]
    # Each holding its body (780 KB), its base64 text (780 KB) and its PNG (585 KB) came to
    # 2.3 MB, the PNG alone to 0.7 MB; its model input and the request's state to ~0.08 MB.
    assert held < 0.5 * len(upload), f"{held / 1e3:.0f} KB per waiting photo"
    # …and that input waits as its uint8 pixels, a quarter of the float32 the model takes.
    assert waiting == [np.dtype(np.uint8)] * WAITING, waiting
