"""The per-client request rate limit: a token bucket per address, 429 + Retry-After over it."""

from __future__ import annotations

import math
import time

from starlette.types import ASGIApp, Receive, Scope, Send

from prettymeter.serve.protocol_errors import send_error


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
            await send_error(
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
