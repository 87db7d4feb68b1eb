"""v1: POST /v1/rate (multipart or JSON, per-photo results and errors) and GET /v1/models."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request

from prettymeter.errors import ImageError, PrettyMeterError
from prettymeter.inference import FACE_MODES
from prettymeter.serve.multipart import TooManyPartsError, parse_form
from prettymeter.serve.routes.common import (
    body_bytes,
    check_count,
    content_type,
    decoded_all,
    fail,
    json_body_schema,
    pick_model,
    read_json,
    ready_or_503,
    score,
    service,
    short,
)
from prettymeter.serve.schemas import (
    ERROR_RESPONSES,
    ModelInfo,
    ModelsResponse,
    RateRequest,
    RateResponse,
    RateResult,
)

router = APIRouter(prefix="/v1", tags=["v1"])

MULTIPART_SCHEMA = {
    "type": "object",
    "required": ["files"],
    "properties": {
        "files": {
            "type": "array",
            "items": {"type": "string", "format": "binary"},
            "description": "one or more photos (JPEG, PNG, WebP, HEIC, GIF, BMP, TIFF)",
        },
        "gender": {"type": "string", "enum": ["m", "w"]},
        "model": {"type": "string", "description": "route or card name instead of gender"},
        "faces": {
            "type": "string",
            "enum": list(FACE_MODES),
            "description": "'all': every face of each photo, scored on its own crop",
        },
        "explain": {
            "type": "string",
            "enum": ["true", "false"],
            "description": "true: each scored photo and face gains `explanation` (occlusion)",
        },
    },
}


async def read_rate_request(
    request: Request,
) -> tuple[list[bytes | ImageError], str | None, str | None, str, bool]:
    """The photos (or per-photo errors), gender, model, faces mode and explain flag of a JSON
    or multipart request."""
    state = service(request)
    kind = content_type(request)
    if kind == "multipart/form-data":
        body = await body_bytes(request)
        loop = asyncio.get_running_loop()
        limit = state.settings.limits.max_instances
        try:
            form = await loop.run_in_executor(
                state.prep_pool, parse_form, request.headers["content-type"], body, limit
            )
        except TooManyPartsError as exc:
            fail(413, str(exc))  # the JSON route's answer to too many photos
        except PrettyMeterError as exc:
            fail(400, str(exc))
        files = [part for part in form.files if part.name in ("files", "file")]
        check_count(state, len(files), "the 'files' field")
        payloads: list[bytes | ImageError] = [bytes(part.data) for part in files]
        gender = form.fields.get("gender") or None
        name = form.fields.get("model") or None
        faces = form.fields.get("faces") or "one"
        if faces not in FACE_MODES:
            fail(422, f"faces: {short(faces)} is not one of 'one', 'all'; see /docs")
        explain = (form.fields.get("explain") or "false").lower()
        if explain not in ("true", "false"):
            fail(422, f"explain: {short(explain)} is not 'true' or 'false'; see /docs")
        return payloads, gender, name, faces, explain == "true"
    if kind in ("", "application/json") or kind.endswith("+json"):
        json_body: RateRequest = await read_json(request, RateRequest)
        check_count(state, len(json_body.instances), "instances")
        payloads = await decoded_all(json_body.instances)
        return payloads, json_body.gender, json_body.model, json_body.faces, json_body.explain
    fail(
        415,
        f"content type {kind!r} is not accepted; send multipart/form-data files or "
        "application/json instances",
    )


@router.post(
    "/rate",
    response_model=RateResponse,
    responses=ERROR_RESPONSES,
    openapi_extra=json_body_schema(RateRequest, MULTIPART_SCHEMA),
    summary="Score photos, with per-photo results and errors",
    description=(
        "Multipart (`files` + `gender` or `model`) or JSON (`instances` + `gender` or `model`). "
        "One result per photo, in order; a photo that cannot be scored gets an `error` "
        "(no_face, several_faces, face_too_small, not_an_image, too_large, unsupported_format, "
        "invalid_base64) and does not fail the others. `faces=all` (form field or JSON key) "
        "adds `faces` to each result: every face, largest first, each scored on its own crop. "
        "`explain=true` adds `explanation` to each scored photo and face: how much each face "
        "region moves the score, and a coarse heat map — what the model reacts to, not what "
        "is beautiful."
    ),
)
async def rate(request: Request) -> RateResponse:
    state = service(request)
    ready_or_503(state)
    payloads, gender, name, faces, explain = await read_rate_request(request)
    model = pick_model(state, gender, name)
    ratings = await score(request, model, payloads, strict=True, faces=faces, explain=explain)
    results = [RateResult.from_rating(r, index=index) for index, r in enumerate(ratings)]
    return RateResponse(model=model.card.name, demo=model.card.demo, results=results)


@router.get("/models", response_model=ModelsResponse, summary="The loaded models and their cards")
async def models(request: Request) -> ModelsResponse:
    state = service(request)
    return ModelsResponse(
        models=[
            ModelInfo(
                route=route,
                gender=loaded.card.gender,
                engine=loaded.scorer.engine,
                engine_figures=loaded.scorer.describe(),
                card=loaded.card.model_dump(by_alias=True, mode="json"),
            )
            for route, loaded in state.models.items()
        ]
    )
