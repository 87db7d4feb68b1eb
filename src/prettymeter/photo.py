"""Photo facts shared by the data stages: full decode check, size as seen, perceptual hash,
and the folder walk (hidden and symlinked folders skipped) that ingest and `rate` use."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from prettymeter.errors import ImageError
from prettymeter.imaging import open_image

EXIF_ORIENTATION = 0x0112
HASH_SIDE = 8  # 8×8 low DCT frequencies = 64 bits
_DCT_SIDE = 32
# Rows 0..7 of the unnormalized DCT-II matrix (scipy.fftpack.dct's default), 32 samples.
_DCT = 2.0 * np.cos(
    np.pi
    * np.arange(HASH_SIDE)[:, None]
    * (2 * np.arange(_DCT_SIDE)[None, :] + 1)
    / (2 * _DCT_SIDE)
)


def perceptual_hash(image: Image.Image) -> str:
    """64-bit pHash of a decoded image as 16 hex digits: the same bits as imagehash.phash
    (grey, 32×32 Lanczos, 2-D DCT, 8×8 low frequencies above their median), without its
    scipy import (a second per process)."""
    grey = image.convert("L").resize((_DCT_SIDE, _DCT_SIDE), Image.Resampling.LANCZOS)
    pixels = np.asarray(grey, dtype=np.float64)
    low = _DCT @ pixels @ _DCT.T
    bits = (low > np.median(low)).ravel()
    value = int.from_bytes(np.packbits(bits).tobytes(), "big")
    return f"{value:016x}"


def perceptual_hash_bytes(data: bytes) -> str:
    """pHash of encoded photo bytes, decoded the way ingest does (JPEG draft mode)."""
    return inspect_image(data).phash


@dataclass(frozen=True)
class ImageFacts:
    """What ingest learns by decoding a photo."""

    width: int
    height: int
    format: str
    phash: str


def inspect_image(data: bytes) -> ImageFacts:
    """Decode a photo fully (a damaged file fails here, not in a later stage) and hash it.

    JPEGs are decoded with Pillow's draft mode (DCT scaling): every byte is still entropy-decoded,
    so truncation is caught, at a fraction of the cost of a full-size decode.
    """
    image = open_image(data)
    width, height = image.size
    fmt = str(image.format)
    try:
        orientation = image.getexif().get(EXIF_ORIENTATION, 1)
    except Exception:  # a broken EXIF block is not our business; the pixels are
        orientation = 1
    if orientation in (5, 6, 7, 8):  # stored rotated: report the size the photo is seen at
        width, height = height, width
    try:
        if fmt == "JPEG":
            image.draft("L", (64, 64))
        image.load()
    except Exception as exc:
        raise ImageError(
            "not_an_image", "the image is damaged or truncated and cannot be decoded"
        ) from exc
    return ImageFacts(width, height, fmt, perceptual_hash(image))


def walk_files(ds: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """Every file under `ds` (relative posix paths, sorted) and the hidden folders skipped."""
    files: list[str] = []
    skipped: list[tuple[str, str]] = []
    for root, dirs, names in os.walk(ds):
        rel_root = Path(root).relative_to(ds)
        for hidden in sorted(d for d in dirs if d.startswith(".")):
            skipped.append(((rel_root / hidden).as_posix() + "/", "hidden folder, not searched"))
        for linked in sorted(d for d in dirs if not d.startswith(".")):
            if os.path.islink(os.path.join(root, linked)):  # os.walk does not follow it (loops)
                skipped.append(
                    ((rel_root / linked).as_posix() + "/", "symlinked folder, not followed")
                )
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files.extend((rel_root / name).as_posix() for name in names)
    files.sort()
    return files, skipped
