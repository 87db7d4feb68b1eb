"""The demo's photos: real faces from portraits that installed packages ship, made up so that a
rate is learnable from the face, and composed on varied backgrounds, some with two people.

No photo of a person ships with pretty-meter, so the recipe takes the portraits its own
dependencies carry (SOURCES: matplotlib's sample data, scikit-image's data), finds the face on
each with the product's own detector (MTCNN) and keeps its 5 landmarks. Each new photo takes
one portrait (or its mirror), paints a made-up look on the face at places the landmarks give
(skin warmth, lip colour, eye shadow: `Look`, whose `true_rate` is the noiseless rate), and
pastes it, rotated a little and scaled, onto a real texture or a drawn background under uneven
light. Some photos get a second person: a small one in the back (the photo keeps one main
face) or one as large (two main faces: the detect stage filters the photo as `several_faces`).
The look is the only thing the rate depends on; identity, place, size, angle, light and
background vary independently of it, so the model must find the face and look at it.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from prettymeter.data.synth import Made, check_output, write_dataset
from prettymeter.errors import PrettyMeterError
from prettymeter.faces import FaceDetector, main_faces


@dataclass(frozen=True)
class Source:
    """A picture inside an installed package (found without importing it)."""

    package: str
    path: str
    credit: str

    def locate(self) -> Path | None:
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            return None
        path = Path(next(iter(spec.submodule_search_locations))) / self.path
        return path if path.is_file() else None


SOURCES = (
    Source(
        "matplotlib",
        "mpl-data/sample_data/grace_hopper.jpg",
        "Grace Hopper, U.S. Navy photograph, public domain (matplotlib's sample data)",
    ),
    Source(
        "skimage",
        "data/astronaut.png",
        "Eileen Collins, NASA photograph, public domain (scikit-image's data)",
    ),
    Source(
        "skimage",
        "data/camera.png",
        "the cameraman, CC0 by Lav Varshney (scikit-image's data)",
    ),
)
TEXTURES = (
    Source("skimage", "data/brick.png", "CC0 (scikit-image's data)"),
    Source("skimage", "data/grass.png", "CC0 (scikit-image's data)"),
    Source("skimage", "data/gravel.png", "CC0 (scikit-image's data)"),
    Source("skimage", "data/coffee.png", "CC0 by Rachel Michetti (scikit-image's data)"),
    Source("skimage", "data/rocket.jpg", "SpaceX, public domain (scikit-image's data)"),
)

WEIGHTS = {"warmth": 0.45, "lips": 0.35, "eyes": 0.20}  # the look's share of the rate
TEXTURE_SHARE = 0.5  # of backgrounds cut from a real texture (the rest drawn)
SMALL_COMPANION_SHARE = 0.12  # photos with a small second person: kept, one main face
LARGE_COMPANION_SHARE = 0.06  # photos with a second person as large: filtered by detect
FACE_WIDTH = (0.17, 0.3)  # the main face's width, as a share of the photo's shorter side
# The look's paint: bold enough to survive the detect stage's 64-px person crop, where the
# mouth is a few pixels tall (a fainter look left the demo's small network guessing).
# Skin from a little cool to warm: red up and blue down by (warmth - 0.2) × this share (a bluer
# face than that is one MTCNN often misses, and would leave out low rates).
WARMTH_TINT = 0.5
EYE_SHADOW = (70, 25, 120)
LIP_COLOUR = (215, 20, 60)


MIRRORED = " (mirrored)"


@dataclass(frozen=True)
class Look:
    """The made-up look painted on a face, each in [0, 1]: the rate's only cause."""

    warmth: float  # skin from cool to warm
    lips: float  # lip colour from none to strong
    eyes: float  # eye shadow from none to strong


def true_rate(look: Look) -> float:
    """The noiseless rate, 1..9: what a model can learn from the face."""
    score = sum(weight * getattr(look, name) for name, weight in WEIGHTS.items())
    return 1.0 + 8.0 * score


@dataclass(frozen=True)
class Portrait:
    """A head and shoulders cut around one detected face; face box and landmarks in its px."""

    name: str
    image: Image.Image
    face: tuple[float, float, float, float]
    landmarks: tuple[tuple[float, float], ...]

    def mirrored(self) -> Portrait:
        w = self.image.width
        x1, y1, x2, y2 = self.face
        eye_l, eye_r, nose, mouth_l, mouth_r = ((w - x, y) for x, y in self.landmarks)
        return Portrait(
            self.name + MIRRORED,
            ImageOps.mirror(self.image),
            (w - x2, y1, w - x1, y2),
            (eye_r, eye_l, nose, mouth_r, mouth_l),
        )


