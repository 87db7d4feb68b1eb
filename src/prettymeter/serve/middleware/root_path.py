"""The path prefix the service answers under (`root_path`), with or without a proxy stripping it."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class RootPath:
    """Serve under a path prefix (the original service ran under /api behind a proxy): requests
    may come with the prefix or with it stripped by the proxy; links in /docs carry it."""

    def __init__(self, app: ASGIApp, root_path: str) -> None:
        self.app = app
        self.root_path = root_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and not scope.get("root_path"):
            scope = dict(scope, root_path=self.root_path)
        await self.app(scope, receive, send)
