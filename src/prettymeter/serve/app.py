"""The app factory: settings → FastAPI app (models load in the lifespan, nothing at import)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware import Middleware
from starlette.types import ASGIApp

from prettymeter import __version__
from prettymeter.serve import protocol_errors, security_headers
from prettymeter.serve.middleware.body_limits import DRAIN_MAX_SECONDS, BodyLimit, BodyTimeout
from prettymeter.serve.middleware.disconnect import CancelOnDisconnect
from prettymeter.serve.middleware.rate_limit import RateLimiter
from prettymeter.serve.middleware.request_log import RequestLog
from prettymeter.serve.middleware.root_path import RootPath
from prettymeter.serve.routes import health, kserve, original, v1, web
from prettymeter.serve.routes.kserve.tensors import HEADER_LENGTH
from prettymeter.serve.settings import Settings
from prettymeter.serve.state import ServiceState

log = logging.getLogger("prettymeter.serve")

DESCRIPTION = (
    "Rates how good a person looks on a photo, 0-10. The original service's API (`/man/predict`, "
    "`/woman/predict`) is kept exactly; `/v1/rate` answers per photo with the person box, the "
    "rate on the dataset's scale, the percentile and per-photo errors."
)


class ServiceApp(FastAPI):
    """FastAPI with `outer_middleware` around Starlette's own error layer, the one that answers
    an exception nobody handled with a 500: the layers every answer needs (the path prefix, CORS,
    the security headers) wrap that 500 too. `add_middleware` layers sit inside it."""

    def __init__(self, **kwargs: Any) -> None:
        self.outer_middleware: list[Middleware] = []  # outermost first
        super().__init__(**kwargs)

    def build_middleware_stack(self) -> ASGIApp:
        app = super().build_middleware_stack()
        for cls, args, kwargs in reversed(self.outer_middleware):
            app = cls(app, *args, **kwargs)
        return app


def add_layers(app: ServiceApp, settings: Settings, state: ServiceState) -> None:
    """The middleware, outermost first: path prefix, security headers, CORS (so a 413, 429 or
    500 reaches a page elsewhere), then Starlette's 500, the request log, disconnects, the rate
    limit and the body limits."""
    outer = app.outer_middleware
    if settings.root_path:
        outer.append(Middleware(RootPath, root_path=settings.root_path))
    page_config = security_headers.read_page_config(settings.web_dir)
    policy = security_headers.render(
        security_headers.page_policy(settings.csp_connect_src, page_config)
    )
    outer.append(Middleware(security_headers.SecurityHeaders, content_security_policy=policy))
    if settings.cors_origins:
        cors = Middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            # any request header: a V2 binary request's Inference-Header-Content-Length too
            allow_headers=["*"],
            # Inference-Header-Content-Length: where a V2 binary answer's JSON header ends
            expose_headers=["Retry-After", HEADER_LENGTH],
        )
        outer.append(cors)
    # add_middleware puts each layer outside the ones added before it
    limits = settings.limits
    app.add_middleware(BodyTimeout, seconds=limits.body_timeout_s)
    drain_seconds = limits.body_timeout_s or DRAIN_MAX_SECONDS
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes, drain_seconds=drain_seconds)
    if settings.rate_limit.requests_per_minute > 0:
        limit = settings.rate_limit
        app.add_middleware(RateLimiter, per_minute=limit.requests_per_minute, burst=limit.burst)
    app.add_middleware(CancelOnDisconnect)  # inside the log: it records the 499
    app.add_middleware(RequestLog, metrics=state.metrics, log_requests=settings.log_requests)


def create_app(settings: Settings) -> ServiceApp:
    """Build the service for `settings`; models load when the app starts (lifespan)."""
    state = ServiceState(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await state.start()
        except BaseException:
            await state.stop()
            raise
        try:
            yield
        finally:
            await state.stop()

    app = ServiceApp(
        title="pretty-meter",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # our own /docs below, with a CSP that fits its page
        redoc_url=None,  # ReDoc loads fonts and workers from CDNs; /docs is the documented one
    )
    app.state.service = state

    protocol_errors.install(app)

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} API")
        policy = security_headers.render(security_headers.docs_policy(bytes(page.body).decode()))
        page.headers["content-security-policy"] = policy
        return page

    app.include_router(original.router)
    app.include_router(v1.router)
    app.include_router(kserve.router)
    app.include_router(health.router)
    web_dir = settings.web_dir
    if web_dir is None or not (web_dir / "config.json").is_file():
        app.include_router(web.router)
    if web_dir is not None:
        if (web_dir / "index.html").is_file():
            # mounted last so every API route above wins over a file of the same name
            app.mount("/", StaticFiles(directory=web_dir, html=True), name="web")
        else:
            log.warning("web_dir %s has no index.html; the page is not served", web_dir)

    add_layers(app, settings, state)
    return app
