"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from prettymeter.serve.routes.common import service
from prettymeter.serve.schemas import Health, Readiness

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="The process answers")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "models not (or no longer) loaded"}},
    summary="Every configured model is loaded",
)
async def readyz(request: Request) -> Response:
    state = service(request)
    body = Readiness(ready=state.ready, models=sorted(state.models))
    headers = {} if state.ready else {"Retry-After": "5"}
    return JSONResponse(body.model_dump(), status_code=200 if state.ready else 503, headers=headers)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    state = service(request)
    for route, model in state.models.items():
        state.metrics.queue_depth.labels(route).set(model.batcher.depth)
    return Response(state.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
