"""Every face of a photo, each ready for the model on its own crop (`faces="all"`).

The photo keeps the one-person rule's answer (its own score, or `several_faces`); next to it,
every confident face, largest first, up to MAX_FACES, is cut by the card's crop rule from its
own person box (the box `faces.person` puts around one face) and measured (`faces.quality`).
A face too small for a useful crop is listed with its box and `face_too_small`. A model trained
on whole photos was never shown a single face: it answers `whole_photo_model` per photo.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from PIL import Image

from prettymeter import imaging
from prettymeter.contract import FACE_TOO_SMALL, FILTER_MESSAGES
from prettymeter.errors import ImageError
from prettymeter.inference import PhotoPreparer, Prepared, PreparedFace, face_quality, rounded

if TYPE_CHECKING:
    from prettymeter.faces.person import Detector, PersonFace

# A crowd's tenth face is small and its crop poor; each face costs one model input, so a
# request's cost stays bounded (the main face is among the largest by the rule's definition).
MAX_FACES = 10
WHOLE_PHOTO_MODEL = "whole_photo_model"
WHOLE_PHOTO_MESSAGE = (
    "this model was trained on whole photos and cannot score single faces; send the photo "
    "without faces=all, or use a model trained on person crops (detector mtcnn)"
)


def thorough(detector: Detector | None) -> Any:
    """The same detector searching every pyramid level in one pass: the default coarse-first
    search may leave out faces under half the largest one's size, which the one-person rule
    ignores but `faces="all"` lists. The copy shares the nets' sessions (thread-safe)."""
    every: Any = copy.copy(detector)
    if hasattr(every, "coarse_first"):
        every.coarse_first = False
    return every


def prepare_every(
    preparer: PhotoPreparer, detector: Detector, photo: bytes | Image.Image, strict: bool
) -> Prepared:
    """The photo as `PhotoPreparer.prepare` gives it, plus every face (`Prepared.faces`).
    `detector` is the thorough one (`thorough`); never raises for a bad photo."""
    from prettymeter.faces.person import every_person

    try:
        image = preparer.decode(photo)
    except ImageError as exc:
        return Prepared(error=exc)
    if not preparer.spec.crops_person:
        error = ImageError(WHOLE_PHOTO_MODEL, WHOLE_PHOTO_MESSAGE)
        return Prepared(image_size=imaging.full_size(image), error=error)
    person, people = every_person(detector.detect(image), image.width, image.height, MAX_FACES)
    prepared = preparer.prepared(image, person, strict)
    faces = tuple(face_input(preparer, image, p, prepared) for p in people)
    return replace(prepared, faces=faces)


def face_input(
    preparer: PhotoPreparer, image: Image.Image, person: PersonFace, photo: Prepared
) -> PreparedFace:
    """One face's own crop by the card's rule (its person box), or `face_too_small`. The main
    face cropped as the photo was shares the photo's input (the model scores it once)."""
    face = person.face
    scale = float(image.info.get(imaging.DECODE_SCALE, 1))
    points = tuple((round(x * scale, 1), round(y * scale, 1)) for x, y in face.landmarks or ())
    box = rounded(imaging.to_full(face.box, image))
    confidence = round(face.confidence, 4)
    if person.person_box is None:
        error = ImageError(FACE_TOO_SMALL, FILTER_MESSAGES[FACE_TOO_SMALL])
        return PreparedFace(box, points, confidence, person.main, error=error)
    region = rounded(imaging.to_full(person.person_box, image))
    same = person.main and photo.array is not None and photo.region == region
    return PreparedFace(
        box,
        points,
        confidence,
        person.main,
        region=region,
        array=photo.array if same else preparer.input(image, person.person_box),
        quality=face_quality(image, face),
    )
