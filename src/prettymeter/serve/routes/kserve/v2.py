"""Open Inference Protocol (V2): health, server and model metadata, readiness, and `infer` with
one BYTES input of encoded photos, as JSON (base64 strings) or binary (raw file bytes)."""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

from fastapi import Header, Request, Response
from fastapi.responses import JSONResponse

from prettymeter import __version__
from prettymeter.errors import ImageError
from prettymeter.serve.routes.common import (
    check_count,
    decoded,
    fail,
    json_body_schema,
    parse_json,
    ready_or_503,
    score,
    service,
    short,
    validate,
)
from prettymeter.serve.routes.kserve.protocol import check_version, model_named, read_body, router
from prettymeter.serve.routes.kserve.schemas import (
    MODEL_VERSION,
    OUTPUTS,
    PHOTO_INPUT,
    PLATFORM,
    InferRequest,
    InferResponse,
    MetadataTensor,
    ModelMetadata,
    ModelReady,
    ServerLive,
    ServerMetadata,
    ServerReady,
    error_responses,
)
from prettymeter.serve.routes.kserve.tensors import (
    BINARY_EXTENSION,
    HEADER_LENGTH,
    column,
    flatten,
    split_body,
    tensor_of,
    unpack_bytes,
)
from prettymeter.serve.schemas import PhotoResult

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
        payloads = [decoded(e) for e in flatten(tensor.data)]
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


INFER_BODY = json_body_schema(InferRequest)
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
    body: InferRequest = validate(InferRequest, parse_json(header, V2_EXAMPLE), 400)
    outputs = wanted_outputs(body)
    payloads = photos_of(body, binary)
    request_id = body.id
    del header, binary, body  # the photos' bytes and text: decoded, only payloads are needed
    check_count(state, len(payloads), f"input '{PHOTO_INPUT}'")
    ratings = await score(request, model, payloads, strict=True)
    results = [PhotoResult.from_rating(r) for r in ratings]
    answer: dict[str, Any] = {"model_name": name, "model_version": MODEL_VERSION}
    if request_id is not None:
        answer["id"] = request_id
    answer["parameters"] = {"model": model.card.name, "demo": model.card.demo}
    tensors = [tensor_of(out, column(out, results), binary) for out, binary in outputs]
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
