"""KServe V1 and Open Inference Protocol (V2) routes, so KServe/Triton clients can call us.

V1: `POST /v1/models/{name}:predict`, `GET /v1/models/{name}`. V2: health, server and model
metadata, model readiness and `POST /v2/models/{name}/infer` with one BYTES input of encoded
photos, as JSON (base64 strings) or with the binary tensor data extension (raw file bytes).
`{name}` is a route (`man`, `woman`) or a card name. Errors are the protocols' `{"error": "..."}`.
The photo policy is /v1/rate's: a photo without one clear person gets an error code and does
not fail the others.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException

from prettymeter import __version__
from prettymeter.errors import ImageError
from prettymeter.inference import Rating, decode_base64, rating
from prettymeter.serve.routes.common import (
    check_count,
    fail,
    pick_model,
    ready_or_503,
    score,
    service,
    short,
)
from prettymeter.serve.schemas import ErrorBody, PhotoError
from prettymeter.serve.state import LoadedModel, Outcome, ServiceState

PHOTO_INPUT = "photo"
MODEL_VERSION = "1"  # one version per model: the loaded one
PLATFORM = "pretty-meter"  # photos in, scores out: the model is a whole pipeline, not one graph
HEADER_LENGTH = "Inference-Header-Content-Length"
BINARY_EXTENSION = "binary_tensor_data"

# output name → (datatype, shape of one photo's part, meaning)
OUTPUTS: dict[str, tuple[str, list[int], str]] = {
    "score": ("FP32", [], "0-10, one decimal; NaN (null in JSON) when the photo has an error"),
    "rate": ("FP32", [], "the prediction on the training dataset's own rate scale"),
    "percentile": ("FP32", [], "share (0-100) of training photos rated lower"),
    "uncertainty": ("FP32", [], "fold-ensemble spread on the 0-10 scale; NaN for one model"),
    "box": ("FP32", [4], "person box x1, y1, x2, y2 in pixels; NaN when none was found"),
    "region": ("FP32", [4], "the part of the photo the model scored, x1, y1, x2, y2"),
    "error": ("BYTES", [], "per-photo error code (no_face, not_an_image, ...); '' when scored"),
}


# -- the protocols' bodies (what /docs shows) -----------------------------------------------------


class ProtocolError(BaseModel):
    error: str = Field(description="one line: what is wrong and what to do")


class B64Photo(BaseModel):
    b64: str = Field(description="the photo file as base64 (TF-Serving/KServe V1 binary form)")


class V1PredictRequest(BaseModel):
    instances: list[str | B64Photo] = Field(
        description='photos as base64 strings or {"b64": "<base64>"} objects'
    )


class V1Prediction(BaseModel):
    score: float | None = Field(description="0-10, one decimal; null when the photo has an error")
    rate: float | None = Field(description="the prediction on the training dataset's own scale")
    percentile: float | None = Field(description="share (0-100) of training photos rated lower")
    uncertainty: float | None = Field(description="fold-ensemble spread (0-10); null for one model")
    box: list[float] | None = Field(description="person box x1, y1, x2, y2 in the photo's pixels")
    region: list[float] | None = Field(description="the part of the photo the model scored")
    image_size: list[int] | None = Field(description="width, height after EXIF orientation")
    error: PhotoError | None = Field(description="why this photo has no score")


class V1PredictResponse(BaseModel):
    predictions: list[V1Prediction]


class ModelReady(BaseModel):
    name: str
    ready: bool


class ServerLive(BaseModel):
    live: bool


class ServerReady(BaseModel):
    ready: bool


class ServerMetadata(BaseModel):
    name: str
    version: str
    extensions: list[str]


class MetadataTensor(BaseModel):
    name: str
    datatype: str
    shape: list[int] = Field(description="-1 is the number of photos")


class ModelMetadata(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[MetadataTensor]
    outputs: list[MetadataTensor]


class RequestInput(BaseModel):
    name: str = Field(description=f"'{PHOTO_INPUT}'")
    shape: list[int] = Field(description="[N] (or any shape of N elements)")
    datatype: str = Field(description="'BYTES'")
    parameters: dict[str, Any] | None = Field(
        None, description="binary_data_size: the tensor's bytes after the JSON header"
    )
    data: list[Any] | None = Field(None, description="photos as base64 strings (JSON form)")


class RequestOutput(BaseModel):
    name: str = Field(description=", ".join(OUTPUTS))
    parameters: dict[str, Any] | None = Field(None, description="binary_data: true for binary")


class InferRequest(BaseModel):
    id: str | None = None
    parameters: dict[str, Any] | None = Field(
        None, description="binary_data_output: true for every output in binary"
    )
    inputs: list[RequestInput]
    outputs: list[RequestOutput] | None = Field(None, description="default: every output")


class ResponseOutput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    parameters: dict[str, Any] | None = None
    data: list[Any] | None = None


class InferResponse(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model_name: str
    model_version: str
    id: str | None = None
    parameters: dict[str, Any] | None = None
    outputs: list[ResponseOutput]


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    texts = {
        400: "malformed request (the message says what)",
        404: "no such model",
        413: "body or photo count over the limit (`detail` when the body limit answers)",
        415: "a compressed (Content-Encoding) body",
        429: "busy: queue full or client rate limit; see Retry-After",
        503: "not ready; see Retry-After",
        504: "the request took longer than the time limit",
    }
    either = ProtocolError | ErrorBody  # the body-size and rate limits answer before the route
    return {
        code: {"model": either if code in (413, 429) else ProtocolError, "description": texts[code]}
        for code in codes
    }


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """openapi_extra for a handler that reads its body itself, nested models inlined (a
    `#/$defs/...` reference would not resolve inside the OpenAPI document)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(defs[node["$ref"].rsplit("/", 1)[1]])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(value) for value in node]
        return node

    content = {"application/json": {"schema": inline(schema)}}
    return {"requestBody": {"required": True, "content": content}}


