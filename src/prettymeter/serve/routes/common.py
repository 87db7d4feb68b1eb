"""What every scoring route does: read the body, pick the model, admit, score with a timeout."""

from __future__ import annotations

import asyncio
import binascii
from typing import Any, NoReturn

import pybase64
import pydantic_core
from fastapi import HTTPException, Request
from pydantic import BaseModel, ValidationError

from prettymeter.errors import ImageError
from prettymeter.inference import Rating
from prettymeter.serve.protocol_errors import BodyError
from prettymeter.serve.state import ServedModel, ServiceState

RETRY_AFTER_S = "1"
# A JSON body larger than this is parsed, validated and base64-decoded in a worker thread, so
# that a request of several photos does not hold the event loop (and /healthz) for long. Below
# it (one PNG's base64 is most of a megabyte) the work is a fraction of a millisecond
# (pydantic-core's JSON parser, pybase64's SIMD decoder), less than the hop to a thread costs
# the event loop.
OFF_LOOP_BYTES = 1024 * 1024


def service(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


def fail(status: int, detail: str, headers: dict[str, str] | None = None) -> NoReturn:
    raise HTTPException(status_code=status, detail=detail, headers=headers)


def fail_body(status: int, detail: str) -> NoReturn:
    raise BodyError(status_code=status, detail=detail)


def json_body_schema(model: type[BaseModel], multipart: dict[str, Any] | None = None) -> dict:
    """openapi_extra for a handler that reads its body itself (so /docs still shows it), nested
    models inlined (a `#/$defs/...` reference would not resolve inside the OpenAPI document)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(defs[node["$ref"].rsplit("/", 1)[1]])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(value) for value in node]
        return node

    content: dict[str, Any] = {"application/json": {"schema": inline(schema)}}
    if multipart is not None:
        content["multipart/form-data"] = {"schema": multipart}
    return {"requestBody": {"required": True, "content": content}}


def content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def body_bytes(request: Request) -> bytes:
    """The request's body, read once and not kept by the request (Starlette's `body()` keeps
    it): a photo waiting for the model should not also hold its upload."""
    return b"".join([chunk async for chunk in request.stream()])


async def read_json(request: Request, model: type[BaseModel]) -> Any:
    """The body as `model`: 415 for another content type, 400 for bad JSON, 422 for the schema.
    No content type at all is taken as JSON (the original service's own client sends none)."""
    kind = content_type(request)
    if kind and kind != "application/json" and not kind.endswith("+json"):
        fail_body(415, f"content type {kind!r} is not accepted here; send application/json")
    body = await body_bytes(request)
    if not body:
        fail_body(400, 'the request body is empty; send JSON like {"instances": ["<base64>"]}')
    if len(body) > OFF_LOOP_BYTES:
        return await asyncio.to_thread(_parsed, model, body)
    return _parsed(model, body)


def _parsed(model: type[BaseModel], body: bytes) -> Any:
    return validate(model, parse_json(body, '{"instances": ["<base64 image>", ...]}'))


def parse_json(body: bytes, example: str) -> Any:
    """The body's JSON, or 400 saying to send something like `example`."""
    try:
        # pydantic-core's parser: an order of magnitude faster than `json` on a photo's long
        # string, and the GIL it holds is time every other thread waits. It refuses nesting
        # deeper than 200 and lone surrogates, which no photo request has.
        return pydantic_core.from_json(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: [[[[…]]]]
        fail_body(400, f"the body is not valid JSON; send {example}")


def validate(model: type[BaseModel], raw: Any, status: int = 422) -> Any:
    """`raw` as `model`, or `status` naming the first field that is off."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        fail_body(status, f"{where}: {first['msg']}; see /docs for the request schema")


def decode_base64(text: object) -> bytes:
    """A base64 instance (optionally a data: URL) → bytes, or ImageError('invalid_base64')."""
    if not isinstance(text, str):
        raise ImageError("invalid_base64", "an instance is not a string; send base64 text")
    if text.startswith("data:") and "," in text[:200]:
        text = text.split(",", 1)[1]
    try:
        # pybase64's SIMD decoder: binascii holds the GIL ~60× longer on a PNG's megabyte.
        return pybase64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        pass
    try:  # line-wrapped base64 (MIME, `base64` without -w0)
        return pybase64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImageError(
            "invalid_base64", "an instance is not valid base64; encode the image file with base64"
        ) from exc


def decoded(text: object) -> bytes | ImageError:
    """A base64 instance's bytes, or its error: one bad photo does not fail the others."""
    try:
        return decode_base64(text)
    except ImageError as exc:
        return exc


async def decoded_all(texts: list[Any]) -> list[bytes | ImageError]:
    """Each base64 instance's bytes or its error, in order; off the event loop when large."""
    if sum(len(t) for t in texts if isinstance(t, str)) > OFF_LOOP_BYTES:
        return await asyncio.to_thread(lambda: [decoded(t) for t in texts])
    return [decoded(t) for t in texts]


def check_count(state: ServiceState, count: int, what: str) -> None:
    if count == 0:
        fail(400, f"no photos in the request; send at least one in {what}")
    limit = state.settings.limits.max_instances
    if count > limit:
        fail(413, f"{count} photos in one request, the limit is {limit}; send them in parts")


def ready_or_503(state: ServiceState) -> None:
    if not state.ready:
        fail(503, "the service is starting or stopping; retry shortly", {"Retry-After": "5"})


def short(value: object, limit: int = 60) -> str:
    """A client's value quoted for a message, cut so an answer never echoes a huge input."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def pick_model(state: ServiceState, gender: str | None, name: str | None) -> ServedModel:
    if gender is None and name is None:
        fail(400, "say which model to use: gender 'm' or 'w', or model '<name>'")
    if gender is not None and gender not in ("m", "w"):
        fail(404, f"gender {short(gender)} is unknown; use 'm' or 'w'")
    model = state.find_model(gender=gender, name=name)
    if model is None:
        loaded = ", ".join(f"{r} ({m.card.name}, {m.card.gender})" for r, m in state.models.items())
        wanted = f"model {short(name)}" if name is not None else f"gender {short(gender)}"
        fail(404, f"no {wanted} is loaded; loaded: {loaded or 'none'}")
    return model


async def score(
    request: Request,
    model: ServedModel,
    payloads: list[bytes | ImageError],
    strict: bool,
    faces: str = "one",
    explain: bool = False,
) -> list[Rating]:
    """Admit the photos (429 at once when full), then rate them within the time limit (504);
    the error codes of the photos left without a score go to the request log."""
    state = service(request)
    request.state.model = model.route
    request.state.images = len(payloads)
    if not state.admit(len(payloads)):
        state.metrics.rejected.labels("queue_full").inc()
        fail(
            429,
            "the service is busy (its queue is full); retry in a second",
            {"Retry-After": RETRY_AFTER_S},
        )
    timeout = state.settings.limits.request_timeout_s
    admitted = len(payloads)
    try:
        ratings = await asyncio.wait_for(
            state.score(model, payloads, strict, faces, explain), timeout
        )
    except TimeoutError:
        state.metrics.rejected.labels("timeout").inc()
        fail(504, f"scoring took longer than {timeout:g} s; retry later or send fewer photos")
    finally:
        state.release(admitted)
    errors = [r.error for r in ratings if r.error is not None and r.score is None]
    if errors:
        request.state.errors = errors
    return ratings
