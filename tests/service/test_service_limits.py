"""Limits over HTTP: body size (413, readable by blocking clients), overload (429 +
Retry-After), rate limit; each status in each protocol's shape: test_error_shapes.py."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from prettymeter.serve.middleware.body_limits import DRAIN_MAX_BYTES
from tests.support.live import LiveServer
from tests.support.photos import b64, encode, photo_bytes, synthetic_photos
from tests.support.settings import BODY_LIMIT, service_settings


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


def urllib_post(url: str, body: bytes, content_type: str) -> tuple[int, dict]:
    """POST with urllib, which sends the whole body before it reads any answer."""
    request = urllib.request.Request(url, data=body, headers={"content-type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_30_mb_body_gets_a_413_that_a_blocking_client_can_read(service_url: str) -> None:
    body = b"\xff" * (30 * 1024 * 1024)
    for path, kind in (
        ("/v1/rate", "multipart/form-data; boundary=x"),
        ("/man/predict", "application/json"),
    ):
        status, answer = urllib_post(f"{service_url}{path}", body, kind)  # not a reset
        assert status == 413, answer
        assert "over the limit" in answer["detail"]


def test_200_photos_in_one_request_get_a_413_that_a_blocking_client_can_read(
    service_url: str,
) -> None:
    photo = encode(synthetic_photos(1)[0].resize((160, 160)), "PNG")  # ~60 KB
    parts = [("files", (f"p{i}.png", photo, "image/png")) for i in range(200)]
    form = httpx.Request("POST", "http://x", files=parts, data={"gender": "m"})
    body = form.read()
    assert len(body) > BODY_LIMIT  # 200 photos: over the body limit
    status, answer = urllib_post(f"{service_url}/v1/rate", body, form.headers["content-type"])
    assert status == 413, answer
    assert "over the limit" in answer["detail"]
    # 200 small photos under the body limit: over the photo count limit, also readable
    tiny = b64(encode(synthetic_photos(1)[0].resize((16, 16)), "PNG"))
    json_body = json.dumps({"instances": [tiny] * 200}).encode()
    status, answer = urllib_post(f"{service_url}/man/predict", json_body, "application/json")
    assert status == 413, answer
    assert "200 photos in one request" in answer["detail"]


def test_a_chunked_body_over_the_limit_gets_a_413_that_http_client_can_read(
    service_url: str,
) -> None:
    parts = urlsplit(service_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    chunks = (b"A" * 65536 for _ in range(4 * BODY_LIMIT // 65536))
    try:
        connection.request(
            "POST",
            "/man/predict",
            body=chunks,
            headers={"content-type": "application/json"},
            encode_chunked=True,
        )
        response = connection.getresponse()
        assert response.status == 413
        assert "over the limit" in json.loads(response.read())["detail"]
    finally:
        connection.close()


def test_a_client_that_expects_100_continue_gets_the_413_before_sending_its_body(
    service_url: str,
) -> None:
    host, port = service_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /man/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Expect: 100-continue\r\n" + f"Content-Length: {BODY_LIMIT * 10}\r\n\r\n".encode()
        )
        reply = sock.recv(4096).decode()
    assert reply.startswith("HTTP/1.1 413")


def test_a_content_length_past_what_is_ever_read_is_refused_at_once(service_url: str) -> None:
    host, port = service_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /man/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {DRAIN_MAX_BYTES + 1}\r\n\r\n".encode()
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


LIMITED_PATHS = (
    ("/v1/rate", "detail"),
    ("/v2/models/man/infer", "error"),
    ("/v1/models/man:predict", "error"),
)


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
        assert set(answers[2].json()) == {"detail"}
        # every protocol family in its shape: {"error": "..."} on the KServe V1/V2 paths
        for path, key in LIMITED_PATHS:
            limited = httpx.post(f"{server.url}{path}", json={})
            assert limited.status_code == 429 and "retry-after" in limited.headers
            assert set(limited.json()) == {key} and "wait" in limited.json()[key]
        assert httpx.get(f"{server.url}/healthz").status_code == 200  # GETs are not limited
