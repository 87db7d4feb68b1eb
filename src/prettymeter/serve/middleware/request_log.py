"""One JSON access-log line and the request metrics per request (never the body)."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from prettymeter.serve.metrics import Metrics

access_log = logging.getLogger("prettymeter.access")


class RequestLog:
    """One JSON log line and the metrics per request; never the body."""

    def __init__(self, app: ASGIApp, metrics: Metrics, log_requests: bool) -> None:
        self.app = app
        self.metrics = metrics
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        scope.setdefault("state", {})

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            seconds = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or (
                "static" if scope["method"] == "GET" else "unmatched"
            )
            self.metrics.requests.labels(template, str(status)).inc()
            self.metrics.latency.labels(template).observe(seconds)
            if self.log_requests:
                state: dict[str, Any] = scope["state"]
                line = {
                    "event": "request",
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "ms": round(seconds * 1000, 1),
                    **{k: v for k, v in state.items() if k in ("model", "images", "errors")},
                }
                access_log.info(json.dumps(line, separators=(",", ":")))
