"""Per-client abuse limits beyond the request rate: a slow upload (slowloris) gets 408 in time.

The per-address request rate limit itself is `middleware.RateLimiter` (token bucket, off by
default, `rate_limit.*` settings). This module bounds how long one client may take to send its
body, so a client trickling bytes cannot hold a connection and a handler forever.
"""

from __future__ import annotations

import asyncio
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from prettymeter.serve.middleware import run_until_cut, send_json


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
            await send_json(scope, send, 408, self._detail(), {"connection": "close"})