class ProtocolErrorRoute(APIRoute):
    """Every refusal of these routes in the protocols' shape, `{"error": "..."}`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def shaped(request: Request) -> Response:
            try:
                return await handler(request)
            except HTTPException as exc:
                return JSONResponse(
                    {"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
                )

        return shaped


router = APIRouter(tags=["kserve"], route_class=ProtocolErrorRoute)


# -- shared steps ---------------------------------------------------------------------------------


async def read_body(request: Request, example: str) -> bytes:
    """The raw body; any content type (curl -d sends a form type), but not compressed."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        fail(415, f"Content-Encoding {short(encoding)} is not accepted; send the body uncompressed")
    body = await request.body()
    if not body.strip():
        fail(400, f"the request body is empty; send {example}")
    return body


def parse_json(raw: bytes, example: str) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: [[[[…]]]]
        fail(400, f"the body is not valid JSON; send {example}")


def validate(model: type[BaseModel], raw: Any) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        fail(400, f"{where}: {first['msg']}; see /docs for the request schema")


def model_named(state: ServiceState, name: str) -> LoadedModel:
    ready_or_503(state)
    return pick_model(state, None, name)


def check_version(version: str | None) -> None:
    if version is not None and version != MODEL_VERSION:
        fail(404, f"version {short(version)} is unknown; every model has version {MODEL_VERSION}")


def results_of(model: LoadedModel, outcomes: list[Outcome], request: Request) -> list[Rating]:
    ratings = [rating(model.card, o.prepared, o.label, o.std) for o in outcomes]
    errors = [r.error for r in ratings if r.error is not None]
    if errors:
        request.state.errors = errors
    return ratings


def as_list(value: tuple[float, ...] | tuple[int, ...] | None) -> list[Any] | None:
    return list(value) if value is not None else None


# -- KServe V1 ------------------------------------------------------------------------------------

V1_EXAMPLE = '{"instances": ["<base64 photo>", {"b64": "<base64 photo>"}]}'


