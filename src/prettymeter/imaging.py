"""Photo decoding and THE preprocessing function (crop → pad → resize → tensor) used everywhere.

Training, evaluation, CLI prediction, the detect stage and the service all import from here,
so a photo becomes exactly the same input array on every path (docs/architecture.md,
Preprocessing).
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageOps

from prettymeter.contract import Box
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


# A JPEG is decoded at 1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling: the inverse DCT, colour
# conversion and the image in memory shrink with the pixel count; entropy decoding does not) as
# long as its shorter side stays at or above a floor that changes nothing the model sees:
# - detection: the smallest face the one-person rule counts is 4 % of the shorter side (a
#   second face at half the 8 % minimum), and the face detector works on a copy on which that
#   face is 48 px (faces.mtcnn's WORKING_FACE_PX); 48 / 0.04 = 1200 px keeps it at 48 px.
# - the crop: a face the rule accepts is ≥ 8 % of the shorter side and its person box is
#   2.5 face heights tall, so ≥ 20 % of the shorter side; at 5 × the crop size the smallest
#   accepted person box still has at least crop-size px, so the crop is never blown up.
DETECT_MIN_SIDE = 1200
SMALLEST_PERSON_FRACTION = 0.2
REDUCED_MIN_SIDE = max(DETECT_MIN_SIDE, math.ceil(DEFAULT_CROP_SIZE / SMALLEST_PERSON_FRACTION))
ORIENTATION_TAG = 0x0112
# image.info keys of a reduced decode: the photo's own size and the integer scale
FULL_SIZE = "prettymeter.full_size"
DECODE_SCALE = "prettymeter.decode_scale"

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


def min_side_for(crop_size: int) -> int:
    """The shorter side a JPEG is decoded at, at least, for a model with this crop size."""
    return max(DETECT_MIN_SIDE, math.ceil(crop_size / SMALLEST_PERSON_FRACTION))


def _draft(image: Image.Image, min_side: int | None) -> int:
    """Let libjpeg decode at 1/2, 1/4 or 1/8 scale while the shorter side stays ≥ min_side;
    the scale chosen (1: full size)."""
    if min_side is None or image.format != "JPEG":  # an MPO's seek(0) would undo the draft
        return 1
    width, height = image.size
    scale = next((s for s in (8, 4, 2) if min(width, height) // s >= min_side), 1)
    if scale == 1:
        return 1
    drafted = image.draft("RGB", (width // scale, height // scale))
    return 1 if drafted is None else round(width / drafted[1][2])


def decode_image(
    data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, min_side: int | None = REDUCED_MIN_SIDE
) -> Image.Image:
    """Bytes → RGB image, safely (size limit, first frame, EXIF orientation, any mode).

    A JPEG whose shorter side is at least twice `min_side` is decoded at reduced size (see
    DETECT_MIN_SIDE); `full_size` and `to_full` map the result back to the photo's pixels.
    `min_side=None` decodes at full size. The size limit applies to the full size.
    """
    image = open_image(data, max_pixels)
    full = image.size
    scale = _draft(image, min_side)
    if scale > 1 and image.getexif().get(ORIENTATION_TAG) in (5, 6, 7, 8):
        full = (full[1], full[0])  # the orientation turns the photo by 90°
    image = to_rgb(image)
    if scale > 1:
        image.info[FULL_SIZE], image.info[DECODE_SCALE] = full, scale
    return image


def full_size(image: Image.Image) -> tuple[int, int]:
    """The photo's own size (width, height) of an image decode_image may have reduced."""
    size = image.info.get(FULL_SIZE, image.size)
    return int(size[0]), int(size[1])


def to_full(box: Sequence[float], image: Image.Image) -> Box:
    """A box on an image decode_image may have reduced → the same box in the photo's pixels."""
    scale = float(image.info.get(DECODE_SCALE, 1))
    width, height = full_size(image)
    x1, y1, x2, y2 = (float(v) * scale for v in box)
    return (
        min(x1, float(width)),
        min(y1, float(height)),
        min(x2, float(width)),
        min(y2, float(height)),
    )


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


def to_input_pixels(
    crop: Image.Image, input_size: int, *, resample: Image.Resampling = RESAMPLE
) -> np.ndarray:
    """A square crop → uint8 array (3, input_size, input_size): the pixels `normalize` turns
    into the model input (a quarter of its memory, for a photo that waits for the model)."""
    if crop.mode != "RGB":
        crop = crop.convert("RGB")
    if crop.size != (input_size, input_size):
        crop = crop.resize((input_size, input_size), resample)
    return np.ascontiguousarray(np.asarray(crop).transpose(2, 0, 1))


def normalize(pixels: np.ndarray, mean: np.ndarray = MEAN, std: np.ndarray = STD) -> np.ndarray:
    """uint8 pixels (..., 3, S, S) → the float32 model input, `(pixels / 255 - mean) / std`.

    Per channel: the same float32 operations on every value as that formula on (H, W, 3), bit
    for bit, without numpy's slow inner loops of length 3 (a quarter of the time), and the same
    numbers for one photo or a batch of them."""
    array = np.array(pixels, dtype=np.float32, order="C")
    array /= np.float32(255.0)
    means, stds = np.asarray(mean, dtype=np.float32), np.asarray(std, dtype=np.float32)
    for channel in range(3):
        array[..., channel, :, :] -= means[channel]
        array[..., channel, :, :] /= stds[channel]
    return array


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
    return normalize(to_input_pixels(crop, input_size, resample=resample), mean, std)


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
