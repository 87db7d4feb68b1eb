"""The pieces of the one path from a photo to a rating, driven by the model card, without torch.

decode (EXIF, modes, limits) → person detection → the card's crop rule → resize and normalize
with the card's own values (`InputSpec`, `PhotoPreparer`) → engine → label → score, rate,
percentile, uncertainty (`rating`). `rating_model.RatingModel` puts them together for one loaded
model; every scoring path (the service, `predict`, `evaluate`, `rate`, the public `Rater`) goes
through it. The one-person rule ("one clearly visible person per photo") is a policy on top: it
may refuse a photo, it never changes what the model receives. A card whose preprocessing this
code cannot honour is refused at load.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from prettymeter import imaging
from prettymeter.card import ModelCard
from prettymeter.contract import DETECTORS, FILTER_MESSAGES, MTCNN, NO_FACE, Box
from prettymeter.errors import ImageError, PrettyMeterError

if TYPE_CHECKING:
    from prettymeter.faces.mtcnn import FaceDetector
    from prettymeter.faces.person import Face, PersonResult
    from prettymeter.faces.quality import Quality

Photo = str | Path | bytes | bytearray | memoryview | Image.Image
Scored = tuple[float | None, float | None]  # (label 0-1, ensemble std) or (None, None)

FACE_MODES = ("one", "all")  # `faces=`: the one-person rule's answer, or every face too

RESAMPLING = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
    "hamming": Image.Resampling.HAMMING,
}

# -- the card's preprocessing ---------------------------------------------------------------------


@dataclass(frozen=True)
class InputSpec:
    """How a photo becomes this model's input, every value taken from its card."""

    detector: str
    crop_size: int
    input_size: int
    mean: np.ndarray
    std: np.ndarray
    resample: Image.Resampling
    pad_color: tuple[int, int, int]

    @classmethod
    def from_card(cls, card: ModelCard, where: str = "the model card") -> InputSpec:
        """The card's preprocessing, or one line saying why this code cannot honour it."""
        p = card.preprocessing

        def refuse(what: str) -> PrettyMeterError:
            return PrettyMeterError(
                f"{where}: {what}; this version of pretty-meter cannot feed the model what it "
                "was trained on — re-export it with this version or use the version that made it"
            )

        if p.detector not in DETECTORS:
            raise refuse(f"detector {p.detector!r} is unknown (known: {', '.join(DETECTORS)})")
        if p.resample not in RESAMPLING:
            raise refuse(f"resampling {p.resample!r} is unknown (known: {', '.join(RESAMPLING)})")
        if p.input_size != card.input_size:
            raise refuse(
                f"preprocessing.input_size {p.input_size} differs from input_size {card.input_size}"
            )
        if not 8 <= p.crop_size <= 4096 or not 8 <= p.input_size <= 4096:
            raise refuse(f"crop size {p.crop_size} / input size {p.input_size} out of 8-4096")
        if len(p.mean) != 3 or len(p.std) != 3 or not all(s > 0 for s in p.std):
            raise refuse(f"mean {p.mean} / std {p.std} are not 3 values with std > 0")
        if len(p.pad_color) != 3 or not all(0 <= c <= 255 for c in p.pad_color):
            raise refuse(f"pad_color {p.pad_color} is not 3 values in 0-255")
        return cls(
            detector=p.detector,
            crop_size=int(p.crop_size),
            input_size=int(p.input_size),
            mean=np.asarray(p.mean, dtype=np.float32),
            std=np.asarray(p.std, dtype=np.float32),
            resample=RESAMPLING[p.resample],
            pad_color=(int(p.pad_color[0]), int(p.pad_color[1]), int(p.pad_color[2])),
        )

    @property
    def crops_person(self) -> bool:
        """True when the model was trained on person crops (it needs the face detector)."""
        return self.detector == MTCNN

    def crop(self, image: Image.Image, box: Sequence[float] | None) -> Image.Image:
        """The square crop the detect stage stores: box (None: whole image) padded, resized."""
        return imaging.square_crop(
            image, box, self.crop_size, resample=self.resample, pad_color=self.pad_color
        )

    def array_from_crop(self, crop: Image.Image) -> np.ndarray:
        """A stored square crop → the model input (what training's evaluation transform gives)."""
        return imaging.to_input_array(
            crop, self.input_size, mean=self.mean, std=self.std, resample=self.resample
        )

    def array(self, image: Image.Image, box: Sequence[float] | None) -> np.ndarray:
        return self.array_from_crop(self.crop(image, box))

    def pixels(self, image: Image.Image, box: Sequence[float] | None) -> np.ndarray:
        """The model input before normalization: uint8 (3, S, S); `Scorer.model_input`
        finishes it."""
        return imaging.to_input_pixels(
            self.crop(image, box), self.input_size, resample=self.resample
        )


