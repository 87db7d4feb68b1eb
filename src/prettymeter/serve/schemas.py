"""Typed request and response bodies: what /docs shows is the real contract."""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import BaseModel, Field

from prettymeter.contract import FILTER_REASONS
from prettymeter.every_face import MAX_FACES, WHOLE_PHOTO_MODEL
from prettymeter.explain import NOTE, REGIONS
from prettymeter.faces.quality import ADVICE, ADVICE_MESSAGES, Quality
from prettymeter.inference import FaceRating, Rating


class PredictRequest(BaseModel):
    """The original service's request body."""

    instances: list[str] = Field(description="photos as base64 (a data: URL prefix is allowed)")


class PredictResponse(BaseModel):
    """The original service's answer: one score per instance, in order."""

    predictions: list[float] = Field(description="0.0-10.0, one decimal")


class RateRequest(BaseModel):
    """v1 JSON body (multipart is the other way: `files` + `gender` or `model`)."""

    instances: list[str] = Field(description="photos as base64")
    gender: str | None = Field(None, description="pick the model by gender: 'm' or 'w'")
    model: str | None = Field(None, description="pick the model by route or card name")
    faces: Literal["one", "all"] = Field(
        "one",
        description="'all': each result also lists every face of its photo (`faces`), each "
        f"scored on its own crop, largest first, at most {MAX_FACES}",
    )
    explain: bool = Field(
        False,
        description="true: each scored photo (and face) gains `explanation`, how much each "
        "face region moves the score (occlusion); what the model reacts to, not what is beautiful",
    )


class PhotoError(BaseModel):
    code: str = Field(
        description=", ".join(FILTER_REASONS)
        + f", not_an_image, too_large, unsupported_format, invalid_base64, {WHOLE_PHOTO_MODEL}"
    )
    message: str = Field(description="one line: what is wrong and what to do")


class Advice(BaseModel):
    code: str = Field(description=", ".join(ADVICE))
    message: str = Field(description="one line: what pulls the photo down and what to do")


class FaceQuality(BaseModel):
    """What in the photo may pull the score down, measured on the face (docs/api.md)."""

    sharpness: float = Field(description="variance of the Laplacian of the face at 128 px")
    brightness: float = Field(description="mean luma of the face, 0-255")
    dark_share: float = Field(description="share of the face at luma <= 25")
    bright_share: float = Field(description="share of the face at luma >= 247")
    eye_distance: float | None = Field(description="inter-eye distance in the photo's pixels")
    roll: float | None = Field(description="head roll from the eye line, degrees")
    yaw: float | None = Field(description="head yaw estimated from the landmarks, degrees")
    advice: list[Advice] = Field(description="what to change, in a fixed order; may be []")

    @classmethod
    def of(cls, q: Quality) -> Self:
        advice = [Advice(code=c, message=ADVICE_MESSAGES[c]) for c in q.advice]
        return cls(**{**q.to_dict(), "advice": advice})


EXPLANATION_HELP = (
    "with explain=true: how much each face region moves the score (occlusion); null otherwise"
)


class RegionDelta(BaseModel):
    name: str = Field(description=f"one of {', '.join(REGIONS)}")
    delta: float = Field(
        description="0-10 scale: score(original) - score(region occluded), or with heatmap_from "
        "'label_map' what the region adds to the score against an average spot of the input"
    )


class Explanation(BaseModel):
    """Why this score (explain=true): how much each region of the face moves the score (read from
    the model's label map where its graph has one, else by occluding the region with the card's
    mean colour), and a coarse heat map over the model's input; what the model reacts to, not
    what is beautiful."""

    regions: list[RegionDelta]
    heatmap: list[list[float]] = Field(
        description="grid × grid rows (top first) over the model's square input: each cell the "
        "area-weighted delta of the regions it covers (heatmap_from 'regions'), or "
        "score(original) - score(cell occluded) ('occluded_cells'), or the model's label at "
        "that spot minus its label for the whole input, × 10 ('label_map')"
    )
    grid: int = Field(description="cells per side of the heat map")
    heatmap_from: Literal["regions", "occluded_cells", "label_map"] = Field(
        description="how the heat map was made"
    )
    note: str = Field(description=NOTE)


class FaceResult(BaseModel):
    """One face of a photo (`faces=all`), scored on its own person crop."""

    box: list[float] = Field(description="face box x1, y1, x2, y2 in the photo's pixels")
    landmarks: list[list[float]] = Field(
        description="5 points [x, y]: the eyes (image left first), nose tip, mouth corners"
    )
    confidence: float = Field(description="the face detector's confidence, 0-1")
    main: bool = Field(description="the face a plain request scores (the one-person rule's)")
    region: list[float] | None = Field(description="the person box this face's crop was cut from")
    score: float | None = Field(description="0-10, one decimal; null for face_too_small")
    rate: float | None
    percentile: float | None
    uncertainty: float | None
    quality: FaceQuality | None
    error: PhotoError | None = Field(description="face_too_small: no useful crop of this face")
    explanation: Explanation | None = Field(default=None, description=EXPLANATION_HELP)

    @classmethod
    def of(cls, f: FaceRating) -> Self:
        r = f.rating
        return cls(
            box=list(f.box),
            landmarks=[list(p) for p in f.landmarks],
            confidence=f.confidence,
            main=f.main,
            region=list(r.region) if r.region is not None else None,
            score=r.score,
            rate=r.rate,
            percentile=r.percentile,
            uncertainty=r.uncertainty,
            quality=FaceQuality.of(r.quality) if r.quality is not None else None,
            error=PhotoError(code=r.error, message=r.message or r.error) if r.error else None,
            explanation=Explanation(**r.explanation) if r.explanation else None,
        )


