"""Error answers in each protocol's shape: the one place that decides an error's body, by path.

Three families of paths, three shapes (docs/api.md, "Request-level errors"):

- the KServe V1 (TF Serving REST) and V2 paths, `/v1/models/...` and `/v2...`: `{"error": "..."}`
  for every status, as both protocols define;
- the original service's routes, `/man/predict` and `/woman/predict`: a body they cannot take
  (another content type, empty, not JSON, off the schema) is a 422 in the original service's
  shape, `{"status_code": 10422, "message": "...", "data": null}`; any other error
  `{"detail": "..."}`;
- every other path: FastAPI's `{"detail": "..."}`.

Routes raise `HTTPException` (`BodyError` for a body they cannot take) and the handlers that
`install` adds shape it; the middlewares that answer before any route runs (body size 413, rate
limit 429, body timeout 408) call `send_error`; an exception nobody handled is a 500 shaped here
too.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.utils import is_body_allowed_for_status_code
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope, Send

from prettymeter.serve.schemas import ORIGINAL_VALIDATION_CODE
from prettymeter.serve.settings import ORIGINAL_ROUTES


class Family(enum.Enum):
    """Which protocol a path speaks, so which shape its errors take."""

    KSERVE = "kserve"
    ORIGINAL = "original"
    OURS = "ours"


KSERVE_PREFIXES = ("/v1/models/", "/v2/")
ORIGINAL_PATHS = frozenset(f"/{route}/predict" for route in ORIGINAL_ROUTES)

UNHANDLED = (
    "the service failed on this request (its log says why); retry, and report it with the time "
    "of the request if it fails again"
)


class BodyError(HTTPException):
    """The body is not what a route takes: wrong content type, empty, not JSON, off the schema.
    The original routes answer all of these as a 422 in the original service's shape."""


def route_path(scope: Scope) -> str:
    """The request's path without the `root_path` prefix, whether or not a proxy stripped it."""
    path, root = scope.get("path", ""), scope.get("root_path", "")
    if root and (path == root or path.startswith(root + "/")):
        return path[len(root) :] or "/"
    return str(path)


def family(scope: Scope) -> Family:
    path = route_path(scope)
    if path == "/v2" or path.startswith(KSERVE_PREFIXES):
        return Family.KSERVE
    if path in ORIGINAL_PATHS:
        return Family.ORIGINAL
    return Family.OURS


def error_body(
    scope: Scope, status: int, detail: str, *, body_error: bool = False
) -> tuple[int, dict[str, Any]]:
    """The status and JSON body of an error answer on this request's path. `body_error`: the
    request body is not what the route takes (only the original routes treat that apart)."""
    kind = family(scope)
    if kind is Family.KSERVE:
        return status, {"error": detail}
    if kind is Family.ORIGINAL and body_error:
        return 422, {"status_code": ORIGINAL_VALIDATION_CODE, "message": detail, "data": None}
    return status, {"detail": detail}


def error_response(
    scope: Scope,
    status: int,
    detail: str,
    headers: Mapping[str, str] | None = None,
    *,
    body_error: bool = False,
) -> JSONResponse:
    status, body = error_body(scope, status, detail, body_error=body_error)
    return JSONResponse(body, status_code=status, headers=headers)


async def send_error(
    scope: Scope, send: Send, status: int, detail: str, headers: Mapping[str, str] | None = None
) -> None:
    """Send the error answer a route would give, from a middleware (before any route runs)."""
    response = error_response(scope, status, detail, headers)
    start = {"type": "http.response.start", "status": response.status_code}
    await send({**start, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})


async def validation_error(request: Request, exc: Exception) -> Response:
    """FastAPI's own check of a route's parameters failed: one line naming the first field."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"]) or "request"
    return error_response(
        request.scope, 422, f"{where}: {first['msg']}; see /docs", body_error=True
    )


async def http_error(request: Request, exc: Exception) -> Response:
    """A refusal raised by a route (`fail`, `fail_body`) or by routing (404, 405)."""
    assert isinstance(exc, StarletteHTTPException)
    if not is_body_allowed_for_status_code(exc.status_code):
        return Response(status_code=exc.status_code, headers=exc.headers)
    body_error = isinstance(exc, BodyError)
    return error_response(
        request.scope, exc.status_code, str(exc.detail), exc.headers, body_error=body_error
    )


async def unhandled_error(request: Request, exc: Exception) -> Response:
    """A bug: Starlette's error layer sends this (inside the security headers and CORS, app.py),
    then re-raises so the log has it."""
    return error_response(request.scope, 500, UNHANDLED)


def install(app: FastAPI) -> None:
    """Shape every error `app` answers: route refusals, parameter checks and unhandled ones."""
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unhandled_error)