# -- one photo → model input ----------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """One photo ready for the model, or the reason it cannot be scored.

    `box` is the person box the detector found (None when detection did not run or found no
    single person); `region` is what the model was given: the person box for a model trained
    on person crops, the whole photo for a model trained on whole photos. A photo scored whole
    although it breaks the one-person rule (`strict=False`) has both an array and its error.
    `quality` measures the person's face (faces.quality) when one was found; `faces` holds
    every face, each ready for the model on its own (None unless every face was asked for).
    `array` is the float32 model input, or its uint8 pixels from a `compact` preparer (the
    engine session normalizes those: `Scorer.model_input`).
    """

    array: np.ndarray | None = None
    box: Box | None = None
    region: Box | None = None
    image_size: tuple[int, int] | None = None
    error: ImageError | None = None
    quality: Quality | None = None
    faces: tuple[PreparedFace, ...] | None = None
    landmarks: tuple[tuple[float, float], ...] | None = None  # the person's face, photo pixels

    def inputs(self) -> list[np.ndarray | None]:
        """What this photo sends to the model, in order: its own input, then each face's."""
        return [self.array, *(f.array for f in self.faces or ())]


@dataclass(frozen=True)
class PreparedFace:
    """One face of a photo: face box and landmarks in the photo's pixels, its person box
    (`region`) cropped as the card's rule crops a person, or `face_too_small`."""

    box: Box
    landmarks: tuple[tuple[float, float], ...]
    confidence: float
    main: bool
    region: Box | None = None
    array: np.ndarray | None = None
    quality: Quality | None = None
    error: ImageError | None = None


def rounded(box: Sequence[float]) -> Box:
    return (round(box[0], 1), round(box[1], 1), round(box[2], 1), round(box[3], 1))


def full_points(image: Image.Image, face: Face) -> tuple[tuple[float, float], ...] | None:
    """A face's landmarks in the photo's pixels (None when the detector gave none)."""
    if not face.landmarks:
        return None
    scale = float(image.info.get(imaging.DECODE_SCALE, 1))
    return tuple((round(x * scale, 1), round(y * scale, 1)) for x, y in face.landmarks)


def face_quality(image: Image.Image, face: Face) -> Quality:
    """One detected face's quality on the decoded photo (eye distance in the photo's pixels)."""
    from prettymeter.faces.quality import measure

    scale = float(image.info.get(imaging.DECODE_SCALE, 1))
    return measure(image, face.box, face.landmarks, scale)


class PhotoPreparer:
    """Decode → detect → the card's crop → input array, for one model. Thread-safe.

    `one_person` is the policy (on by default in the product): detection runs on every photo
    and a photo without exactly one clearly visible person is refused when `strict`. With
    `strict=False` (the original routes, `predict --whole`) such a photo is scored whole, as the
    original did. A model trained on person crops always runs the detector: its input is the crop.
    `compact`: each input is kept as its uint8 pixels, normalized when its batch runs (the
    service: a photo waiting for the model holds a quarter of the memory).
    """

    def __init__(
        self,
        spec: InputSpec,
        detector: FaceDetector | None,
        *,
        one_person: bool = True,
        max_pixels: int = imaging.DEFAULT_MAX_PIXELS,
        compact: bool = False,
    ) -> None:
        if detector is None and (one_person or spec.crops_person):
            why = "is trained on person crops" if spec.crops_person else "has the one-person rule"
            raise PrettyMeterError(f"this model {why} but no face detector was given")
        self.spec = spec
        self.detector = detector
        self.one_person = one_person
        self.max_pixels = max_pixels
        self.input = spec.pixels if compact else spec.array  # (image, box) → the model input

    @property
    def detects(self) -> bool:
        return self.one_person or self.spec.crops_person

    def decode(self, photo: bytes | Image.Image) -> Image.Image:
        if isinstance(photo, Image.Image):
            return imaging.to_rgb(photo)
        min_side = imaging.min_side_for(self.spec.crop_size)
        return imaging.decode_image(bytes(photo), self.max_pixels, min_side)

    def prepare(self, photo: bytes | Image.Image, strict: bool = True) -> Prepared:
        """Never raises for a bad photo: the error is in the result."""
        try:
            image = self.decode(photo)
        except ImageError as exc:
            return Prepared(error=exc)
        from prettymeter.faces.person import find_person

        person = find_person(image, self.detector if self.detects else None)
        return self.prepared(image, person, strict)

    def prepared(self, image: Image.Image, person: PersonResult, strict: bool) -> Prepared:
        """A decoded photo and the person rule's answer on it → the model input or the error."""
        width, height = imaging.full_size(image)  # boxes and size in the photo's pixels
        whole: Box = (0.0, 0.0, float(width), float(height))
        found: Box | None = None
        if self.detects:
            found = person.person_box
            if found is None:
                reason = person.filter_reason or NO_FACE
                message = FILTER_MESSAGES.get(reason, f"this photo cannot be scored ({reason})")
                refused = ImageError(reason, message)
                if strict:
                    return Prepared(image_size=(width, height), error=refused)
                # Not strict: scored whole, as the original did; the reason stays with the result.
                array = self.input(image, None)
                return Prepared(array, None, whole, (width, height), error=refused)
        box = rounded(imaging.to_full(found, image)) if found is not None else None
        face = person.face if found is not None else None
        quality = face_quality(image, face) if face is not None else None
        size = (width, height)
        points = full_points(image, face) if face is not None else None
        if self.spec.crops_person and found is not None:
            array = self.input(image, found)
            return Prepared(array, box, box, size, quality=quality, landmarks=points)
        array = self.input(image, None)
        return Prepared(array, box, whole, size, quality=quality, landmarks=points)