def v1_payload(instance: object) -> bytes | ImageError:
    if isinstance(instance, dict) and set(instance) == {"b64"}:
        instance = instance["b64"]
    elif not isinstance(instance, str):
        return ImageError(
            "invalid_base64", 'an instance is neither base64 text nor {"b64": "<base64>"}'
        )
    try:
        return decode_base64(instance)
    except ImageError as exc:
        return exc


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
    openapi_extra=json_body(V1PredictRequest),
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
    outcomes = await score(request, model, [v1_payload(i) for i in instances], strict=True)
    predictions = [
        V1Prediction(
            score=r.score,
            rate=r.rate,
            percentile=r.percentile,
            uncertainty=r.uncertainty,
            box=as_list(r.box),
            region=as_list(r.region),
            image_size=as_list(r.image_size),
            error=PhotoError(code=r.error, message=r.message or r.error) if r.error else None,
        )
        for r in results_of(model, outcomes, request)
    ]
    return V1PredictResponse(predictions=predictions)


# -- Open Inference Protocol (V2) -----------------------------------------------------------------

V2_EXAMPLE = (
    '{"inputs": [{"name": "photo", "shape": [1], "datatype": "BYTES", "data": ["<base64 photo>"]}]}'
)


@router.get("/v2", response_model=ServerMetadata, summary="V2: server metadata")
async def v2_server_metadata() -> ServerMetadata:
    return ServerMetadata(name="pretty-meter", version=__version__, extensions=[BINARY_EXTENSION])


@router.get("/v2/health/live", response_model=ServerLive, summary="V2: the process answers")
async def v2_live() -> ServerLive:
    return ServerLive(live=True)


@router.get(
    "/v2/health/ready",
    response_model=ServerReady,
    responses=error_responses(503),
    summary="V2: every configured model is loaded",
)
async def v2_ready(request: Request) -> ServerReady:
    ready_or_503(service(request))
    return ServerReady(ready=True)


def metadata(name: str) -> ModelMetadata:
    outputs = [
        MetadataTensor(name=out, datatype=datatype, shape=[-1, *shape])
        for out, (datatype, shape, _) in OUTPUTS.items()
    ]
    return ModelMetadata(
        name=name,
        versions=[MODEL_VERSION],
        platform=PLATFORM,
        inputs=[MetadataTensor(name=PHOTO_INPUT, datatype="BYTES", shape=[-1])],
        outputs=outputs,
    )


@router.get(
    "/v2/models/{name}",
    response_model=ModelMetadata,
    responses=error_responses(404, 503),
    summary="V2: model metadata",
    description=f"Also at `/v2/models/{{name}}/versions/{MODEL_VERSION}`.",
)
async def v2_model_metadata(name: str, request: Request) -> ModelMetadata:
    model_named(service(request), name)
    return metadata(name)


@router.get("/v2/models/{name}/versions/{version}", include_in_schema=False)
async def v2_version_metadata(name: str, version: str, request: Request) -> ModelMetadata:
    check_version(version)
    return await v2_model_metadata(name, request)


@router.get(
    "/v2/models/{name}/ready",
    response_model=ModelReady,
    responses=error_responses(404, 503),
    summary="V2: is this model ready",
    description=f"Also at `/v2/models/{{name}}/versions/{MODEL_VERSION}/ready`.",
)
async def v2_model_ready(name: str, request: Request) -> ModelReady:
    model_named(service(request), name)
    return ModelReady(name=name, ready=True)


@router.get("/v2/models/{name}/versions/{version}/ready", include_in_schema=False)
async def v2_version_ready(name: str, version: str, request: Request) -> ModelReady:
    check_version(version)
    return await v2_model_ready(name, request)


