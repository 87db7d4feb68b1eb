"""KServe V1: `GET /v1/models/{name}` (ready?) and `POST /v1/models/{name}:predict`."""

from __future__ import annotations

from fastapi import Request

from prettymeter.errors import ImageError
from prettymeter.serve.routes.common import (
    check_count,
    decoded,
    fail,
    json_body_schema,
    parse_json,
    score,
    service,
)
from prettymeter.serve.routes.kserve.protocol import model_named, read_body, router
from prettymeter.serve.routes.kserve.schemas import (
    ModelReady,
    V1Prediction,
    V1PredictRequest,
    V1PredictResponse,
    error_responses,
)

V1_EXAMPLE = '{"instances": ["<base64 photo>", {"b64": "<base64 photo>"}]}'


def v1_payload(instance: object) -> bytes | ImageError:
    if isinstance(instance, dict) and set(instance) == {"b64"}:
        instance = instance["b64"]
    elif not isinstance(instance, str):
        return ImageError(
            "invalid_base64", 'an instance is neither base64 text nor {"b64": "<base64>"}'
        )
    return decoded(instance)


@router.get(
    "/v1/models/{name}",
    response_model=ModelReady,
    responses=error_responses(404, 503),
    summary="KServe V1: is this model ready",
)
async def v1_model_ready(name: str, request: Request) -> ModelReady:
    model_named(service(request), name)
    return ModelReady(name=name, ready=True)


@router.post(
    "/v1/models/{name}:predict",
    response_model=V1PredictResponse,
    responses=error_responses(400, 404, 413, 415, 429, 503, 504),
    openapi_extra=json_body_schema(V1PredictRequest),
    summary="KServe V1: score photos",
    description=(
        f'`{V1_EXAMPLE}` → `{{"predictions": [...]}}`, one object per photo in order, as in '
        "/v1/rate: score, rate, percentile, uncertainty, box, region, image_size, error. A photo "
        "that cannot be scored gets an `error` and does not fail the others."
    ),
)
async def v1_predict(name: str, request: Request) -> V1PredictResponse:
    state = service(request)
    model = model_named(state, name)
    raw = parse_json(await read_body(request, V1_EXAMPLE), V1_EXAMPLE)
    instances = raw.get("instances") if isinstance(raw, dict) else None
    if not isinstance(instances, list):
        fail(400, f'the body needs "instances", a list of photos: {V1_EXAMPLE}')
    check_count(state, len(instances), "instances")
    payloads = [v1_payload(i) for i in instances]
    del raw, instances  # the base64 text: decoded, it would only hold memory while photos wait
    ratings = await score(request, model, payloads, strict=True)
    return V1PredictResponse(predictions=[V1Prediction.from_rating(r) for r in ratings])