def load_portraits(detector: FaceDetector | None = None) -> list[Portrait]:
    """Every source portrait installed here, cut around its one face, and its mirror image."""
    detector = detector or FaceDetector(threads=1)
    found: list[Portrait] = []
    for source in SOURCES:
        path = source.locate()
        if path is None:
            continue
        photo = Image.open(path).convert("RGB")
        faces = main_faces(detector.detect(photo))
        if len(faces) != 1 or faces[0].landmarks is None:
            continue
        portrait = _cut(path.name, photo, faces[0].box, faces[0].landmarks)
        found += [portrait, portrait.mirrored()]
    if not found:
        raise PrettyMeterError(
            "no portrait for the demo's photos was found; install the demo's extra: "
            "pip install 'pretty-meter[data]' (matplotlib and scikit-image ship them)"
        )
    return found


def _cut(
    name: str,
    photo: Image.Image,
    box: tuple[float, float, float, float],
    landmarks: tuple[tuple[float, float], ...],
) -> Portrait:
    x1, y1, x2, y2 = box
    fw, fh = x2 - x1, y2 - y1
    cx = (x1 + x2) / 2
    left, top = max(0.0, cx - 1.5 * fw), max(0.0, y1 - 0.8 * fh)
    right, bottom = min(float(photo.width), cx + 1.5 * fw), min(float(photo.height), y2 + 1.3 * fh)
    cut = photo.crop((round(left), round(top), round(right), round(bottom)))
    dx, dy = round(left), round(top)
    return Portrait(
        name,
        cut,
        (x1 - dx, y1 - dy, x2 - dx, y2 - dy),
        tuple((x - dx, y - dy) for x, y in landmarks),
    )


def _ellipse(
    shape: tuple[int, int], centre: tuple[float, float], radii: tuple[float, float]
) -> np.ndarray:
    """A soft elliptic mask: 1 inside, falling to 0 over the outer fifth."""
    yy, xx = np.ogrid[0 : shape[0], 0 : shape[1]]
    d = np.hypot((xx - centre[0]) / max(radii[0], 0.5), (yy - centre[1]) / max(radii[1], 0.5))
    return np.clip((1.2 - d) / 0.4, 0.0, 1.0).astype(np.float32)[..., None]


def _blend(
    pixels: np.ndarray,
    centre: tuple[float, float],
    radii: tuple[float, float],
    colour: tuple[float, float, float] | None,
    strength: float,
) -> None:
    """Blend `colour` into `pixels` (in place) inside a soft ellipse, up to `strength`; with
    `colour=None`, scale the channels by (1 + strength · (1, 0.2, -1)) instead (warmth)."""
    h, w = pixels.shape[:2]
    reach_x, reach_y = 1.2 * radii[0] + 1, 1.2 * radii[1] + 1
    left, right = max(0, int(centre[0] - reach_x)), min(w, int(centre[0] + reach_x) + 1)
    top, bottom = max(0, int(centre[1] - reach_y)), min(h, int(centre[1] + reach_y) + 1)
    if left >= right or top >= bottom:
        return
    window = pixels[top:bottom, left:right]
    mask = _ellipse(window.shape[:2], (centre[0] - left, centre[1] - top), radii)
    if colour is None:
        window *= 1.0 + mask * (strength * np.array([1.0, 0.2, -1.0], dtype=np.float32))
    else:
        alpha = strength * mask
        window *= 1.0 - alpha
        window += alpha * np.array(colour, dtype=np.float32)


def paint(portrait: Portrait, look: Look, scale: float) -> tuple[Image.Image, Image.Image]:
    """The portrait scaled by `scale` with `look` painted on; and its soft cut-out mask."""
    w, h = (max(8, round(side * scale)) for side in portrait.image.size)
    resized = portrait.image.resize((w, h), Image.Resampling.BILINEAR)
    pixels = np.array(resized, dtype=np.float32)
    x1, y1, x2, y2 = (v * scale for v in portrait.face)
    eye_l, eye_r, _, mouth_l, mouth_r = ((x * scale, y * scale) for x, y in portrait.landmarks)
    eye_gap = max(float(np.hypot(eye_r[0] - eye_l[0], eye_r[1] - eye_l[1])), 2.0)
    face_centre = ((x1 + x2) / 2, (y1 + y2) / 2)
    tint = WARMTH_TINT * (look.warmth - 0.2)
    _blend(pixels, face_centre, (0.45 * (x2 - x1), 0.55 * (y2 - y1)), None, tint)
    for eye in (eye_l, eye_r):
        where = (eye[0], eye[1] - 0.05 * eye_gap)
        _blend(pixels, where, (0.42 * eye_gap, 0.26 * eye_gap), EYE_SHADOW, look.eyes)
    mouth = ((mouth_l[0] + mouth_r[0]) / 2, (mouth_l[1] + mouth_r[1]) / 2)
    mouth_w = max(float(np.hypot(mouth_r[0] - mouth_l[0], mouth_r[1] - mouth_l[1])), 2.0)
    _blend(pixels, mouth, (0.75 * mouth_w, 0.32 * mouth_w), LIP_COLOUR, look.lips)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")

    # the cut-out: an ellipse around head and shoulders, soft at its edge
    centre = (face_centre[0], face_centre[1] + 0.45 * (y2 - y1))
    mask = _ellipse((h, w), centre, (1.35 * (x2 - x1), 1.45 * (y2 - y1)))[..., 0]
    return image, Image.fromarray((255 * mask).astype(np.uint8), "L")


