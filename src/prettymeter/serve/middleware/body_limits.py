"""Limits on reading the request body: its size (413, `BodyLimit`) and its time (408,
`BodyTimeout`, so a client trickling bytes cannot hold a connection and a handler forever)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from prettymeter.serve.protocol_errors import send_error


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
        await send_error(scope, send, 413, self._detail(), {"connection": "close"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        if b"content-length" in headers:
            try:
                length = int(headers[b"content-length"])
            except ValueError:
                await send_error(scope, send, 400, "the Content-Length header is not a number")
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


class _SlowBodyError(Exception):
    pass


class BodyTimeout:
    """408 when the request body is not fully received within `seconds` of the request start."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    def _detail(self) -> str:
        return (
            f"the request body was not received within {self.seconds:g} s; check the "
            "connection and send it again"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.seconds <= 0:
            await self.app(scope, receive, send)
            return
        deadline = time.monotonic() + self.seconds
        body_done = False
        timed_out = False

        async def timed_receive() -> Message:
            nonlocal body_done, timed_out
            if body_done:  # after the body: waiting for a disconnect is not the client's fault
                return await receive()
            remaining = deadline - time.monotonic()
            try:
                message = await asyncio.wait_for(receive(), max(remaining, 0.001))
            except TimeoutError:
                timed_out = True
                raise _SlowBodyError from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        started = await run_until_cut(
            self.app, scope, timed_receive, send, lambda: timed_out, _SlowBodyError
        )
        if timed_out and not started:
            await send_error(scope, send, 408, self._detail(), {"connection": "close"})