# -- model output → what a person reads ------------------------------------------------------------


@dataclass(frozen=True)
class Rating:
    """One photo's result on every path: score 0-10 (one decimal) or the error."""

    score: float | None = None
    label: float | None = None
    rate: float | None = None
    percentile: float | None = None
    uncertainty: float | None = None
    box: Box | None = None
    region: Box | None = None
    image_size: tuple[int, int] | None = None
    error: str | None = None
    message: str | None = None
    source: str | None = None
    quality: Quality | None = None
    faces: tuple[FaceRating, ...] | None = None
    explanation: dict[str, Any] | None = None  # explain=true: prettymeter.explain

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FaceRating:
    """One face of a photo (`faces="all"`): where it is, and its own rating (`rating.region` is
    the person box its crop was cut from; `rating.error` is `face_too_small` without a score)."""

    box: Box
    landmarks: tuple[tuple[float, float], ...]
    confidence: float
    main: bool
    rating: Rating


def score_of(label: float) -> float:
    """The served 0-10 score of a 0-1 label, one decimal."""
    return round(min(10.0, max(0.0, 10.0 * label)), 1)


def rating(
    card: ModelCard,
    prepared: Prepared,
    label: float | None,
    std: float | None,
    source: str | None = None,
    faces: Sequence[Scored] = (),
) -> Rating:
    """Turn the model's label (None when the photo was not scored) into the result; `faces`:
    each prepared face's (label, std), in order."""
    result = _rating(card, prepared, label, std, source)
    if prepared.faces is None:
        return result
    rated = tuple(
        FaceRating(
            f.box,
            f.landmarks,
            f.confidence,
            f.main,
            _rating(card, Prepared(None, f.region, f.region, None, f.error, f.quality), *scored),
        )
        for f, scored in zip(prepared.faces, faces, strict=True)
    )
    return replace(result, faces=rated)


def _rating(
    card: ModelCard,
    prepared: Prepared,
    label: float | None,
    std: float | None,
    source: str | None = None,
) -> Rating:
    error = prepared.error
    if label is None:
        return Rating(
            image_size=prepared.image_size,
            error=error.code if error else "not_scored",
            message=str(error) if error else "the photo was not scored",
            source=source,
        )
    clipped = min(1.0, max(0.0, float(label)))
    return Rating(
        error=error.code if error else None,
        message=str(error) if error else None,
        score=score_of(label),
        label=float(label),
        rate=round(card.to_rate(clipped), 2),
        percentile=card.percentile(float(label)),
        uncertainty=round(10.0 * std, 2) if std is not None else None,
        box=prepared.box,
        region=prepared.region,
        image_size=prepared.image_size,
        source=source,
        quality=prepared.quality,
    )


# -- what a loaded model reads photos with --------------------------------------------------------


def load_detector() -> FaceDetector:
    """The face detector (MTCNN on ONNX Runtime); one instance may serve every model."""
    from prettymeter.faces.mtcnn import FaceDetector

    return FaceDetector()


def read_photo(photo: Photo, max_file_bytes: int) -> bytes | Image.Image | ImageError:
    """A path's bytes (a missing file → `not_found`, one over the limit → `too_large`, refused
    before a byte is read into memory), or the bytes or image as given."""
    if isinstance(photo, (str, Path)):
        try:
            size = Path(photo).stat().st_size
            if size > max_file_bytes:
                return ImageError(
                    "too_large",
                    f"{photo} is {size:,} bytes, above the limit of {max_file_bytes:,}; "
                    "resize it first",
                )
            return Path(photo).read_bytes()
        except OSError as exc:
            missing = isinstance(exc, FileNotFoundError)
            why = "does not exist" if missing else f"cannot be read ({exc.strerror})"
            return ImageError("not_found", f"{photo} {why}")
    if isinstance(photo, (bytearray, memoryview)):
        return bytes(photo)
    return photo


def source_of(photo: Photo) -> str | None:
    """What a rating names as its source: the path, for a photo given by path."""
    return str(photo) if isinstance(photo, (str, Path)) else None
