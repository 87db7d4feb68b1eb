"""The KServe V1 and Open Inference Protocol (V2) bodies, as /docs shows them, and the outputs."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from prettymeter.serve.schemas import PhotoResult

PHOTO_INPUT = "photo"
MODEL_VERSION = "1"  # one version per model: the loaded one
PLATFORM = "pretty-meter"  # photos in, scores out: the model is a whole pipeline, not one graph

# output name → (datatype, shape of one photo's part, meaning)
OUTPUTS: dict[str, tuple[str, list[int], str]] = {
    "score": ("FP32", [], "0-10, one decimal; NaN (null in JSON) when the photo has an error"),
    "rate": ("FP32", [], "the prediction on the training dataset's own rate scale"),
    "percentile": ("FP32", [], "share (0-100) of training photos rated lower"),
    "uncertainty": ("FP32", [], "fold-ensemble spread on the 0-10 scale; NaN for one model"),
    "box": ("FP32", [4], "person box x1, y1, x2, y2 in pixels; NaN when none or no score"),
    "region": ("FP32", [4], "the part of the photo the model scored, x1, y1, x2, y2"),
    "error": ("BYTES", [], "per-photo error code (no_face, not_an_image, ...); '' when scored"),
}


class ProtocolError(BaseModel):
    error: str = Field(description="one line: what is wrong and what to do")


class B64Photo(BaseModel):
    b64: str = Field(description="the photo file as base64 (TF-Serving/KServe V1 binary form)")


class V1PredictRequest(BaseModel):
    instances: list[str | B64Photo] = Field(
        description='photos as base64 strings or {"b64": "<base64>"} objects'
    )


class V1Prediction(PhotoResult):
    """One photo's KServe V1 prediction: the /v1/rate result without `index`."""


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
        413: "body or photo count over the limit",
        415: "a compressed (Content-Encoding) body",
        429: "busy: queue full or client rate limit; see Retry-After",
        503: "not ready; see Retry-After",
        504: "the request took longer than the time limit",
    }
    # the body-size and rate limits answer before the route, in this shape too (protocol_errors.py)
    return {code: {"model": ProtocolError, "description": texts[code]} for code in codes}
