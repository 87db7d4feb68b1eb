"""Small real photos and folders for the data-pipeline tests."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
from PIL import Image


def photo(seed: int, size: int = 48, fmt: str = "JPEG") -> bytes:
    """A small photo with its own content (random blocks), so pHashes differ between seeds."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
    image = Image.fromarray(blocks, "RGB").resize((size, size), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def resized_copy(data: bytes, scale: float = 0.93, quality: int = 80) -> bytes:
    """A near duplicate: the same photo slightly smaller and re-encoded."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    side = round(image.width * scale)
    buffer = io.BytesIO()
    image.resize((side, side), Image.Resampling.BILINEAR).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def tree_hashes(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder`, by relative path."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
