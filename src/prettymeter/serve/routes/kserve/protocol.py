"""What the V1 and V2 routes share: the router, the body, the model by name and version (their
refusals take the protocols' `{"error": "..."}` shape by path, serve/protocol_errors.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from prettymeter.serve.routes.common import body_bytes, fail, pick_model, ready_or_503, short
from prettymeter.serve.routes.kserve.schemas import MODEL_VERSION
from prettymeter.serve.state import ServedModel, ServiceState

# the V1 routes (kserve.v1), then the V2 routes (kserve.v2), in that order
router = APIRouter(tags=["kserve"])


async def read_body(request: Request, example: str) -> bytes:
    """The raw body; any content type (curl -d sends a form type), but not compressed."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        fail(415, f"Content-Encoding {short(encoding)} is not accepted; send the body uncompressed")
    body = await body_bytes(request)
    if not body.strip():
        fail(400, f"the request body is empty; send {example}")
    return body


def model_named(state: ServiceState, name: str) -> ServedModel:
    ready_or_503(state)
    return pick_model(state, None, name)


def check_version(version: str | None) -> None:
    if version is not None and version != MODEL_VERSION:
        fail(404, f"version {short(version)} is unknown; every model has version {MODEL_VERSION}")
