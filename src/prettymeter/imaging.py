"""Photo decoding and THE preprocessing function (crop → pad → resize → tensor) used everywhere.

Training, evaluation, CLI prediction, the detect stage and the service all import from here,
so a photo becomes exactly the same input array on every path (DESIGN §2).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageOps

from prettymeter.errors import ImageError

# ImageNet statistics: torchvision's pretrained backbones expect them.
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)

DEFAULT_MAX_PIXELS = 40_000_000  # a 40-megapixel phone photo passes; bombs do not
DEFAULT_MAX_FILE_BYTES = 100 * 1024 * 1024  # a photo file read from disk; larger ones are refused
DEFAULT_CROP_SIZE = 256
RESAMPLE = Image.Resampling.BILINEAR
PAD_COLOR = (0, 0, 0)
SLIVER_RATIO = 8  # a region longer than this many times its width is shrunk before padding

# Pillow format names we accept; anything else Pillow can open (PDF, EPS, ICO, ...) is refused.
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF", "HEIF", "AVIF", "MPO"})
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".heic", ".heif"}
)


_heif_registered = False


def _register_heif() -> None:
    global _heif_registered
    if not _heif_registered:
        try:
            from pillow_heif import register_heif_opener

            register_heif_opener()
        except ImportError:  # pragma: no cover - pillow-heif is a core dependency
            pass
        _heif_registered = True


def open_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Open photo bytes lazily and check format and size before any pixel is decoded."""
    _register_heif()
    if not data:
        raise ImageError(
            "not_an_image", "the file is empty (0 bytes); send a JPEG, PNG or WebP photo"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(
            "too_large", f"the image has too many pixels ({exc}); send a smaller photo"
        ) from exc
    except Exception as exc:
        raise ImageError(
            "not_an_image",
            "the data is not an image Pillow can read; send a JPEG, PNG or WebP photo",
        ) from exc
    if image.format not in ACCEPTED_FORMATS:
        raise ImageError(
            "unsupported_format",
            f"{image.format or 'this'} files are not accepted; "
            "send a JPEG, PNG, WebP or HEIC photo",
        )
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageError("not_an_image", "the image has no pixels; send a real photo")
    if width * height > max_pixels:
        raise ImageError(
            "too_large",
            f"the image is {width}×{height} = {width * height:,} pixels, above the limit of "
            f"{max_pixels:,}; resize it and send it again",
        )
    return image


def to_rgb(image: Image.Image) -> Image.Image:
    """First frame, EXIF orientation applied, any mode converted to 8-bit RGB."""
    try:
        # is_animated looks at one frame ahead; n_frames walks every page (a TIFF of 100,000)
        if getattr(image, "is_animated", False):
            image.seek(0)
        image.load()
        image = ImageOps.exif_transpose(image) or image
        if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
            array = np.asarray(image, dtype=np.float64)
            peak = 65535.0 if array.max(initial=0) > 255 else 255.0
            image = Image.fromarray(np.clip(array / peak * 255.0, 0, 255).astype(np.uint8), "L")
        elif image.mode == "F":
            array = np.asarray(image, dtype=np.float64)
            image = Image.fromarray(np.clip(array * 255.0, 0, 255).astype(np.uint8), "L")
        if image.mode in ("RGBA", "LA", "PA") or (
            image.mode == "P" and "transparency" in image.info
        ):
            rgba = image.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image = Image.alpha_composite(background, rgba)
        if image.mode != "RGB":
            image = image.convert("RGB")
    except ImageError:
        raise
    except Exception as exc:
        raise ImageError(
            "not_an_image", "the image is damaged or truncated and cannot be decoded; send it again"
        ) from exc
    return image


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Bytes → RGB image, safely (size limit, first frame, EXIF orientation, any mode)."""
    return to_rgb(open_image(data, max_pixels))


def clip_box(box: Sequence[float], width: int, height: int) -> tuple[int, int, int, int]:
    """Round a box to whole pixels inside the image; never empty."""
    x1, y1, x2, y2 = (float(v) for v in box)
    left = int(np.clip(np.floor(x1), 0, width - 1))
    top = int(np.clip(np.floor(y1), 0, height - 1))
    right = int(np.clip(np.ceil(x2), left + 1, width))
    bottom = int(np.clip(np.ceil(y2), top + 1, height))
    return left, top, right, bottom


def square_crop(
    image: Image.Image,
    box: Sequence[float] | None,
    size: int,
    *,
    resample: Image.Resampling = RESAMPLE,
    pad_color: tuple[int, int, int] = PAD_COLOR,
) -> Image.Image:
    """Crop the person box (whole image when None), pad it to a centred square, resize to size."""
    width, height = image.size
    left, top, right, bottom = clip_box(
        box if box is not None else (0, 0, width, height), width, height
    )
    region = image.crop((left, top, right, bottom))
    side = max(region.width, region.height)
    if side > size and side > SLIVER_RATIO * min(region.width, region.height):
        # A sliver (1×30000) would pad to a side² canvas of gigabytes: shrink it before padding.
        # No person box is this thin, so no real photo takes this path.
        new_w = max(1, round(region.width * size / side))
        new_h = max(1, round(region.height * size / side))
        canvas = Image.new("RGB", (size, size), pad_color)
        offset = ((size - new_w) // 2, (size - new_h) // 2)
        canvas.paste(region.resize((new_w, new_h), resample), offset)
        return canvas
    if region.width != region.height:
        canvas = Image.new("RGB", (side, side), pad_color)
        canvas.paste(region, ((side - region.width) // 2, (side - region.height) // 2))
        region = canvas
    if side != size:
        region = region.resize((size, size), resample)
    return region


def to_input_array(
    crop: Image.Image,
    input_size: int,
    *,
    mean: np.ndarray = MEAN,
    std: np.ndarray = STD,
    resample: Image.Resampling = RESAMPLE,
) -> np.ndarray:
    """A square crop → float32 array (3, input_size, input_size), normalized by mean and std
    (ImageNet statistics unless a model card says otherwise)."""
    if crop.mode != "RGB":
        crop = crop.convert("RGB")
    if crop.size != (input_size, input_size):
        crop = crop.resize((input_size, input_size), resample)
    array = np.asarray(crop, dtype=np.float32) / 255.0
    array = (array - mean) / std
    return np.ascontiguousarray(array.transpose(2, 0, 1), dtype=np.float32)


def preprocess(
    image: Image.Image, box: Sequence[float] | None, crop_size: int, input_size: int
) -> np.ndarray:
    """The training defaults of the one preprocessing (photo + person box → model input array).
    Scoring paths use `prettymeter.inference.InputSpec`, which takes every value from the card."""
    return to_input_array(square_crop(image, box, crop_size), input_size)


def encode_png(image: Image.Image) -> bytes:
    """Lossless bytes for stored crops, so a stored crop decodes to exactly what was cut."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def decode_crop(data: bytes) -> Image.Image:
    """Stored crop bytes (written by encode_png) → RGB image."""
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB")
