"""The main-face rule and the person box: from detected faces to one person on a photo."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

from PIL import Image

# The person rule's constants live in the contract: the detect stage and every scoring path
# apply the same rule, and the detect stage records them in the table it writes.
from prettymeter.contract import (
    FACE_TOO_SMALL,
    MAIN_FACE_DIAGONAL_RATIO,
    MIN_CONFIDENCE,
    MIN_FACE_FRACTION,
    NO_FACE,
    PERSON_ABOVE,
    PERSON_BELOW,
    PERSON_HALF_WIDTH,
    SEVERAL_FACES,
    Box,
)


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
    face: Face | None = None  # the main face (largest), with its landmarks


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
    """The original's rule: confident faces whose diagonal is at least half the largest one's."""
    confident = [f for f in faces if f.confidence > MIN_CONFIDENCE]
    if not confident:
        return []
    largest = max(f.diagonal for f in confident)
    main = [f for f in confident if f.diagonal >= MAIN_FACE_DIAGONAL_RATIO * largest]
    return sorted(main, key=lambda f: f.diagonal, reverse=True)


class Detector(Protocol):
    """What the person rule needs of a face detector (faces.mtcnn.FaceDetector is one)."""

    def detect(self, image: Image.Image) -> list[Face]: ...


def face_too_small(box: Box, width: int, height: int) -> bool:
    """A face box shorter than MIN_FACE_FRACTION of the photo's shorter side: no useful crop."""
    return min(box[2] - box[0], box[3] - box[1]) < MIN_FACE_FRACTION * min(width, height)


def find_person(image: Image.Image, detector: Detector | None) -> PersonResult:
    """Faces → main faces → person box, or the reason the photo is filtered.

    `detector=None` (`--detector none`): the whole image is the person box and nothing is
    filtered, for photos that are already cropped to the person.
    """
    width, height = image.size
    if detector is None:
        return PersonResult(person_box=(0.0, 0.0, float(width), float(height)))
    return person_from_faces(detector.detect(image), width, height)


def person_from_faces(faces: list[Face], width: int, height: int) -> PersonResult:
    """The person rule on the faces found on a photo of this size."""
    main = main_faces(faces)
    if not main:
        return PersonResult(faces=faces, filter_reason=NO_FACE)
    face = main[0]
    reason: str | None = None
    if len(main) > 1:
        reason = SEVERAL_FACES
    elif face_too_small(face.box, width, height):
        reason = FACE_TOO_SMALL
    return PersonResult(
        faces=faces,
        main_faces=len(main),
        face_box=face.box,
        person_box=None if reason else person_box_from_face(face.box, width, height),
        filter_reason=reason,
        confidence=face.confidence,
        face=face,
    )


@dataclass(frozen=True)
class PersonFace:
    """One face of a photo with its own person box (None: too small for a crop), and whether it
    is the photo's main face under the one-person rule (the face a plain request scores)."""

    face: Face
    person_box: Box | None
    main: bool


def every_person(
    faces: list[Face], width: int, height: int, limit: int
) -> tuple[PersonResult, list[PersonFace]]:
    """The person rule's answer and every confident face, largest first, at most `limit`."""
    person = person_from_faces(faces, width, height)
    confident = [f for f in faces if f.confidence > MIN_CONFIDENCE]
    confident.sort(key=lambda f: f.diagonal, reverse=True)
    return person, [
        PersonFace(
            face=f,
            person_box=None
            if face_too_small(f.box, width, height)
            else person_box_from_face(f.box, width, height),
            main=person.person_box is not None and f is person.face,
        )
        for f in confident[:limit]
    ]
