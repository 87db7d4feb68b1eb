"""Face detection (MTCNN on ONNX Runtime, no torch), the main-face rule and the person box."""

from prettymeter.contract import MIN_CONFIDENCE, MIN_FACE_FRACTION
from prettymeter.faces.mtcnn import FaceDetector, auto_min_face_size
from prettymeter.faces.person import (
    Face,
    PersonResult,
    find_person,
    main_faces,
    person_box_from_face,
)

__all__ = [
    "MIN_CONFIDENCE",
    "MIN_FACE_FRACTION",
    "Face",
    "FaceDetector",
    "PersonResult",
    "auto_min_face_size",
    "find_person",
    "main_faces",
    "person_box_from_face",
]
