"""A JSON body of several photos is parsed, validated and decoded in a worker thread, so the
event loop keeps answering other requests; a smaller one stays on it. Every way a client writes
base64 decodes, and anything else is that photo's error."""

from __future__ import annotations

import asyncio
import base64
import json
import threading

import pytest
from starlette.requests import Request

from prettymeter.errors import ImageError
from prettymeter.serve.routes import common
from prettymeter.serve.schemas import PredictRequest


def request_with(body: bytes) -> Request:
    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {"type": "http", "method": "POST", "headers": [(b"content-type", b"application/json")]}
    return Request(scope, receive)


@pytest.mark.parametrize("size", [1_000, 4 * common.OFF_LOOP_BYTES])
def test_a_large_body_is_parsed_and_decoded_off_the_event_loop(
    size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []
    validate, decoded = common.validate, common.decoded

    def recording_validate(*args, **kwargs):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread().name)
        return validate(*args, **kwargs)

    def recording_decoded(text: object) -> object:
        threads.append(threading.current_thread().name)
        return decoded(text)

    monkeypatch.setattr(common, "validate", recording_validate)
    monkeypatch.setattr(common, "decoded", recording_decoded)
    photo = base64.b64encode(b"x" * size).decode()
    body = json.dumps({"instances": [photo]}).encode()

    async def read() -> tuple[str, list[object]]:
        parsed = await common.read_json(request_with(body), PredictRequest)
        return threading.current_thread().name, await common.decoded_all(parsed.instances)

    loop_thread, payloads = asyncio.run(read())
    assert payloads == [b"x" * size]
    off_loop = size > common.OFF_LOOP_BYTES
    assert len(threads) == 2 and all((name != loop_thread) == off_loop for name in threads)


@pytest.mark.parametrize(
    "wrap",
    [
        lambda raw: base64.b64encode(raw).decode(),
        lambda raw: base64.encodebytes(raw).decode(),  # MIME: a newline every 76 characters
        lambda raw: "data:image/png;base64," + base64.b64encode(raw).decode(),
    ],
    ids=["plain", "line-wrapped", "data-url"],
)
def test_each_way_a_client_writes_base64_decodes_to_the_photo(wrap) -> None:  # type: ignore[no-untyped-def]
    raw = bytes(range(256)) * 300
    assert common.decoded(wrap(raw)) == raw


@pytest.mark.parametrize("text", ["aGVsbG8", "aGVs*bG8=", "é", 42])
def test_text_that_is_not_base64_is_the_photos_error(text: object) -> None:
    error = common.decoded(text)
    assert isinstance(error, ImageError) and error.code == "invalid_base64"
