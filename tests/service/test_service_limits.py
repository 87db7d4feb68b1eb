"""Limits over HTTP: body size (413), overload (429 + Retry-After), timeouts (504), rate limit."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
from service_helpers import BODY_LIMIT, LiveServer, b64, photo_bytes, service_settings


def test_a_body_over_the_limit_is_a_413_by_content_length(service_url: str) -> None:
    big = b"\xff" * (BODY_LIMIT + 1)
    answer = httpx.post(
        f"{service_url}/v1/rate", files={"files": ("big.jpg", big)}, data={"gender": "m"}
    )
    assert answer.status_code == 413
    assert "limit" in answer.json()["detail"]


def test_a_body_over_the_limit_is_a_413_even_without_content_length(service_url: str) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"instances": ["'
        for _ in range(BODY_LIMIT // 65536 + 2):
            yield b"A" * 65536
        yield b'"]}'

    answer = httpx.post(
        f"{service_url}/man/predict",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert answer.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in answer.request.headers
    assert answer.status_code == 413
    # the service is not hurt: the next request is answered
    ok = httpx.post(f"{service_url}/man/predict", json={"instances": [b64(photo_bytes("man.png"))]})
    assert ok.status_code == 200


def test_a_lying_content_length_is_refused_without_reading_the_body(service_url: str) -> None:
    host, port = service_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /man/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {BODY_LIMIT * 10}\r\n\r\n".encode()
        )
        reply = sock.recv(4096).decode()
    assert reply.startswith("HTTP/1.1 413")


def test_a_full_queue_answers_429_with_retry_after_at_once(model_dirs: dict[str, Path]) -> None:
    settings = service_settings(
        model_dirs,
        limits={"max_instances": 1, "max_body_bytes": BODY_LIMIT},
        batching={"queue_size": 1, "max_batch_size": 1, "max_wait_ms": 0},
        prep_workers=1,
    )
    body = {"instances": [b64(photo_bytes("woman.jpg"))]}
    statuses: list[int] = []
    retry_after: list[str | None] = []
    lock = threading.Lock()
    with LiveServer(settings) as server:

        def client() -> None:
            with httpx.Client(timeout=60) as http:
                for _ in range(3):
                    answer = http.post(f"{server.url}/man/predict", json=body)
                    with lock:
                        statuses.append(answer.status_code)
                        retry_after.append(answer.headers.get("retry-after"))

        threads = [threading.Thread(target=client) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        after = httpx.post(f"{server.url}/man/predict", json=body, timeout=60)
        metrics = httpx.get(f"{server.url}/metrics").text
    assert set(statuses) <= {200, 429}
    assert statuses.count(429) >= 1 and statuses.count(200) >= 1
    assert all(r == "1" for s, r in zip(statuses, retry_after, strict=True) if s == 429)
    assert after.status_code == 200  # overload passed, the service answers again
    assert 'prettymeter_rejected_total{reason="queue_full"}' in metrics


def test_a_request_over_the_time_limit_is_a_504(model_dirs: dict[str, Path]) -> None:
    settings = service_settings(model_dirs, limits={"request_timeout_s": 0.001})
    with LiveServer(settings) as server:
        body = {"instances": [b64(photo_bytes("man.png"))] * 4}
        answer = httpx.post(f"{server.url}/man/predict", json=body, timeout=60)
        assert answer.status_code == 504
        assert "longer than" in answer.json()["detail"]
        assert httpx.get(f"{server.url}/readyz").status_code == 200


def test_the_per_client_rate_limit_answers_429_with_retry_after(
    model_dirs: dict[str, Path],
) -> None:
    settings = service_settings(
        {"man": model_dirs["man"]}, rate_limit={"requests_per_minute": 6, "burst": 2}
    )
    with LiveServer(settings) as server:
        body = {"instances": [b64(photo_bytes("man.png"))]}
        answers = [httpx.post(f"{server.url}/man/predict", json=body) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert int(answers[2].headers["retry-after"]) >= 1
        assert httpx.get(f"{server.url}/healthz").status_code == 200  # GETs are not limited
