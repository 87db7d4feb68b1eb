"""Error answers in each protocol's shape: which body an error takes is decided here, by path."""

from __future__ import annotations

import json

from starlette.types import Scope, Send

# the KServe V1 (TF Serving REST) and V2 paths, whose protocols answer errors as {"error": "..."}
PROTOCOL_PREFIXES = ("/v1/models/", "/v2/")


def error_key(scope: Scope) -> str:
    """The key of an error body on this path: `error` on the KServe V1/V2 paths, else `detail`."""
    path, root = scope.get("path", ""), scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return "error" if path == "/v2" or path.startswith(PROTOCOL_PREFIXES) else "detail"


async def send_json(
    scope: Scope, send: Send, status: int, detail: str, headers: dict[str, str] | None = None
) -> None:
    body = json.dumps({error_key(scope): detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
