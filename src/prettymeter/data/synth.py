"""Synthetic rated photos: a drawn face-like figure whose rate is a learnable function of it.

No dataset ships and the machine may be offline, so the tests make their own (the demo's
photos, made of real faces, are `data.portraits`, written by the same `write_dataset`).
Each image is named in the dataset format. The true rate is a smooth function of what is
drawn (face size, skin brightness, eye size, hair hue, symmetry); the `rate` in the name adds
rater noise whose size shrinks with `voices`, like a real crowd mean. Some files are exact
copies and some near copies (re-encoded JPEG, slightly resized) under their own names, with
their own noisy rates, so dedupe has real work; some voices are below the default minimum (40)
and some countries are `unknown`.
"""

from __future__ import annotations

import colorsys
import io
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from prettymeter.errors import PrettyMeterError
from prettymeter.labels import UNKNOWN_COUNTRY, format_name

COUNTRIES = ("ru", "us", "de", "fr", "br", "in", "jp")
UNKNOWN_SHARE = 0.2
EXACT_SHARE = 0.05
NEAR_SHARE = 0.05
PNG_SHARE = 0.1
VOICES_RANGE = (5, 300)
LOW_VOICES_SHARE = 0.2
NOISE_AT_ONE_VOICE = 2.0  # rater noise sd = 2.0 / sqrt(voices): 0.9 at 5 voices, 0.12 at 300


@dataclass(frozen=True)
class Face:
    """The drawn attributes, each in [0, 1], plus layout choices that do not move the rate."""

    size: float
    skin: float
    eyes: float
    hair: float
    symmetry: float
    gender: str
    cx: float
    cy: float
    background: tuple[int, int, int, int, int, int]
    shirt: tuple[int, int, int]
    clutter: int


def true_rate(face: Face) -> float:
    """The noiseless rate, 1..9: what a model can learn from the pixels."""
    score = (
        0.30 * face.size
        + 0.25 * face.skin
        + 0.20 * face.eyes
        + 0.15 * face.hair
        + 0.10 * face.symmetry
    )
    return 1.0 + 8.0 * score


def _random_face(rng: np.random.Generator, gender: str) -> Face:
    r = rng.uniform(0.0, 1.0, 5)
    background = tuple(int(v) for v in rng.integers(0, 256, 6))
    return Face(
        size=float(r[0]),
        skin=float(r[1]),
        eyes=float(r[2]),
        hair=float(r[3]),
        symmetry=float(r[4]),
        gender=gender,
        cx=float(rng.uniform(0.32, 0.68)),
        cy=float(rng.uniform(0.4, 0.58)),
        background=background,  # type: ignore[arg-type]
        shirt=tuple(int(v) for v in rng.integers(0, 256, 3)),  # type: ignore[arg-type]
        clutter=int(rng.integers(4, 12)),
    )


