"""Real face photos and their degraded variants: what the quality advice thresholds are set and
tested on (tests/faces/test_quality.py, bench/quality_thresholds.py).

Sources: the two fixtures and the real portraits installed packages ship (matplotlib's
grace_hopper.jpg). Each becomes several bases (itself, mirrored, two other framings); each base
gets clean variants (itself, JPEG at quality 70), mild ones (light blur, exposure × 0.7 and
× 1.4, ±5° rotation, a face scaled to 1.5 × the size limit) and, per advice, clearly degraded
ones (Gaussian blur, exposure × 0.25 and × 3, the face shrunk to 0.7 × the limit, the head
rotated to ±(limit + 10°) of roll).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from prettymeter.faces import Face, FaceDetector, main_faces
from prettymeter.faces.quality import MAX_ROLL, MIN_EYE_DISTANCE, Quality, measure
from tests.support.paths import DATA

# blur σ in inter-eye distances: 0.08 IED is ~4 px on a face measured at 128 px (clearly
# soft to the eye); the mild blur, 0.015 IED, is under one pixel there
BLUR_CLEAR, BLUR_MILD = 0.08, 0.015


def sources() -> dict[str, Image.Image]:
    """The real face photos on this machine: the fixtures and the packages' portraits."""
    found = {name: Image.open(DATA / name).convert("RGB") for name in ("man.png", "woman.jpg")}
    try:
        import matplotlib

        hopper = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
        if hopper.is_file():
            found["grace_hopper.jpg"] = Image.open(hopper).convert("RGB")
    except ImportError:
        pass
    return found


def bases(image: Image.Image) -> list[tuple[str, Image.Image]]:
    w, h = image.size
    return [
        ("original", image),
        ("mirror", image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)),
        ("frame-a", image.crop((0, 0, round(0.9 * w), round(0.92 * h)))),
        ("frame-b", image.crop((round(0.08 * w), round(0.05 * h), w, h))),
    ]


def main_face(detector: FaceDetector, image: Image.Image) -> Face | None:
    found = main_faces(detector.detect(image))
    return found[0] if found else None


def measured(image: Image.Image, face: Face) -> Quality:
    return measure(image, face.box, face.landmarks)


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def scaled_exposure(image: Image.Image, factor: float) -> Image.Image:
    pixels = np.asarray(image, dtype=np.float32) * factor
    return Image.fromarray(np.clip(pixels, 0, 255).round().astype(np.uint8), "RGB")


def blurred(image: Image.Image, sigma: float) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(sigma))


def resized_face(image: Image.Image, ied: float, target: float) -> Image.Image:
    scale = target / ied
    return image.resize(
        (max(1, round(image.width * scale)), max(1, round(image.height * scale))),
        Image.Resampling.LANCZOS,
    )


def rotated(image: Image.Image, degrees: float) -> Image.Image:
    """Turned counter-clockwise by `degrees` (roll falls by as much), edges filled grey."""
    return image.rotate(degrees, Image.Resampling.BICUBIC, expand=True, fillcolor=(128, 128, 128))


Variant = Callable[[Image.Image, Quality], Image.Image]


def clean_variants() -> dict[str, Variant]:
    return {"clean": lambda im, q: im, "jpeg-70": lambda im, q: jpeg(im, 70)}


def mild_variants() -> dict[str, Variant]:
    return {
        "blur-mild": lambda im, q: blurred(im, BLUR_MILD * (q.eye_distance or 0)),
        "exposure-0.7": lambda im, q: scaled_exposure(im, 0.7),
        "exposure-1.4": lambda im, q: scaled_exposure(im, 1.4),
        "rotate+5": lambda im, q: rotated(im, 5),
        "rotate-5": lambda im, q: rotated(im, -5),
        "face-1.5x-limit": lambda im, q: resized_face(
            im, q.eye_distance or 1, 1.5 * MIN_EYE_DISTANCE
        ),
    }


def degraded_variants() -> dict[str, dict[str, Variant]]:
    """Per advice code, the variants on which it must fire."""
    tilt = MAX_ROLL + 10
    return {
        "blurred": {
            "blur": lambda im, q: blurred(im, BLUR_CLEAR * (q.eye_distance or 0)),
            "blur-2x": lambda im, q: blurred(im, 2 * BLUR_CLEAR * (q.eye_distance or 0)),
        },
        "too_dark": {"exposure-0.25": lambda im, q: scaled_exposure(im, 0.25)},
        "overexposed": {"exposure-3": lambda im, q: scaled_exposure(im, 3.0)},
        "face_small": {
            "face-0.7x-limit": lambda im, q: resized_face(
                im, q.eye_distance or 1, 0.7 * MIN_EYE_DISTANCE
            )
        },
        "head_tilted": {
            # from the face's own roll to ±(limit + 10°): roll = -(counter-clockwise turn)
            "roll+": lambda im, q: rotated(im, (q.roll or 0) - tilt),
            "roll-": lambda im, q: rotated(im, (q.roll or 0) + tilt),
        },
    }


# Variants that keep every pixel where it was: when the detector misses the face on one (a face
# washed out by × 3 exposure), it is measured where the detector found it on the base, so the
# threshold is set on the measure itself; the miss is counted apart (`located_on_base`).
SAME_GEOMETRY = ("jpeg", "exposure", "blur")


@dataclass(frozen=True)
class Sample:
    source: str
    base: str
    variant: str
    quality: Quality | None  # None: the detector found no face on the variant
    located_on_base: bool = False


def samples(
    detector: FaceDetector, variants: dict[str, Variant], names: list[str] | None = None
) -> Iterator[Sample]:
    """Every source × base × variant, measured on the variant's main face."""
    for source, image in sources().items():
        if names is not None and source not in names:
            continue
        for base_name, base in bases(image):
            face = main_face(detector, base)
            if face is None:
                continue
            q = measured(base, face)
            for variant_name, make in variants.items():
                made = make(base, q)
                found = main_face(detector, made)
                if found is not None:
                    yield Sample(source, base_name, variant_name, measured(made, found))
                elif variant_name.startswith(SAME_GEOMETRY):
                    yield Sample(source, base_name, variant_name, measured(made, face), True)
                else:
                    yield Sample(source, base_name, variant_name, None)
