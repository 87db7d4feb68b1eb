"""The facts training, export, the data stages and inference must agree on, defined once.

A model is trained on what the data stages wrote and served on what inference feeds it; both
sides import these names instead of writing the values again, so a mismatch (another detector
name, another ONNX output, another confidence threshold) cannot be written on one side only.
tests/core/test_contract.py fails when one of these values is written out elsewhere in src.
This module imports nothing of pretty-meter: everything may import it.
"""

from __future__ import annotations

# -- geometry -------------------------------------------------------------------------------------

Box = tuple[float, float, float, float]
"""x1, y1, x2, y2 in image pixels (after EXIF orientation)."""

# -- person detection: which detector made the crops ----------------------------------------------

MTCNN = "mtcnn"  # the person box from the main face (faces.mtcnn + faces.person)
NO_DETECTOR = "none"  # the whole photo is the person (photos already cropped, synthetic data)
DETECTORS = (MTCNN, NO_DETECTOR)

# -- the person rule (the original's): from detected faces to one person -------------------------

# A face counts when the detector is more than 66 % sure ...
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

# Why a photo has no single clearly visible person: the detect stage's `filter_reason` column
# and the per-photo error code of every scoring path, with the message a person reads.
NO_FACE = "no_face"
SEVERAL_FACES = "several_faces"
FACE_TOO_SMALL = "face_too_small"
FILTER_MESSAGES = {
    NO_FACE: "no face found on this photo; send a photo on which one face is clearly visible",
    SEVERAL_FACES: "more than one face on this photo; send a photo of one person only",
    FACE_TOO_SMALL: "the face is too small on this photo; send a photo taken closer",
}
FILTER_REASONS = tuple(FILTER_MESSAGES)

# -- the exported model's ONNX graph (training/export.py writes it, scoring.py runs it) -----------

INPUT_NAME = "input"  # float32 [N, 3, S, S], the card's preprocessing applied
LABEL_OUTPUT = "label"  # [N] 0-1; the served score is 10 × label
STD_OUTPUT = "label_std"  # [N] the predicted std of the label's error
# [N, H, W] the label at each cell of the last feature map (its mean is the label before
# clipping); only backbones that pool that map straight into the head have it.
LABEL_MAP_OUTPUT = "label_map"

# The MTCNN nets' ONNX input (training/detector_export.py writes them, faces/mtcnn.py runs them).
DETECTOR_INPUT_NAME = "input"

# -- Parquet table metadata keys ------------------------------------------------------------------

# Each stage writes its own JSON under this key in the file metadata (the next stage drops it).
STAGE_METADATA_KEY = b"prettymeter"
# In the schema metadata, carried through every later stage: ingest's format and rate scale ...
INGEST_METADATA_KEY = b"prettymeter.ingest"
# ... and how detect cut the crops (detector, crop size, the person rule's constants).
DETECT_METADATA_KEY = b"prettymeter.detect"
