"""What in a photo pulls a face's score down: sharpness, exposure, size and head pose of one face.

The measures are computed on what the model sees of the face: the detector's face box cut from
the decoded photo, turned to luma (ITU-R BT.601 weights, Pillow's "L") and resized to
`QUALITY_SIZE` px, so a measure does not depend on the photo's resolution. They follow the
face image quality measures of ISO/IEC 29794-5 as its open reference implementation OFIQ
names them, in simpler forms that need no extra model:

- sharpness: the variance of the Laplacian (4-neighbour) of the face at the fixed size, the
  classic focus measure (Pech-Pacheco et al., 2000); OFIQ's Sharpness feeds Laplacian and
  gradient statistics of the face region to a classifier, this keeps the statistic itself;
- exposure: the face's mean luma (OFIQ's LuminanceMean, here on 0-255) and the shares of
  crushed shadows (luma ≤ 25) and blown highlights (luma ≥ 247), after OFIQ's
  UnderExposurePrevention and OverExposurePrevention;
- size: the inter-eye distance in the photo's own pixels (OFIQ's InterEyeDistance);
- pose: roll from the eye line, yaw from the nose's offset along the eye line (OFIQ estimates
  pose with a 3D face model; five landmarks give roll exactly and yaw approximately).

The advice thresholds were measured on degraded variants of real photos (docs/api.md, "Photo
quality"; `bench/quality_thresholds.py` repeats the measurement). No torch, no OpenCV.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

QUALITY_SIZE = 128  # px: the face region is measured at this size, whatever the photo's
DARK_LUMA = 25  # a pixel at or below this luma (0-255) is a crushed shadow
BRIGHT_LUMA = 247  # a pixel at or above this luma is a blown highlight

# Advice thresholds (measured: docs/api.md "Photo quality", bench/quality_thresholds.py).
MIN_SHARPNESS = 15.0  # variance of the Laplacian at QUALITY_SIZE
MIN_BRIGHTNESS = 60.0  # mean luma of the face
MAX_DARK_SHARE = 0.4  # share of the face in crushed shadows
MAX_BRIGHTNESS = 230.0
MAX_BRIGHT_SHARE = 0.5  # share of the face in blown highlights
# Below 30 px between the eyes the face box is under ~65 px and the person box under ~180 px:
# the card's 256-px crop is blown up by 1.4× or more, and eyes and skin hold less detail than
# the model was trained on.
MIN_EYE_DISTANCE = 30.0  # px in the photo's own pixels
MAX_ROLL = 20.0  # degrees
MAX_YAW = 25.0  # degrees
# Yaw from five landmarks: the nose tip stands ahead of the eyes by about half the inter-eye
# distance (anthropometric averages: eyes ~63 mm apart, nose tip ~30 mm before the eye
# centres), so a turn by θ moves it along the eye line by 0.5·IED·tan θ of the projected IED.
NOSE_DEPTH_PER_IED = 0.5

BLURRED = "blurred"
TOO_DARK = "too_dark"
OVEREXPOSED = "overexposed"
FACE_SMALL = "face_small"
HEAD_TILTED = "head_tilted"
HEAD_TURNED = "head_turned"
ADVICE_MESSAGES = {
    BLURRED: "the face is blurred; hold the camera still and focus on the face",
    TOO_DARK: "the face is too dark; take the photo in more light",
    OVEREXPOSED: "the face is overexposed; avoid direct flash or bright sun on the face",
    FACE_SMALL: "the face is small on this photo; take the photo closer",
    HEAD_TILTED: "the head is tilted; hold the head level",
    HEAD_TURNED: "the head is turned away; face the camera",
}
ADVICE = tuple(ADVICE_MESSAGES)

Points = Sequence[tuple[float, float]]


@dataclass(frozen=True)
class Quality:
    """One face's quality measures and the advice they give (codes, worst-first order fixed)."""

    sharpness: float
    brightness: float
    dark_share: float
    bright_share: float
    eye_distance: float | None
    roll: float | None
    yaw: float | None
    advice: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "sharpness": self.sharpness,
            "brightness": self.brightness,
            "dark_share": self.dark_share,
            "bright_share": self.bright_share,
            "eye_distance": self.eye_distance,
            "roll": self.roll,
            "yaw": self.yaw,
            "advice": list(self.advice),
        }


