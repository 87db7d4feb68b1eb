"""The bad-input corpus over a live service: each a clear 4xx (or per-photo error) in bounded
time and memory, and the next valid request still succeeds."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import time
from pathlib import Path

import pytest

from tests.support.bad_inputs import (
    BAD_PHOTOS,
    BAD_REQUESTS,
    MULTIPART,
    BadPhoto,
    BadRequest,
    multipart,
    valid_photo,
)
from tests.support.raw_http import raw_request
from tests.support.settings import BODY_TIMEOUT_S

TIME_LIMIT_S = 15.0  # generous for 2 busy cores; a bomb that gets decoded takes minutes
JSON = {"content-type": "application/json"}


def _clear_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return float(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc/self/status")


def _one_line_detail(body: bytes) -> str:
    """The one-line message of an error answer: `detail`, or on the seed routes' 422 the seed's
    own shape `{"status_code": 10422, "message": ..., "data": null}`."""
    answer = json.loads(body)
    if "detail" in answer:
        detail = answer["detail"]
    else:
        assert set(answer) == {"status_code", "message", "data"}, answer
        assert answer["status_code"] == 10422 and answer["data"] is None
        detail = answer["message"]
    assert isinstance(detail, str) and detail and "\n" not in detail and len(detail) < 400
    return detail


def _valid_request_succeeds(url: str) -> None:
    body = json.dumps({"instances": [base64.b64encode(valid_photo()).decode()], "gender": "m"})
    response = raw_request(url, "POST", "/v1/rate", body.encode(), JSON)
    assert response.status == 200, response.body[:300]
    assert response.json()["results"][0]["score"] is not None


def _fingerprint(item: BadPhoto | BadRequest) -> str:
    """What the service receives for `item`: the photo's bytes, or the whole request."""
    if isinstance(item, BadPhoto):
        return hashlib.sha256(item.build()).hexdigest()
    headers = json.dumps(sorted((k.lower(), v) for k, v in item.headers.items()))
    return hashlib.sha256(f"{item.path}|{headers}|".encode() + item.content()).hexdigest()


def test_the_corpus_holds_at_least_25_different_bad_inputs() -> None:
    """Counted by what reaches the service, not by entries: an input listed twice under two
    names, or two names that build the same bytes, count once and fail this test."""
    items = [*BAD_PHOTOS, *BAD_REQUESTS]
    fingerprints: dict[str, str] = {}
    for item in items:
        same = fingerprints.setdefault(_fingerprint(item), item.name)
        assert same == item.name, f"{item.name!r} sends the same as {same!r}"
    assert len(fingerprints) >= 25


@pytest.mark.parametrize("item", BAD_PHOTOS, ids=lambda item: item.name)
def test_a_hostile_photo_gets_a_per_photo_error_on_v1_and_a_400_on_the_seed_route(
    hardened_url: str, item: BadPhoto
) -> None:
    data = item.build()
    _clear_peak_rss()
    before = _peak_rss_mb()
    form = multipart([("files", "photo.bin", data), ("gender", None, b"m")])
    v1 = raw_request(hardened_url, "POST", "/v1/rate", form, MULTIPART)
    seed_body = json.dumps({"instances": [base64.b64encode(data).decode()]}).encode()
    seed = raw_request(hardened_url, "POST", "/man/predict", seed_body, JSON)
    grown = _peak_rss_mb() - before

    assert v1.status == 200, v1.body[:300]
    result = v1.json()["results"][0]
    assert result["score"] is None
    assert result["error"]["code"] in item.codes, result["error"]
    assert result["error"]["message"] and "\n" not in result["error"]["message"]
    if item.seed_400:
        assert seed.status == 400, seed.body[:300]
        assert "instance 0" in _one_line_detail(seed.body)
    else:  # decodable: the seed route scores the whole image, as the seed did
        assert seed.status in (200, 400), seed.body[:300]
    assert v1.seconds < TIME_LIMIT_S and seed.seconds < TIME_LIMIT_S
    assert grown < 400, f"peak memory grew {grown:.0f} MB"
    _valid_request_succeeds(hardened_url)


@pytest.mark.parametrize("item", BAD_REQUESTS, ids=lambda item: item.name)
def test_a_hostile_request_gets_a_4xx_with_one_clear_line(
    hardened_url: str, item: BadRequest
) -> None:
    _clear_peak_rss()
    before = _peak_rss_mb()
    response = raw_request(hardened_url, "POST", item.path, item.content(), item.headers)
    grown = _peak_rss_mb() - before

    assert response.status in item.statuses, (response.status, response.body[:300])
    if response.headers.get("content-type", "").startswith("application/json"):
        _one_line_detail(response.body)
    else:  # only uvicorn's own refusal of an unparsable HTTP head is plain text
        assert response.body.startswith(b"Invalid HTTP request"), response.body[:200]
    assert len(response.body) < 2000, "the answer echoes the hostile input"
    assert response.seconds < TIME_LIMIT_S
    assert grown < 400, f"peak memory grew {grown:.0f} MB"
    _valid_request_succeeds(hardened_url)


def test_a_slow_upload_gets_a_408_once_the_body_timeout_passes(hardened_url: str) -> None:
    host, port = hardened_url.removeprefix("http://").split(":")
    body = json.dumps({"instances": [base64.b64encode(valid_photo()).decode()]}).encode()
    head = (
        f"POST /man/predict HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode()
    started = time.perf_counter()
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head + body[:100])
        answer = b""
        for offset in range(100, len(body), 10):  # 10 bytes every 0.2 s: a trickle
            try:
                sock.sendall(body[offset : offset + 10])
            except (BrokenPipeError, ConnectionResetError):
                break
            sock.settimeout(0.2)
            try:
                answer = sock.recv(65536)
            except TimeoutError:
                continue
            break
        sock.settimeout(10)
        while chunk := sock.recv(65536):
            answer += chunk
    seconds = time.perf_counter() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"was not received within" in answer
    assert BODY_TIMEOUT_S <= seconds < BODY_TIMEOUT_S + 5
    _valid_request_succeeds(hardened_url)
