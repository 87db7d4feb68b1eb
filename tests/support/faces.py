"""Test photos for the face tests: the real fixtures, composites, a landscape, small tables."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from tests.support.paths import DATA


def load(name: str) -> Image.Image:
    with Image.open(DATA / name) as image:
        return image.convert("RGB")


def side_by_side(left: Image.Image, right: Image.Image) -> Image.Image:
    """Two photos next to each other on one canvas, scaled to the same height."""
    height = min(left.height, right.height)
    left = left.resize((round(left.width * height / left.height), height))
    right = right.resize((round(right.width * height / right.height), height))
    canvas = Image.new("RGB", (left.width + right.width, height), (255, 255, 255))
    canvas.paste(left, (0, 0))
    canvas.paste(right, (left.width, 0))
    return canvas


def landscape(width: int = 480, height: int = 360, seed: int = 0) -> Image.Image:
    """A generated photo with no person: sky gradient, hills, noise."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, height)[:, None]
    x = np.linspace(0, 1, width)[None, :]
    sky = np.stack([90 + 100 * y + 0 * x, 140 + 80 * y + 0 * x, 230 - 40 * y + 0 * x], axis=-1)
    ridge = 0.55 + 0.1 * np.sin(6 * x + 1.3) + 0.05 * np.sin(17 * x)
    ground = np.broadcast_to(y > ridge, (height, width))
    sky[ground] = [60, 120, 50]
    noisy = sky + rng.normal(0, 6, sky.shape)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB")


def encode(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def write_table(path: Path, images: Sequence[bytes], extra: dict | None = None) -> Path:
    """A table shaped like dedupe's output (docs/architecture.md) holding these photos."""
    n = len(images)
    sizes = [Image.open(io.BytesIO(data)).size for data in images]
    columns = {
        "path": pa.array([f"img{i:05d}.png" for i in range(n)]),
        "uuid": pa.array([f"u{i}" for i in range(n)]),
        "gender": pa.array(["m" if i % 2 else "w" for i in range(n)]),
        "country": pa.array(["unknown"] * n),
        "rate": pa.array([float(i % 10) for i in range(n)], pa.float64()),
        "voices": pa.array([100] * n, pa.int64()),
        "image": pa.array(list(images), pa.binary()),
        "sha256": pa.array([hashlib.sha256(d).hexdigest() for d in images]),
        "width": pa.array([w for w, _ in sizes], pa.int64()),
        "height": pa.array([h for _, h in sizes], pa.int64()),
        "format": pa.array(["PNG"] * n),
        "split": pa.array([None] * n, pa.string()),
        "group": pa.array(list(range(n)), pa.int64()),
        "paths": pa.array([[f"img{i:05d}.png"] for i in range(n)], pa.list_(pa.string())),
        "merged": pa.array([1] * n, pa.int64()),
    }
    table = pa.table(columns).replace_schema_metadata({b"prettymeter": b'{"stage": "dedupe"}'})
    pq.write_table(table, path, row_group_size=100)
    return path


def fit(image: Image.Image, short_side: int) -> Image.Image:
    """The photo scaled (bicubic) so its shorter side is `short_side` px."""
    scale = short_side / min(image.size)
    size = (round(image.width * scale), round(image.height * scale))
    return image.resize(size, Image.Resampling.BICUBIC)


def on_canvas(
    size: tuple[int, int], people: Sequence[tuple[Image.Image, float, float, float]], seed: int = 0
) -> Image.Image:
    """A landscape of `size` with each (photo, height as a share of the canvas's, x, y) pasted in;
    x and y are the photo's top-left corner as shares of the room left on the canvas."""
    canvas = landscape(*size, seed=seed)
    for photo, height, x, y in people:
        h = round(size[1] * height)
        scaled = photo.resize((round(photo.width * h / photo.height), h), Image.Resampling.BICUBIC)
        canvas.paste(scaled, (round((size[0] - scaled.width) * x), round((size[1] - h) * y)))
    return canvas


def parity_photos(man: Image.Image, woman: Image.Image) -> dict[str, Image.Image]:
    """Real photos of every kind the detector's fast path is checked on against its reference:
    the fixtures at several sizes, group photos (side by side, big and small faces together),
    faces small on large canvases, and photos with no face."""
    both = side_by_side(man, woman)
    return {
        "man": man,
        "woman": woman,
        "man 512": fit(man, 512),
        "woman 512": fit(woman, 512),
        "man 1000": fit(man, 1000),
        "woman 2000": fit(woman, 2000),
        "man 2000": fit(man, 2000),
        "man and woman": both,
        "woman and man 512": fit(side_by_side(woman, man), 512),
        "man and woman 1500": fit(both, 1500),
        "man with a second face at 70 %": on_canvas(
            (900, 600), [(man, 0.9, 0.1, 0.5), (woman, 0.63, 0.9, 0.2)]
        ),
        "man with a face at 35 % behind": on_canvas(
            (900, 600), [(man, 0.9, 0.1, 0.5), (woman, 0.31, 0.9, 0.2)]
        ),
        "man in a 1600 × 1200 canvas": on_canvas((1600, 1200), [(man, 0.5, 0.5, 0.5)]),
        "man small in a 2400 × 1800 canvas": on_canvas((2400, 1800), [(man, 0.15, 0.3, 0.6)]),
        "woman in a 1200 × 1200 canvas": on_canvas((1200, 1200), [(woman, 0.2, 0.5, 0.5)]),
        "two small people in 2000 × 1500": on_canvas(
            (2000, 1500), [(man, 0.3, 0.2, 0.5), (woman, 0.22, 0.8, 0.4)]
        ),
        "landscape": landscape(),
        "landscape 2000 × 1500": landscape(2000, 1500, seed=1),
    }