def face_luma(image: Image.Image, box: Sequence[float]) -> np.ndarray:
    """The face box of the photo as luma, QUALITY_SIZE² float32 (box clipped to the photo)."""
    width, height = image.size
    x1, y1, x2, y2 = (float(v) for v in box)
    left, top = max(0, math.floor(x1)), max(0, math.floor(y1))
    right, bottom = min(width, math.ceil(x2)), min(height, math.ceil(y2))
    right, bottom = max(right, left + 1), max(bottom, top + 1)
    face = image.crop((left, top, right, bottom)).convert("L")
    face = face.resize((QUALITY_SIZE, QUALITY_SIZE), Image.Resampling.BILINEAR)
    return np.asarray(face, dtype=np.float32)


def sharpness(luma: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian (inner pixels)."""
    lap = (
        luma[:-2, 1:-1] + luma[2:, 1:-1] + luma[1:-1, :-2] + luma[1:-1, 2:] - 4.0 * luma[1:-1, 1:-1]
    )
    return float(lap.var())


def exposure(luma: np.ndarray) -> tuple[float, float, float]:
    """Mean luma, share of crushed shadows, share of blown highlights."""
    return (
        float(luma.mean()),
        float((luma <= DARK_LUMA).mean()),
        float((luma >= BRIGHT_LUMA).mean()),
    )


def head_pose(landmarks: Points) -> tuple[float, float, float]:
    """(roll °, yaw °, inter-eye distance) from MTCNN's five points: the eyes (image left
    first), nose tip, mouth corners. Roll > 0: the eye line falls to the right (clockwise in
    the photo); yaw > 0: the nose is right of the eye midpoint (the face turns to its left)."""
    (lx, ly), (rx, ry), (nx, ny) = landmarks[0], landmarks[1], landmarks[2]
    dx, dy = rx - lx, ry - ly
    ied = math.hypot(dx, dy)
    if ied < 1e-6:
        return 0.0, 0.0, 0.0
    roll = math.degrees(math.atan2(dy, dx))
    # the nose's offset from the eye midpoint along the eye line, in projected IEDs
    along = ((nx - (lx + rx) / 2) * dx + (ny - (ly + ry) / 2) * dy) / (ied * ied)
    yaw = math.degrees(math.atan(along / NOSE_DEPTH_PER_IED))
    return roll, yaw, ied


def advice_for(
    sharp: float,
    brightness: float,
    dark: float,
    bright: float,
    eye_distance: float | None,
    roll: float | None,
    yaw: float | None,
) -> tuple[str, ...]:
    """The advice codes the measures give, in the order of ADVICE."""
    fired = {
        BLURRED: sharp < MIN_SHARPNESS,
        TOO_DARK: brightness < MIN_BRIGHTNESS or dark > MAX_DARK_SHARE,
        OVEREXPOSED: brightness > MAX_BRIGHTNESS or bright > MAX_BRIGHT_SHARE,
        FACE_SMALL: eye_distance is not None and eye_distance < MIN_EYE_DISTANCE,
        HEAD_TILTED: roll is not None and abs(roll) > MAX_ROLL,
        HEAD_TURNED: yaw is not None and abs(yaw) > MAX_YAW,
    }
    return tuple(code for code in ADVICE if fired[code])


def measure(
    image: Image.Image,
    face_box: Sequence[float],
    landmarks: Points | None,
    scale: float = 1.0,
) -> Quality:
    """One face's quality on a decoded photo. `face_box` and `landmarks` are in the image's
    pixels; `scale` maps them to the photo's own pixels (a JPEG decoded at reduced size)."""
    luma = face_luma(image, face_box)
    sharp = sharpness(luma)
    brightness, dark, bright = exposure(luma)
    roll = yaw = ied = None
    if landmarks is not None and len(landmarks) >= 3:
        roll, yaw, eyes = head_pose(landmarks)
        ied = eyes * scale
    return Quality(
        sharpness=round(sharp, 1),
        brightness=round(brightness, 1),
        dark_share=round(dark, 3),
        bright_share=round(bright, 3),
        eye_distance=None if ied is None else round(ied, 1),
        roll=None if roll is None else round(roll, 1),
        yaw=None if yaw is None else round(yaw, 1),
        advice=advice_for(sharp, brightness, dark, bright, ied, roll, yaw),
    )
