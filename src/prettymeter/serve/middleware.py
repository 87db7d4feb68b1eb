"""ASGI middleware: body-size limit while reading, per-client rate limit, request log + metrics."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from prettymeter.serve.metrics import Metrics

access_log = logging.getLogger("prettymeter.access")


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


class RootPath:
    """Serve under a path prefix (the seed ran under /api behind a proxy): requests may come
    with the prefix or with it stripped by the proxy; links in /docs carry it."""

    def __init__(self, app: ASGIApp, root_path: str) -> None:
        self.app = app
        self.root_path = root_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and not scope.get("root_path"):
            scope = dict(scope, root_path=self.root_path)
        await self.app(scope, receive, send)


async def run_until_cut(
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
    cut: Callable[[], bool],
    signal: type[Exception],
) -> bool:
    """Run `app` with a `receive` that cuts the request (raises `signal`, `cut()` turns true):
    from the cut on, the app's answer is dropped and its errors swallowed, so the caller can
    send its own. Returns whether the app had started an answer."""
    started = False

    async def guarded_send(message: Message) -> None:
        nonlocal started
        if cut():
            return
        if message["type"] == "http.response.start":
            started = True
        await send(message)

    try:
        await app(scope, receive, guarded_send)
    except signal:
        pass
    except Exception:
        if not cut():
            raise
    return started


class _BodyTooLargeError(Exception):
    pass


DRAIN_MAX_BYTES = 128 * 1024 * 1024  # an over-limit body up to this size is read and dropped
DRAIN_MAX_SECONDS = 60.0  # ... within this time (the body timeout when one is set)


class BodyLimit:
    """413 for a body over `max_bytes`: by Content-Length up front, else counted while read.

    A client that sends its whole body before reading the answer (urllib, requests, curl
    without `Expect`) would see "connection reset" instead of a 413 that the service sends early
    and closes on: closing a socket with unread data resets it. So the rest of the body is read
    and dropped first (a body of at most `drain_bytes`, within `drain_seconds`); only a body
    declared larger than that is refused at once. A client that asked `Expect: 100-continue`
    has sent nothing yet and gets its 413 at once.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        drain_bytes: int = DRAIN_MAX_BYTES,
        drain_seconds: float = DRAIN_MAX_SECONDS,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.drain_bytes = drain_bytes
        self.drain_seconds = drain_seconds

    def _detail(self) -> str:
        return (
            f"the request body is over the limit of {self.max_bytes:,} bytes; send fewer or "
            "smaller photos (the web page shrinks them to 512 px)"
        )

    async def _drain(self, receive: Receive, more: bool) -> None:
        """Read and drop what is left of the body, within the drain bounds."""
        deadline = time.monotonic() + self.drain_seconds
        drained = 0
        while more and drained < self.drain_bytes:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                message = await asyncio.wait_for(receive(), remaining)
            except TimeoutError:
                return
            if message["type"] != "http.request":
                return  # the client went away
            drained += len(message.get("body", b""))
            more = message.get("more_body", False)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        await send_json(scope, send, 413, self._detail(), {"connection": "close"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        if b"content-length" in headers:
            try:
                length = int(headers[b"content-length"])
            except ValueError:
                await send_json(scope, send, 400, "the Content-Length header is not a number")
                return
            if length > self.max_bytes:
                waiting = headers.get(b"expect", b"").lower() == b"100-continue"
                if not waiting and length <= self.drain_bytes:
                    await self._drain(receive, more=True)
                await self._refuse(scope, send)
                return
        received = 0
        exceeded = False
        more_body = True

        async def limited_receive() -> Message:
            nonlocal received, exceeded, more_body
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                more_body = message.get("more_body", False)
                if received > self.max_bytes:
                    exceeded = True
                    raise _BodyTooLargeError
            return message

        # whatever the app made of the cut body, the answer is 413
        started = await run_until_cut(
            self.app, scope, limited_receive, send, lambda: exceeded, _BodyTooLargeError
        )
        if exceeded and not started:
            await self._drain(receive, more_body)
            await self._refuse(scope, send)


class RateLimiter:
    """Token bucket per client address: `per_minute` requests, `burst` at once; 429 over it."""

    MAX_CLIENTS = 10_000

    def __init__(self, app: ASGIApp, per_minute: float, burst: int) -> None:
        self.app = app
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.buckets: dict[str, tuple[float, float]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.rate <= 0 or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        now = time.monotonic()
        tokens, last = self.buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1.0:
            wait = math.ceil((1.0 - tokens) / self.rate)
            self.buckets[client] = (tokens, now)
            await send_json(
                scope,
                send,
                429,
                f"too many requests from this address; wait {wait} s and try again",
                {"retry-after": str(wait)},
            )
            return
        if len(self.buckets) >= self.MAX_CLIENTS and client not in self.buckets:
            self.buckets.clear()  # bounded memory; forgetting is only ever in the client's favour
        self.buckets[client] = (tokens - 1.0, now)
        await self.app(scope, receive, send)


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


CLIENT_CLOSED = 499  # the status logged for a request whose client left first (nginx's)


class CancelOnDisconnect:
    """Stop working for a client that has gone. Once the request body is read, one watcher
    waits for the server's next message; `http.disconnect` before the answer is complete
    cancels the request (its photos leave the queue and skip the model) and logs 499. Without
    it the service scores photos nobody waits for, and they hold queue places (a client that
    sends photos and hangs up would cost the full CPU of each)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        watch: asyncio.Task[Message] | None = None
        answered = gone = False

        async def watched_receive() -> Message:
            nonlocal watch
            if watch is not None:  # one reader: the app sees what the watcher got
                return await asyncio.shield(watch)
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                watch = asyncio.ensure_future(receive())
                watch.add_done_callback(on_message)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                answered = True
            await send(message)

        task = asyncio.ensure_future(self.app(scope, watched_receive, tracked_send))

        def on_message(done: asyncio.Task[Message]) -> None:
            nonlocal gone
            if done.cancelled() or done.exception() is not None or answered:
                return
            if done.result()["type"] == "http.disconnect":
                gone = True
                task.cancel()

        try:
            await task
        except asyncio.CancelledError:
            if not gone:
                raise  # we were cancelled ourselves (shutdown): not the client's doing
            await send({"type": "http.response.start", "status": CLIENT_CLOSED, "headers": []})
            await send({"type": "http.response.body", "body": b""})
        finally:
            if watch is not None and not watch.done():
                watch.cancel()
