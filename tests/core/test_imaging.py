"""decode_image's reduced JPEG decode: which photos it shrinks, and what it keeps of the photo;
the model input's normalization."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from PIL import Image

from prettymeter import imaging
from prettymeter.errors import ImageError
from prettymeter.faces import mtcnn, person
from tests.support.paths import DATA


def encoded(size: tuple[int, int], fmt: str = "JPEG", orientation: int | None = None) -> bytes:
    image = Image.open(DATA / "man.png").convert("RGB").resize(size)
    buffer = io.BytesIO()
    extra = {}
    if orientation is not None:
        exif = Image.Exif()
        exif[imaging.ORIENTATION_TAG] = orientation
        extra["exif"] = exif.tobytes()
    image.save(buffer, format=fmt, **extra)
    return buffer.getvalue()


def test_the_floor_follows_the_face_rule_and_the_crop_size() -> None:
    # detection: the smallest face the rule counts stays at the detector's working size
    smallest_face = mtcnn.SMALLEST_FACE_FRACTION * imaging.DETECT_MIN_SIDE
    assert smallest_face >= mtcnn.WORKING_FACE_PX
    # the crop: the smallest accepted person box (2.5 face heights) holds at least crop-size px
    tallest = 1 + person.PERSON_ABOVE + person.PERSON_BELOW
    assert person.MIN_FACE_FRACTION * tallest >= imaging.SMALLEST_PERSON_FRACTION
    assert imaging.min_side_for(256) == imaging.REDUCED_MIN_SIDE == 1280
    assert imaging.min_side_for(512) == 2560


def test_a_large_jpeg_is_decoded_at_the_largest_reduction_above_the_floor() -> None:
    data = encoded((2700, 3240))  # shorter side 2700: 1/2 keeps 1350 ≥ 1280, 1/4 would not
    image = imaging.decode_image(data)
    assert image.size == (1350, 1620)
    assert image.mode == "RGB"
    assert imaging.full_size(image) == (2700, 3240)
    assert imaging.to_full((10, 20, 1350, 1620), image) == (20.0, 40.0, 2700.0, 3240.0)
    assert imaging.decode_image(data, min_side=None).size == (2700, 3240)
    assert imaging.decode_image(data, min_side=300).size == (338, 405)  # 1/8


@pytest.mark.parametrize(
    ("size", "fmt"), [((512, 614), "JPEG"), ((2500, 3000), "JPEG"), ((2700, 3240), "PNG")]
)
def test_small_jpegs_and_other_formats_are_decoded_at_full_size(size, fmt) -> None:
    image = imaging.decode_image(encoded(size, fmt))
    assert image.size == size
    assert imaging.full_size(image) == size
    assert imaging.to_full((1, 2, 3, 4), image) == (1.0, 2.0, 3.0, 4.0)


def test_exif_orientation_turns_the_reduced_photo_and_its_full_size() -> None:
    image = imaging.decode_image(encoded((2700, 3240), orientation=6))
    assert image.size == (1620, 1350)
    assert imaging.full_size(image) == (3240, 2700)
    assert imaging.to_full((0, 0, 1620, 1350), image) == (0.0, 0.0, 3240.0, 2700.0)


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_a_garbage_exif_block_on_a_large_jpeg_still_decodes_reduced() -> None:
    data = encoded((2700, 3240))
    app1 = b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\xff\xff" + b"\x01" * 64
    segment = b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1
    image = imaging.decode_image(data[:2] + segment + data[2:])
    assert image.size == (1350, 1620)
    assert imaging.full_size(image) == (2700, 3240)


def test_the_pixel_limit_applies_to_the_full_size_not_the_reduced_one() -> None:
    with pytest.raises(ImageError) as refused:
        imaging.decode_image(encoded((2700, 3240)), max_pixels=2700 * 3240 - 1)
    assert refused.value.code == "too_large"


@pytest.mark.parametrize("seed", range(4))
def test_the_model_input_is_the_normalization_formula_bit_for_bit(seed: int) -> None:
    # Every path (training's crops, export's verification, the service) feeds the model this
    # array: its faster loop must give exactly the numbers of the plain formula.
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    mean = rng.random(3).astype(np.float32)
    std = (rng.random(3) + 0.05).astype(np.float32)
    array = imaging.to_input_array(Image.fromarray(pixels), 40, mean=mean, std=std)
    formula = ((pixels.astype(np.float32) / np.float32(255.0) - mean) / std).transpose(2, 0, 1)
    assert array.dtype == np.float32 and array.flags.c_contiguous
    assert np.array_equal(array, formula)
