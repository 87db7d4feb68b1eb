"""Photo bytes → model input, off the event loop: safe decode, person detection, THE preprocess."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from prettymeter.errors import ImageError
from prettymeter.imaging import decode_image, preprocess

if TYPE_CHECKING:
    from prettymeter.faces.mtcnn import FaceDetector

# The per-photo errors v1 reports for a photo on which no single person was found.
FILTER_MESSAGES = {
    "no_face": "no face found on this photo; send a photo on which one face is clearly visible",
    "several_faces": "more than one face on this photo; send a photo of one person only",
    "face_too_small": "the face is too small on this photo; send a photo taken closer",
}


@dataclass(frozen=True)
class Prepared:
    """One photo ready for the model, or the reason it cannot be scored."""

    array: np.ndarray | None = None
    box: tuple[float, float, float, float] | None = None
    image_size: tuple[int, int] | None = None
    error: ImageError | None = None


def decode_base64(text: object) -> bytes:
    """A base64 instance (optionally a data: URL) → bytes, or ImageError('invalid_base64')."""
    if not isinstance(text, str):
        raise ImageError("invalid_base64", "an instance is not a string; send base64 text")
    if text.startswith("data:") and "," in text[:200]:
        text = text.split(",", 1)[1]
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImageError(
            "invalid_base64", "an instance is not valid base64; encode the image file with base64"
        ) from exc


class Preparer:
    """Decodes, finds the person and preprocesses; thread-safe, called in a thread pool."""

    def __init__(self, detector: FaceDetector | None, max_pixels: int) -> None:
        self.detector = detector
        self.max_pixels = max_pixels

    def prepare(self, data: bytes, crop_size: int, input_size: int, strict: bool) -> Prepared:
        """`strict` (v1): a photo without exactly one usable face is an error; otherwise
        (the seed routes) the whole image is scored, as the seed did."""
        try:
            image = decode_image(data, self.max_pixels)
        except ImageError as exc:
            return Prepared(error=exc)
        from prettymeter.faces import find_person

        width, height = image.size
        person = find_person(image, self.detector)
        box = person.person_box
        if box is None:
            reason = person.filter_reason or "no_face"
            if strict:
                message = FILTER_MESSAGES.get(reason, f"this photo cannot be scored ({reason})")
                return Prepared(image_size=(width, height), error=ImageError(reason, message))
            box = (0.0, 0.0, float(width), float(height))
        array = preprocess(image, box, crop_size, input_size)
        rounded = (round(box[0], 1), round(box[1], 1), round(box[2], 1), round(box[3], 1))
        return Prepared(array=array, box=rounded, image_size=(width, height))
