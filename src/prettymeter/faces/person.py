"""The main-face rule and the person box: from detected faces to one person on a photo."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

from PIL import Image

Box = tuple[float, float, float, float]

# The seed's rule (DESIGN §2): a face counts when the detector is more than 66 % sure ...
MIN_CONFIDENCE = 0.66
# ... and it is "main" when its box diagonal is at least half of the largest face's.
MAIN_FACE_DIAGONAL_RATIO = 0.5
# A main face whose box is shorter than this share of the photo's shorter side is too small to
# make a useful crop: the person box would be a handful of pixels blown up to the crop size.
MIN_FACE_FRACTION = 0.08

# The person box around a face box (fw, fh = face width and height; MTCNN's box runs from the
# brows to the chin and roughly from cheek to cheek): hair above, neck and shoulders below.
PERSON_ABOVE = 0.6  # × fh above the face box: forehead and hair
PERSON_BELOW = 0.9  # × fh below the face box: chin, neck, top of the shoulders
PERSON_HALF_WIDTH = 1.4  # × fw either side of the face centre: ears, hair, shoulders


@dataclass(frozen=True)
class Face:
    """One detected face: box (x1, y1, x2, y2) in image pixels, confidence 0-1, 5 landmarks."""

    box: Box
    confidence: float
    landmarks: tuple[tuple[float, float], ...] | None = None

    @property
    def diagonal(self) -> float:
        x1, y1, x2, y2 = self.box
        return math.hypot(x2 - x1, y2 - y1)


@dataclass(frozen=True)
class PersonResult:
    """Where the person is on a photo, and why the photo is filtered out (None = usable)."""

    faces: list[Face] = field(default_factory=list)
    main_faces: int = 0
    face_box: Box | None = None
    person_box: Box | None = None
    filter_reason: str | None = None
    confidence: float | None = None


def person_box_from_face(face_box: Box, width: int, height: int) -> Box:
    """Head, hair and shoulders around a face box, clipped to the image."""
    x1, y1, x2, y2 = (float(v) for v in face_box)
    face_w, face_h = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
    centre_x = (x1 + x2) / 2
    left = max(0.0, centre_x - PERSON_HALF_WIDTH * face_w)
    right = min(float(width), centre_x + PERSON_HALF_WIDTH * face_w)
    top = max(0.0, y1 - PERSON_ABOVE * face_h)
    bottom = min(float(height), y2 + PERSON_BELOW * face_h)
    if right - left < 1.0 or bottom - top < 1.0:  # a face box outside the photo
        return (0.0, 0.0, float(width), float(height))
    return (left, top, right, bottom)


def main_faces(faces: list[Face]) -> list[Face]:
    """The seed's rule: confident faces whose diagonal is at least half the largest one's."""
    confident = [f for f in faces if f.confidence > MIN_CONFIDENCE]
    if not confident:
        return []
    largest = max(f.diagonal for f in confident)
    main = [f for f in confident if f.diagonal >= MAIN_FACE_DIAGONAL_RATIO * largest]
    return sorted(main, key=lambda f: f.diagonal, reverse=True)


class Detector(Protocol):
    """What the person rule needs of a face detector (faces.mtcnn.FaceDetector is one)."""

    def detect(self, image: Image.Image) -> list[Face]: ...


def find_person(image: Image.Image, detector: Detector | None) -> PersonResult:
    """Faces → main faces → person box, or the reason the photo is filtered.

    `detector=None` (`--detector none`): the whole image is the person box and nothing is
    filtered, for photos that are already cropped to the person.
    """
    width, height = image.size
    if detector is None:
        return PersonResult(person_box=(0.0, 0.0, float(width), float(height)))
    faces = detector.detect(image)
    main = main_faces(faces)
    if not main:
        return PersonResult(faces=faces, filter_reason="no_face")
    face = main[0]
    reason: str | None = None
    if len(main) > 1:
        reason = "several_faces"
    elif min(face.box[2] - face.box[0], face.box[3] - face.box[1]) < MIN_FACE_FRACTION * min(
        width, height
    ):
        reason = "face_too_small"
    return PersonResult(
        faces=faces,
        main_faces=len(main),
        face_box=face.box,
        person_box=None if reason else person_box_from_face(face.box, width, height),
        filter_reason=reason,
        confidence=face.confidence,
    )
