"""The web page's runtime settings (GET /config.json) when the built page carries none."""

from __future__ import annotations

from fastapi import APIRouter, Request

from prettymeter.serve.routes.common import service

router = APIRouter(tags=["web"])

PAGE_MAX_FILES = 4


@router.get("/config.json", summary="The web page's settings")
async def page_config(request: Request) -> dict[str, object]:
    settings = service(request).settings
    return {
        # the page calls `${apiBaseUrl}/v1/rate`: under a path prefix the API lives there too
        "apiBaseUrl": settings.root_path,
        "maxFiles": min(PAGE_MAX_FILES, settings.limits.max_instances),
        "analyticsId": None,
    }
