"""The app factory: settings → FastAPI app (models load in the lifespan, nothing at import)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from prettymeter import __version__
from prettymeter.serve import security_headers as headers
from prettymeter.serve.middleware.body_limits import DRAIN_MAX_SECONDS, BodyLimit, BodyTimeout
from prettymeter.serve.middleware.disconnect import CancelOnDisconnect
from prettymeter.serve.middleware.rate_limit import RateLimiter
from prettymeter.serve.middleware.request_log import RequestLog
from prettymeter.serve.middleware.root_path import RootPath
from prettymeter.serve.protocol_errors import error_key
from prettymeter.serve.routes import health, kserve, original, v1, web
from prettymeter.serve.routes.common import BodyError
from prettymeter.serve.routes.kserve.tensors import HEADER_LENGTH
from prettymeter.serve.schemas import ORIGINAL_VALIDATION_CODE
from prettymeter.serve.settings import Settings
from prettymeter.serve.state import ServiceState

log = logging.getLogger("prettymeter.serve")

DESCRIPTION = (
    "Rates how good a person looks on a photo, 0-10. The original service's API (`/man/predict`, "
    "`/woman/predict`) is kept exactly; `/v1/rate` answers per photo with the person box, the "
    "rate on the dataset's scale, the percentile and per-photo errors."
)


ORIGINAL_ENDPOINTS = (original.predict_man, original.predict_woman)


def on_original_route(request: Request) -> bool:
    route = request.scope.get("route")
    return getattr(route, "endpoint", None) in ORIGINAL_ENDPOINTS


def original_422(message: str) -> JSONResponse:
    """The original service's answer to a body it cannot take (its validation handler's shape)."""
    body = {"status_code": ORIGINAL_VALIDATION_CODE, "message": message, "data": None}
    return JSONResponse(body, status_code=422)


def create_app(settings: Settings) -> FastAPI:
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

    app = FastAPI(
        title="pretty-meter",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # our own /docs below, with a CSP that fits its page
        redoc_url=None,  # ReDoc loads fonts and workers from CDNs; /docs is the documented one
    )
    app.state.service = state

    @app.exception_handler(RequestValidationError)
    async def one_line_validation_error(
        request: Request, exc: RequestValidationError
    ) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"]) or "request"
        message = f"{where}: {first['msg']}; see /docs"
        if on_original_route(request):
            return original_422(message)
        return JSONResponse({"detail": message}, status_code=422)

    @app.exception_handler(BodyError)
    async def body_error(request: Request, exc: BodyError) -> Response:
        if on_original_route(request):
            return original_422(str(exc.detail))
        return await http_exception_handler(request, exc)

    @app.exception_handler(HTTPException)
    async def protocol_shaped_error(request: Request, exc: HTTPException) -> Response:
        """No route or method here (404, 405): on the KServe paths in their `{"error": ...}`."""
        if error_key(request.scope) == "error":
            body = {"error": str(exc.detail)}
            return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)
        return await http_exception_handler(request, exc)

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} API")
        policy = headers.render(headers.docs_policy(bytes(page.body).decode()))
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

    # Added innermost first: CORS is outermost so even a 413 or 429 reaches a page elsewhere.
    limits = settings.limits
    app.add_middleware(BodyTimeout, seconds=limits.body_timeout_s)
    app.add_middleware(
        BodyLimit,
        max_bytes=limits.max_body_bytes,
        drain_seconds=limits.body_timeout_s or DRAIN_MAX_SECONDS,
    )
    if settings.rate_limit.requests_per_minute > 0:
        app.add_middleware(
            RateLimiter,
            per_minute=settings.rate_limit.requests_per_minute,
            burst=settings.rate_limit.burst,
        )
    app.add_middleware(CancelOnDisconnect)  # inside the log: it records the 499
    app.add_middleware(RequestLog, metrics=state.metrics, log_requests=settings.log_requests)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["*"],
            # Inference-Header-Content-Length: where a V2 binary answer's JSON header ends
            expose_headers=["Retry-After", HEADER_LENGTH],
        )
    page_config = headers.read_page_config(web_dir)
    policy = headers.page_policy(settings.csp_connect_src, page_config)
    app.add_middleware(headers.SecurityHeaders, content_security_policy=headers.render(policy))
    if settings.root_path:
        app.add_middleware(RootPath, root_path=settings.root_path)
    return app
