"""A client that hangs up stops the work for it: its photos leave the queue, the log says 499."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import httpx

from tests.support.live import LiveServer
from tests.support.models import whole_photo_model
from tests.support.photos import b64, encode, fixture_variants
from tests.support.settings import service_settings

CLIENTS = 6
MODEL_SECONDS = 0.4  # each model call, so the queue is still full when the clients leave


def send_and_hang_up(port: int, body: bytes, sent: threading.Barrier) -> socket.socket:
    """POST a whole request on a raw socket and return it unread (the caller closes it)."""
    conn = socket.create_connection(("127.0.0.1", port), timeout=10)
    head = (
        f"POST /man/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    conn.sendall(head + body)
    sent.wait()
    return conn


def test_photos_of_a_client_that_hung_up_are_not_scored(
    model_dirs: dict[str, Path], tmp_path: Path
) -> None:
    model = whole_photo_model(model_dirs["man"], tmp_path / "man")
    batching = {"max_batch_size": 1, "max_wait_ms": 0, "queue_size": 64}
    settings = service_settings({"man": model}, detect=False, batching=batching)
    body = json.dumps({"instances": [b64(encode(fixture_variants()[0], "PNG"))]}).encode()
    calls: list[int] = []
    first_call = threading.Event()
    with LiveServer(settings) as server:
        scorer = server.app.state.service.models["man"].scorer
        real_run = scorer.run

        def slow_run(batch):  # type: ignore[no-untyped-def]
            first_call.set()
            time.sleep(MODEL_SECONDS)
            calls.append(len(batch))
            return real_run(batch)

        scorer.run = slow_run  # a spy: the real model still answers
        sent = threading.Barrier(CLIENTS + 1)
        conns: list[socket.socket] = []
        senders = [
            threading.Thread(target=lambda: conns.append(send_and_hang_up(server.port, body, sent)))
            for _ in range(CLIENTS)
        ]
        for sender in senders:
            sender.start()
        sent.wait()
        assert first_call.wait(10), "no photo reached the model"
        for conn in conns:
            conn.close()  # every client leaves while the first photo is in the model
        time.sleep(CLIENTS * MODEL_SECONDS + 1)  # what scoring them all would have taken
        # the service still answers the next client normally
        answer = httpx.post(f"{server.url}/man/predict", content=body, timeout=30)
        metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
    assert answer.status_code == 200, answer.text
    assert len(calls) <= 3, f"{len(calls) - 1} photos of gone clients were scored: {calls}"
    closed = [
        line
        for line in metrics.splitlines()
        if line.startswith("prettymeter_requests_total") and 'status="499"' in line
    ]
    assert closed and float(closed[0].split()[-1]) >= CLIENTS - 2, closed
