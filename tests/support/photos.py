"""Photos and request payloads: the real fixtures, drawn faces, awkward encodings, seed bodies."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from prettymeter.probes import probe_photos
from tests.support.paths import DATA

# The page shrinks a photo to this long side before upload (frontend/src/compress.ts).
PAGE_MAX_SIDE = 512
PAGE_JPEG_QUALITY = 0.9


def synthetic_photos(count: int, seed: int = 7) -> list[Image.Image]:
    """Drawn 'photos': a skin-toned ellipse face with eyes on a noisy gradient background."""
    return probe_photos(count, seed)


def fixture_variants() -> list[Image.Image]:
    """The two real fixture photos seen 7 ways each, as users send them: whole, mirrored,
    cropped to the body and to the head, halved, turned 5°, grey (the engines' drift is judged
    on these: real photos move more under bf16 than drawn ones)."""
    from prettymeter.imaging import decode_image

    photos = []
    for name in ("man.png", "woman.jpg"):
        photo = decode_image(photo_bytes(name))
        w, h = photo.size
        photos += [
            photo,
            ImageOps.mirror(photo),
            photo.crop((w // 6, h // 8, w - w // 6, h - h // 4)),
            photo.crop((w // 4, h // 10, w - w // 4, h // 2)),
            photo.resize((w // 2, h // 2)),
            photo.rotate(5),
            photo.convert("L").convert("RGB"),
        ]
    return photos


def photo_bytes(name: str) -> bytes:
    return (DATA / name).read_bytes()


def man_photo() -> Image.Image:
    return Image.open(DATA / "man.png").convert("RGB")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def seed_body(photos: int = 1, name: str = "man.png") -> bytes:
    """A seed-route request body: `{"instances": [...]}`, the fixture photo `photos` times."""
    return json.dumps({"instances": [b64(photo_bytes(name))] * photos}).encode()


def fit_within(width: int, height: int, max_side: int = PAGE_MAX_SIDE) -> tuple[int, int]:
    """The page's fitWithin (frontend/src/compress.ts): never enlarged, long side ≤ max_side."""
    scale = min(1.0, max_side / max(width, height))
    if scale == 1.0:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


def page_photo(image: Image.Image) -> Image.Image:
    """The photo as the page shrinks it before upload."""
    return image.resize(fit_within(*image.size), Image.Resampling.BILINEAR)


def page_upload(image: Image.Image, quality: float = PAGE_JPEG_QUALITY) -> bytes:
    """The page's upload: shrunk to at most 512 px, JPEG at the page's quality (0-1)."""
    return encode(page_photo(image), "JPEG", quality=round(quality * 100))


def png_bomb(side: int = 30000) -> bytes:
    """A valid PNG header claiming side×side pixels with almost no data: a few KB."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit grayscale
    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(200)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def exif_rotated_jpeg(image: Image.Image) -> bytes:
    """The photo stored turned on its side, with EXIF orientation 6 saying 'turn it back'."""
    stored = image.transpose(Image.Transpose.ROTATE_90)  # what a phone sensor writes
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(stored, "JPEG", quality=95, exif=exif.tobytes())


def animated_gif(image: Image.Image) -> bytes:
    frames = [image.convert("P"), Image.new("RGB", image.size, (255, 0, 0)).convert("P")]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def heic(image: Image.Image) -> bytes:
    from pillow_heif import register_heif_opener

    register_heif_opener()
    return encode(image, "HEIF", quality=90)


def mode_variants(image: Image.Image) -> dict[str, bytes]:
    """The same photo in every awkward mode: RGBA, LA, P, CMYK, I;16, 1-bit."""
    rgba = image.convert("RGBA")
    rgba.putalpha(200)
    gray16 = Image.fromarray((np.asarray(image.convert("L"), dtype=np.uint16) * 257).astype("<u2"))
    assert gray16.mode == "I;16"
    return {
        "RGBA": encode(rgba, "PNG"),
        "LA": encode(image.convert("LA"), "PNG"),
        "P": encode(image.convert("P"), "PNG"),
        "CMYK": encode(image.convert("CMYK"), "JPEG", quality=95),
        "I;16": encode(gray16, "PNG"),
        "1": encode(image.convert("1"), "PNG"),
    }


def no_face_png(width: int = 200, height: int = 150) -> bytes:
    """A colour gradient: a valid photo on which the detector finds no face."""
    gradient = np.linspace(0, 255, width * height * 3).reshape(height, width, 3).astype(np.uint8)
    return encode(Image.fromarray(gradient, "RGB"), "PNG")