def _random_look(rng: np.random.Generator) -> Look:
    warmth, lips, eyes = (float(v) for v in rng.uniform(0.0, 1.0, 3))
    return Look(warmth, lips, eyes)


class Scenes:
    """The demo's recipe: `Scenes(portraits, textures, size)(rng)` makes one photo (`Made`)."""

    def __init__(self, portraits: list[Portrait], textures: list[Image.Image], size: int) -> None:
        if size < 96:
            raise PrettyMeterError(f"--size must be at least 96 px for faces, got {size}")
        # Scaled once to the largest size a photo uses, so each photo resamples little.
        largest = FACE_WIDTH[1] * size
        self.portraits = [_scaled(p, largest / (p.face[2] - p.face[0])) for p in portraits]
        self.textures = [_shrunk(t, 2 * size) for t in textures]
        self.size = size

    def __call__(self, rng: np.random.Generator) -> Made:
        """One photo; its gender is drawn apart from the portrait (both models see every face)."""
        gender = "m" if rng.uniform() < 0.5 else "w"
        look = _random_look(rng)
        canvas = self._background(rng)
        roll = rng.uniform()
        companion = None
        if roll < SMALL_COMPANION_SHARE:
            companion = float(rng.uniform(0.3, 0.42))  # its face diagonal < half the main one's
        elif roll < SMALL_COMPANION_SHARE + LARGE_COMPANION_SHARE:
            companion = float(rng.uniform(0.8, 1.0))
        face_w = float(rng.uniform(*FACE_WIDTH)) * self.size
        centre_x = float(rng.uniform(0.35, 0.65))
        if companion is not None:
            side = 1.0 if rng.uniform() < 0.5 else -1.0
            centre_x = 0.5 - side * float(rng.uniform(0.16, 0.22))
            other_x = 0.5 + side * float(rng.uniform(0.2, 0.28))
            self._place(canvas, rng, _random_look(rng), face_w * companion, other_x)
        self._place(canvas, rng, look, face_w, centre_x)
        lit = self._light(canvas, rng)
        return Made(lit, true_rate(look), gender, people=1 if companion is None else 2)

    def _background(self, rng: np.random.Generator) -> Image.Image:
        s = self.size
        if self.textures and rng.uniform() < TEXTURE_SHARE:
            texture = self.textures[int(rng.integers(0, len(self.textures)))]
            side = int(rng.integers(s // 2, min(texture.size) + 1))
            x = int(rng.integers(0, texture.width - side + 1))
            y = int(rng.integers(0, texture.height - side + 1))
            cut = texture.crop((x, y, x + side, y + side))
            return cut.resize((s, s), Image.Resampling.BILINEAR)
        a, b = rng.integers(0, 256, (2, 3)).astype(np.float32)
        t = np.linspace(0.0, 1.0, s, dtype=np.float32)[:, None, None]
        if rng.uniform() < 0.5:
            t = t.transpose(1, 0, 2)
        pixels = np.broadcast_to(a * (1 - t) + b * t, (s, s, 3)).astype(np.uint8)
        image = Image.fromarray(np.ascontiguousarray(pixels), "RGB")
        pen = ImageDraw.Draw(image)
        for _ in range(int(rng.integers(3, 9))):
            x, y = rng.uniform(0, s, 2)
            r = float(rng.uniform(0.05, 0.25)) * s
            colour = tuple(int(v) for v in rng.integers(0, 256, 3))
            shape = pen.rectangle if rng.uniform() < 0.5 else pen.ellipse
            shape((x, y, x + r, y + r * float(rng.uniform(0.5, 1.5))), fill=colour)
        return image

    def _place(
        self, canvas: Image.Image, rng: np.random.Generator, look: Look, face_w: float, cx: float
    ) -> None:
        """Paste a painted portrait whose face is `face_w` px wide, centred at `cx` (share of
        the width), its face's top at 15-35 % of the height, turned by up to 8°."""
        portrait = self.portraits[int(rng.integers(0, len(self.portraits)))]
        x1, y1, x2, _ = portrait.face
        scale = face_w / (x2 - x1)
        image, mask = paint(portrait, look, scale)
        angle = float(rng.uniform(-8.0, 8.0))
        image = image.rotate(angle, Image.Resampling.BILINEAR)
        mask = mask.rotate(angle, Image.Resampling.BILINEAR)
        face_cx = (x1 + x2) / 2 * scale
        left = round(cx * self.size - face_cx)
        top = round(float(rng.uniform(0.15, 0.35)) * self.size - y1 * scale)
        canvas.paste(image, (left, top), mask)

    @staticmethod
    def _light(canvas: Image.Image, rng: np.random.Generator) -> Image.Image:
        """Uneven light: an overall level and a gradient across the photo."""
        pixels = np.asarray(canvas, dtype=np.float32)
        s = pixels.shape[1]
        level = float(rng.uniform(0.75, 1.2))
        slope = float(rng.uniform(-0.15, 0.15))
        ramp = level * (1.0 + slope * np.linspace(-1.0, 1.0, s, dtype=np.float32))
        lit = pixels * (ramp[None, :, None] if rng.uniform() < 0.5 else ramp[:, None, None])
        return Image.fromarray(np.clip(lit, 0, 255).astype(np.uint8), "RGB")


def _scaled(portrait: Portrait, scale: float) -> Portrait:
    """The portrait shrunk by `scale` (never enlarged), its face and landmarks with it."""
    if scale >= 1.0:
        return portrait
    w, h = (max(8, round(side * scale)) for side in portrait.image.size)
    sx, sy = w / portrait.image.width, h / portrait.image.height
    x1, y1, x2, y2 = portrait.face
    return Portrait(
        portrait.name,
        portrait.image.resize((w, h), Image.Resampling.BILINEAR),
        (x1 * sx, y1 * sy, x2 * sx, y2 * sy),
        tuple((x * sx, y * sy) for x, y in portrait.landmarks),
    )


def _shrunk(texture: Image.Image, longest: int) -> Image.Image:
    if max(texture.size) <= longest:
        return texture
    copy = texture.copy()
    copy.thumbnail((longest, longest), Image.Resampling.BILINEAR)
    return copy


def load_textures() -> list[Image.Image]:
    """The real textures installed here (none is needed: drawn backgrounds stand in)."""
    found = []
    for source in TEXTURES:
        path = source.locate()
        if path is not None:
            found.append(Image.open(path).convert("RGB"))
    return found


def generate_portraits(
    out: Path, n: int, seed: int, size: int = 192, overwrite: bool = False
) -> dict[str, Any]:
    """Write `n` rated photos of the portrait recipe into `out`; deterministic for `seed` (and
    the installed portraits). Returns the summary."""
    out = Path(out)
    check_output(out, n, overwrite)
    recipe = Scenes(load_portraits(), load_textures(), size)
    found = sorted({p.name.removesuffix(MIRRORED) for p in recipe.portraits})
    return {**write_dataset(out, n, seed, recipe), "size_px": size, "portraits": ", ".join(found)}


def group_photo(portraits: list[Portrait], width: int = 720, height: int = 400) -> Image.Image:
    """Every installed portrait side by side as it is (no look painted), each face a fifth of
    the height: a ready group photo for trying "score everyone" on the page."""
    originals = [p for p in portraits if not p.name.endswith(MIRRORED)] or portraits
    top, bottom = np.array([200, 210, 225], np.float32), np.array([120, 130, 150], np.float32)
    t = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    pixels = np.broadcast_to(top * (1 - t) + bottom * t, (height, width, 3)).astype(np.uint8)
    canvas = Image.fromarray(np.ascontiguousarray(pixels), "RGB")
    for i, portrait in enumerate(originals):
        x1, y1, x2, _ = portrait.face
        scale = 0.2 * height / (x2 - x1)
        image, mask = paint(portrait, Look(0.5, 0.0, 0.0), scale)  # warmth 0.5: no tint
        centre = (i + 0.5) / len(originals) * width
        canvas.paste(
            image, (round(centre - (x1 + x2) / 2 * scale), round(0.2 * height - y1 * scale)), mask
        )
    return canvas