def draw(face: Face, size: int, rng: np.random.Generator) -> Image.Image:
    """Draw one face-like figure at `size`×`size` px (drawn at the target size: fast)."""
    b = face.background
    # Gradient background between two random colours.
    t = np.linspace(0.0, 1.0, size, dtype=np.float32)[:, None, None]
    if b[0] % 2:  # horizontal or vertical gradient
        t = t.transpose(1, 0, 2)
    top = np.array(b[:3], dtype=np.float32)
    bottom = np.array(b[3:], dtype=np.float32)
    pixels = np.broadcast_to(top * (1 - t) + bottom * t, (size, size, 3)).astype(np.uint8)
    image = Image.fromarray(np.ascontiguousarray(pixels), "RGB")
    pen = ImageDraw.Draw(image)
    s = float(size)
    for _ in range(face.clutter):  # background shapes, partly hidden behind the person
        x, y = rng.uniform(0, s, 2)
        w = rng.uniform(0.08, 0.35) * s
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        shape = pen.rectangle if rng.uniform() < 0.5 else pen.ellipse
        shape((x, y, x + w, y + w * rng.uniform(0.5, 1.5)), fill=colour)

    height = (0.45 + 0.3 * face.size) * s  # head height: 45%..75% of the frame
    width = 0.74 * height
    cx, cy = face.cx * s, face.cy * s
    hair_rgb = tuple(int(255 * v) for v in colorsys.hsv_to_rgb(0.75 * face.hair, 0.8, 0.75))
    skin_level = 0.35 + 0.6 * face.skin
    skin_rgb = tuple(int(255 * v) for v in (skin_level, 0.82 * skin_level, 0.68 * skin_level))

    # Shoulders, then hair behind the head, then the head.
    pen.ellipse(
        (cx - 1.1 * width, cy + 0.38 * height, cx + 1.1 * width, cy + 1.6 * height), fill=face.shirt
    )
    if face.gender == "w":
        pen.rounded_rectangle(
            (cx - 0.62 * width, cy - 0.58 * height, cx + 0.62 * width, cy + 0.55 * height),
            radius=0.3 * width,
            fill=hair_rgb,
        )
    else:
        pen.ellipse(
            (cx - 0.56 * width, cy - 0.6 * height, cx + 0.56 * width, cy + 0.1 * height),
            fill=hair_rgb,
        )
    pen.ellipse(
        (cx - width / 2, cy - 0.45 * height, cx + width / 2, cy + 0.5 * height), fill=skin_rgb
    )

    # Eyes: size is a rate cue; asymmetry (low symmetry) shifts and shrinks the right eye.
    eye_r = (0.035 + 0.05 * face.eyes) * height
    skew = (1.0 - face.symmetry) * 0.12 * height
    for side, dy, scale in ((-1, 0.0, 1.0), (1, skew, 1.0 - 0.45 * (1.0 - face.symmetry))):
        ex, ey, r = cx + side * 0.2 * width, cy - 0.05 * height + dy, eye_r * scale
        pen.ellipse((ex - 1.4 * r, ey - r, ex + 1.4 * r, ey + r), fill=(250, 250, 250))
        pen.ellipse((ex - 0.6 * r, ey - 0.6 * r, ex + 0.6 * r, ey + 0.6 * r), fill=(30, 20, 10))
    pen.line(
        (cx, cy, cx - 0.04 * width, cy + 0.13 * height),
        fill=(90, 60, 50),
        width=max(1, size // 128),
    )
    mouth_w = 0.22 * width
    pen.arc(
        (cx - mouth_w, cy + 0.12 * height, cx + mouth_w, cy + 0.3 * height),
        20,
        160,
        fill=(150, 40, 50),
        width=max(1, size // 64),
    )
    return image


def _encode(image: Image.Image, fmt: str, quality: int = 92) -> bytes:
    buffer = io.BytesIO()
    if fmt == "JPEG":
        image.save(buffer, format="JPEG", quality=quality)
    else:
        image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _voices(rng: np.random.Generator) -> int:
    """A fifth of the photos below the default --min-voices (40), the rest 40..300, log-uniform."""
    low, high = (VOICES_RANGE[0], 39) if rng.uniform() < LOW_VOICES_SHARE else (40, VOICES_RANGE[1])
    return round(float(np.exp(rng.uniform(np.log(low), np.log(high)))))


def _noisy_rate(rng: np.random.Generator, rate: float, voices: int) -> float:
    noisy = rate + rng.normal(0.0, NOISE_AT_ONE_VOICE / np.sqrt(voices))
    return float(np.clip(round(noisy, 1), 0.0, 10.0))


@dataclass(frozen=True)
class Made:
    """One new photo of a recipe: the image, its noiseless rate and the gender it is filed as."""

    image: Image.Image
    rate: float
    gender: str
    people: int = 1


Recipe = Callable[[np.random.Generator], Made]


def drawn(size: int) -> Recipe:
    """The drawn-figure recipe at `size`×`size` px."""

    def make(rng: np.random.Generator) -> Made:
        gender = "m" if rng.uniform() < 0.5 else "w"
        face = _random_face(rng, gender)
        return Made(draw(face, size, rng), true_rate(face), gender)

    return make


def check_output(out: Path, n: int, overwrite: bool) -> None:
    """Refuse a bad count or an output folder that must not be written into."""
    if n < 1:
        raise PrettyMeterError(f"--n must be at least 1, got {n}")
    if out.exists() and not out.is_dir():
        raise PrettyMeterError(f"{out} is a file; give a directory for --out")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise PrettyMeterError(
            f"{out} is not empty; choose another --out or pass --overwrite to add to it"
        )


def generate(
    out: Path, n: int, seed: int, size: int = 256, overwrite: bool = False
) -> dict[str, Any]:
    """Write `n` rated drawn images into `out`; deterministic for `seed`. Returns the summary."""
    out = Path(out)
    check_output(out, n, overwrite)
    if size < 32:
        raise PrettyMeterError(f"--size must be at least 32 px, got {size}")
    return {**write_dataset(out, n, seed, drawn(size)), "size_px": size}


def _copy(
    rng: np.random.Generator, kind: str, source: bytes, image: Image.Image
) -> tuple[bytes, str]:
    """An exact copy (the same bytes) or a near one (re-encoded, maybe slightly smaller)."""
    if kind == "exact":
        return source, ".png" if source[:4] == b"\x89PNG" else ".jpg"
    scale = float(rng.uniform(0.9, 0.97))
    if rng.uniform() < 0.5:
        width, height = (max(8, round(side * scale)) for side in image.size)
        image = image.resize((width, height), Image.Resampling.BILINEAR)
    return _encode(image, "JPEG", quality=int(rng.integers(70, 85))), ".jpg"


def write_dataset(out: Path, n: int, seed: int, recipe: Recipe) -> dict[str, Any]:
    """Write `n` rated photos of `recipe` into `out` (checked by `check_output`), with exact
    and near copies under their own names and rates; deterministic for `seed`."""
    rng = np.random.default_rng(seed)
    from prettymeter.console import track

    counts = {"exact": 0, "near": 0, "m": 0, "w": 0, "low_voices": 0, "unknown": 0, "groups": 0}
    # Build into a temporary sibling directory when `out` is new, renamed at the end, so an
    # interrupted run never leaves a half-written dataset under the final name.
    fresh = not out.exists()
    if fresh:
        out.parent.mkdir(parents=True, exist_ok=True)
    target = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent)) if fresh else out
    try:
        previous: list[tuple[bytes, Made]] = []
        rates: list[float] = []
        for _ in track(range(n), "synth", total=n):
            kind = "new"
            roll = rng.uniform()
            if previous and roll < EXACT_SHARE:
                kind = "exact"
            elif previous and roll < EXACT_SHARE + NEAR_SHARE:
                kind = "near"
            if kind == "new":
                made = recipe(rng)
                fmt = "PNG" if rng.uniform() < PNG_SHARE else "JPEG"
                data = _encode(made.image, fmt)
                extension = ".png" if fmt == "PNG" else ".jpg"
                previous.append((data, made))
                counts["groups"] += made.people > 1
            else:
                source, made = previous[int(rng.integers(0, len(previous)))]
                data, extension = _copy(rng, kind, source, made.image)
                counts[kind] += 1
            voices = _voices(rng)
            country = (
                UNKNOWN_COUNTRY if rng.uniform() < UNKNOWN_SHARE else str(rng.choice(COUNTRIES))
            )
            rate = _noisy_rate(rng, made.rate, voices)
            rates.append(rate)
            counts[made.gender] += 1
            counts["low_voices"] += voices < 40
            counts["unknown"] += country == UNKNOWN_COUNTRY
            name = format_name(rng.bytes(16).hex(), made.gender, country, rate, voices, extension)
            (target / name).write_bytes(data)
        if fresh:
            os.replace(target, out)
    except BaseException:
        if fresh:
            for leftover in target.iterdir():
                leftover.unlink()
            target.rmdir()
        raise
    return {
        "out": str(out),
        "images": n,
        "seed": seed,
        "men": counts["m"],
        "women": counts["w"],
        "exact_copies": counts["exact"],
        "near_copies": counts["near"],
        "group_photos": counts["groups"],
        "voices_below_40": counts["low_voices"],
        "unknown_country": counts["unknown"],
        "rate_min": min(rates),
        "rate_max": max(rates),
    }
