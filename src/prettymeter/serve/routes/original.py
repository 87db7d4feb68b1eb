"""The original service's routes, kept exactly: POST /man/predict and /woman/predict."""

from __future__ import annotations

from fastapi import APIRouter, Request

from prettymeter.errors import ImageError
from prettymeter.serve.routes.common import (
    check_count,
    decoded_all,
    fail,
    json_body_schema,
    pick_model,
    read_json,
    ready_or_503,
    score,
    service,
)
from prettymeter.serve.schemas import ORIGINAL_ERROR_RESPONSES, PredictRequest, PredictResponse

router = APIRouter(tags=["original"])


async def predict(request: Request, gender: str) -> PredictResponse:
    state = service(request)
    ready_or_503(state)
    body: PredictRequest = await read_json(request, PredictRequest)
    model = pick_model(state, gender, None)
    check_count(state, len(body.instances), "instances")
    payloads = await decoded_all(body.instances)
    del body  # the base64 text: decoded, it would only hold memory while the photos wait
    bad = next(((i, p) for i, p in enumerate(payloads) if isinstance(p, ImageError)), None)
    if bad is not None:
        fail(400, f"instance {bad[0]}: {bad[1]}")
    ratings = await score(request, model, payloads, strict=False)
    predictions = []
    for index, rated in enumerate(ratings):
        if rated.score is None:
            request.state.errors = [rated.error or "unknown"]
            fail(400, f"instance {index}: {rated.message}")
        predictions.append(rated.score)
    return PredictResponse(predictions=predictions)


DOC = (
    "The original service's contract: "
    '`{"instances": ["<base64>", ...]}` → `{"predictions": [...]}`, '
    "one 0.0-10.0 score (one decimal) per instance in order. Every decodable photo is scored; "
    "when no single person is found the whole image is scored. A photo that cannot be decoded "
    "fails the request with 400."
)


@router.post(
    "/man/predict",
    response_model=PredictResponse,
    responses=ORIGINAL_ERROR_RESPONSES,
    openapi_extra=json_body_schema(PredictRequest),
    summary="Score photos of men (original API)",
    description=DOC,
)
async def predict_man(request: Request) -> PredictResponse:
    return await predict(request, "m")


@router.post(
    "/woman/predict",
    response_model=PredictResponse,
    responses=ORIGINAL_ERROR_RESPONSES,
    openapi_extra=json_body_schema(PredictRequest),
    summary="Score photos of women (original API)",
    description=DOC,
)
async def predict_woman(request: Request) -> PredictResponse:
    return await predict(request, "w")