class PhotoResult(BaseModel):
    """One photo's result: what /v1/rate and KServe V1 answer per photo (KServe V2 sends the
    same values as output tensors). Made from a `Rating` by `from_rating` only."""

    score: float | None = Field(description="0-10, one decimal; null when the photo has an error")
    rate: float | None = Field(description="the prediction on the training dataset's own scale")
    percentile: float | None = Field(description="share (0-100) of training photos rated lower")
    uncertainty: float | None = Field(
        description="fold-ensemble spread on the 0-10 scale; null for a single model"
    )
    box: list[float] | None = Field(
        description="person box x1, y1, x2, y2 in the photo's pixels (after EXIF orientation), "
        "as found by the face detector; null when detection is off or the photo has no score"
    )
    region: list[float] | None = Field(
        default=None,
        description="the part of the photo the model scored, x1, y1, x2, y2: the person box for "
        "a model trained on person crops, the whole photo for one trained on whole photos "
        "(the model card's preprocessing.detector)",
    )
    image_size: list[int] | None = Field(description="width, height after EXIF orientation")
    error: PhotoError | None = Field(description="why this photo has no score")
    quality: FaceQuality | None = Field(
        default=None,
        description="the scored person's face quality measures and advice; null without a "
        "score or when no face was detected (detection off on a whole-photo model)",
    )
    faces: list[FaceResult] | None = Field(
        default=None,
        description=f"with faces=all: every face of the photo, largest first, at most "
        f"{MAX_FACES}; null otherwise",
    )
    explanation: Explanation | None = Field(default=None, description=EXPLANATION_HELP)

    @classmethod
    def from_rating(cls, r: Rating, **extra: Any) -> Self:
        """The one way a rating becomes a protocol's photo result. The box is shown only with
        a score: a photo without one has no box the score was given for."""
        scored = r.score is not None
        return cls(
            **extra,
            score=r.score,
            rate=r.rate,
            percentile=r.percentile,
            uncertainty=r.uncertainty,
            box=list(r.box) if r.box is not None and scored else None,
            region=list(r.region) if r.region is not None else None,
            image_size=list(r.image_size) if r.image_size is not None else None,
            error=PhotoError(code=r.error, message=r.message or r.error) if r.error else None,
            quality=FaceQuality.of(r.quality) if r.quality is not None and scored else None,
            faces=[FaceResult.of(f) for f in r.faces] if r.faces is not None else None,
            explanation=Explanation(**r.explanation) if r.explanation else None,
        )


class _Indexed(BaseModel):
    index: int = Field(description="position of the photo in the request")


class RateResult(PhotoResult, _Indexed):  # _Indexed last: `index` comes first in the JSON
    """One photo's /v1/rate result: its position in the request, then the photo result."""


class RateResponse(BaseModel):
    model: str = Field(description="the model card's name")
    demo: bool = Field(description="true for a demo model trained on synthetic images")
    results: list[RateResult]


class ModelInfo(BaseModel):
    route: str
    gender: Literal["m", "w"]
    engine: str = Field(description="onnxruntime, openvino, openvino-bf16 or openvino-int8")
    engine_figures: str = Field(
        description="the engine's verified figures against ONNX Runtime fp32 (card.verification)"
    )
    card: dict[str, Any] = Field(description="the model card (card.json)")


class ModelsResponse(BaseModel):
    models: list[ModelInfo]


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    ready: bool
    models: list[str]


class ErrorBody(BaseModel):
    detail: str = Field(description="one line: what is wrong and what to do")


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {
        400: "malformed body, bad base64 or undecodable photo (original routes), empty list",
        404: "unknown model or gender",
        413: "body or photo count over the limit",
        415: "wrong content type",
        422: "body does not match the schema",
        429: "busy: queue full or client rate limit; see Retry-After",
        503: "not ready; see Retry-After",
        504: "the request took longer than the time limit",
    }.items()
}


ORIGINAL_VALIDATION_CODE = 10422


class OriginalError(BaseModel):
    """The original service's own 422 body, kept on its routes: what its clients parse."""

    status_code: Literal[10422] = Field(
        description="always 10422 (the original service's code for a 422)"
    )
    message: str = Field(description="one line: what is wrong with the body and what to do")
    data: None = Field(description="always null")


ORIGINAL_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    **{code: r for code, r in ERROR_RESPONSES.items() if code not in (400, 415, 422)},
    400: {"model": ErrorBody, "description": "bad base64, an undecodable photo, an empty list"},
    422: {
        "model": OriginalError,
        "description": "the body is not the JSON the route takes: another content type, empty, "
        "not JSON, or off the schema (the original service's answer to all of these, in its shape)",
    },
}