def split_body(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    """The JSON header and the binary tensor data after it (binary tensor data extension)."""
    if header_length is None:
        return body, b""
    try:
        size = int(header_length)
    except ValueError:
        fail(400, f"{HEADER_LENGTH} {short(header_length)} is not a number of bytes")
    if not 0 < size <= len(body):
        fail(400, f"{HEADER_LENGTH} is {size} but the body has {len(body)} bytes")
    return body[:size], body[size:]


def unpack_bytes(blob: bytes) -> list[bytes]:
    """A binary BYTES tensor: per element a 4-byte little-endian length, then the bytes."""
    items = []
    offset = 0
    while offset < len(blob):
        if offset + 4 > len(blob):
            fail(400, f"input '{PHOTO_INPUT}': the binary data ends inside an element's length")
        (size,) = struct.unpack_from("<I", blob, offset)
        offset += 4
        if offset + size > len(blob):
            fail(400, f"input '{PHOTO_INPUT}': an element says {size} bytes, fewer are left")
        items.append(blob[offset : offset + size])
        offset += size
    return items


def pack_bytes(items: list[bytes]) -> bytes:
    return b"".join(struct.pack("<I", len(item)) + item for item in items)


def flatten(data: list[Any]) -> list[Any]:
    """Tensor data in its natural nested form or flat, row-major (no recursion: any depth)."""
    flat: list[Any] = []
    stack: list[Any] = [iter(data)]
    while stack:
        item = next(stack[-1], stack)
        if item is stack:
            stack.pop()
        elif isinstance(item, list):
            stack.append(iter(item))
        else:
            flat.append(item)
    return flat


def v2_json_payload(element: object) -> bytes | ImageError:
    try:
        return decode_base64(element)
    except ImageError as exc:
        return exc


def photos_of(body: InferRequest, binary: bytes) -> list[bytes | ImageError]:
    """The photos of the one input, from its JSON data or from the binary part."""
    if len(body.inputs) != 1:
        fail(400, f"{len(body.inputs)} inputs given; send one, '{PHOTO_INPUT}' (BYTES, [N])")
    tensor = body.inputs[0]
    if tensor.name != PHOTO_INPUT:
        fail(400, f"input {short(tensor.name)} is unknown; the input is '{PHOTO_INPUT}'")
    if tensor.datatype != "BYTES":
        fail(400, f"input '{PHOTO_INPUT}' is {short(tensor.datatype)}; send BYTES (photo files)")
    if any(dim < 0 for dim in tensor.shape):
        fail(400, f"input '{PHOTO_INPUT}' has a negative dimension in shape {tensor.shape}")
    size = (tensor.parameters or {}).get("binary_data_size")
    if size is not None:
        if tensor.data is not None:
            fail(400, f"input '{PHOTO_INPUT}' has both data and binary_data_size; send one")
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= len(binary):
            fail(400, f"binary_data_size {short(size)} does not fit the {len(binary)} bytes sent")
        payloads: list[bytes | ImageError] = list(unpack_bytes(binary[:size]))
        binary = binary[size:]
    elif tensor.data is not None:
        payloads = [v2_json_payload(e) for e in flatten(tensor.data)]
    else:
        fail(400, f"input '{PHOTO_INPUT}' has no data; send base64 strings in data: {V2_EXAMPLE}")
    if binary:
        fail(400, f"{len(binary)} bytes after the binary data that no input claims")
    if math.prod(tensor.shape) != len(payloads):
        fail(400, f"input '{PHOTO_INPUT}' has shape {tensor.shape} but {len(payloads)} photos")
    return payloads


def wanted_outputs(body: InferRequest) -> list[tuple[str, bool]]:
    """(output name, in binary?) in the order asked; every output when none is named."""
    default = (body.parameters or {}).get("binary_data_output") is True
    if body.outputs is None:
        return [(name, default) for name in OUTPUTS]
    wanted = []
    for out in body.outputs:
        if out.name not in OUTPUTS:
            fail(400, f"output {short(out.name)} is unknown; the outputs are {', '.join(OUTPUTS)}")
        binary = (out.parameters or {}).get("binary_data", default) is True
        wanted.append((out.name, binary))
    return wanted


def column(name: str, ratings: list[Rating]) -> list[Any]:
    """One output's values, photo by photo (None where a photo has none)."""
    if name == "error":
        return [r.error or "" for r in ratings]
    if name in ("box", "region"):
        return [getattr(r, name) or (None, None, None, None) for r in ratings]
    return [getattr(r, name) for r in ratings]


def tensor_of(name: str, values: list[Any], binary: bool) -> tuple[dict[str, Any], bytes]:
    """One response output: JSON data (null for a missing value) or binary (NaN)."""
    datatype, shape, _ = OUTPUTS[name]
    entry: dict[str, Any] = {"name": name, "datatype": datatype, "shape": [len(values), *shape]}
    if datatype == "BYTES":
        if binary:
            blob = pack_bytes([v.encode() for v in values])
            entry["parameters"] = {"binary_data_size": len(blob)}
            return entry, blob
        entry["data"] = values
        return entry, b""
    flat = [v for row in values for v in row] if shape else values
    if binary:
        blob = np.array(flat, dtype="<f4").tobytes()  # None → NaN
        entry["parameters"] = {"binary_data_size": len(blob)}
        return entry, blob
    entry["data"] = flat
    return entry, b""


INFER_BODY = json_body(InferRequest)
INFER_BODY["requestBody"]["content"]["application/octet-stream"] = {
    "schema": {
        "type": "string",
        "format": "binary",
        "description": f"binary tensor data extension: the JSON request ({HEADER_LENGTH} "
        "bytes), then the photo tensor: per photo a 4-byte little-endian length and the file",
    }
}
INFER_OK: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the outputs; binary ones follow the JSON header "
        f"({HEADER_LENGTH} bytes) as application/octet-stream",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.post(
    "/v2/models/{name}/infer",
    response_model=InferResponse,
    responses={**INFER_OK, **error_responses(400, 404, 413, 415, 429, 503, 504)},
    openapi_extra=INFER_BODY,
    summary="V2: score photos (one BYTES input 'photo')",
    description=(
        f"JSON: `{V2_EXAMPLE}`; or the binary tensor data extension (raw photo files, "
        f"`{HEADER_LENGTH}` header), as tritonclient sends by default. Outputs (all unless "
        f"`outputs` names some): {', '.join(f'`{n}` {d} {[-1, *s]}' for n, (d, s, _) in OUTPUTS.items())}. "  # noqa: E501
        f"Also at `/v2/models/{{name}}/versions/{MODEL_VERSION}/infer`."
    ),
)
async def v2_infer(
    name: str,
    request: Request,
    header_length: Annotated[str | None, Header(alias=HEADER_LENGTH)] = None,
) -> Response:
    state = service(request)
    model = model_named(state, name)
    header, binary = split_body(await read_body(request, V2_EXAMPLE), header_length)
    body: InferRequest = validate(InferRequest, parse_json(header, V2_EXAMPLE))
    outputs = wanted_outputs(body)
    payloads = photos_of(body, binary)
    check_count(state, len(payloads), f"input '{PHOTO_INPUT}'")
    ratings = results_of(model, await score(request, model, payloads, strict=True), request)
    answer: dict[str, Any] = {"model_name": name, "model_version": MODEL_VERSION}
    if body.id is not None:
        answer["id"] = body.id
    answer["parameters"] = {"model": model.card.name, "demo": model.card.demo}
    tensors = [tensor_of(out, column(out, ratings), binary) for out, binary in outputs]
    answer["outputs"] = [entry for entry, _ in tensors]
    if not any(binary for _, binary in outputs):
        return JSONResponse(answer)
    head = json.dumps(answer, allow_nan=False, separators=(",", ":")).encode()
    return Response(
        head + b"".join(blob for _, blob in tensors),
        media_type="application/octet-stream",
        headers={HEADER_LENGTH: str(len(head))},
    )


@router.post("/v2/models/{name}/versions/{version}/infer", include_in_schema=False)
async def v2_version_infer(
    name: str,
    version: str,
    request: Request,
    header_length: Annotated[str | None, Header(alias=HEADER_LENGTH)] = None,
) -> Response:
    check_version(version)
    return await v2_infer(name, request, header_length)
