"""A large JPEG decoded at reduced size: the same person, boxes in the photo's own pixels, the
same input on the scoring path and in the detect stage's stored crop."""

from __future__ import annotations

import io

import numpy as np
import pyarrow.parquet as pq
import pytest

from prettymeter import imaging
from prettymeter.data.detect import detect
from prettymeter.faces import FaceDetector, find_person
from prettymeter.inference import InputSpec, PhotoPreparer
from tests.support.faces import fit, load

SPEC = InputSpec(
    detector="mtcnn",
    crop_size=256,
    input_size=224,
    mean=imaging.MEAN,
    std=imaging.STD,
    resample=imaging.RESAMPLE,
    pad_color=imaging.PAD_COLOR,
)


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()


def large_jpeg(name: str, short_side: int) -> bytes:
    buffer = io.BytesIO()
    fit(load(name), short_side).save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


@pytest.mark.parametrize(("name", "short_side"), [("man.png", 2700), ("woman.jpg", 3000)])
def test_the_reduced_decode_finds_the_same_person_and_reports_the_photos_pixels(
    detector, name, short_side
):
    data = large_jpeg(name, short_side)
    path = PhotoPreparer(SPEC, detector)
    reduced = path.decode(data)
    full = imaging.decode_image(data, min_side=None)
    assert reduced.width * 2 == full.width + full.width % 2  # decoded at 1/2
    faces = [len(find_person(image, detector).faces) for image in (full, reduced)]
    assert faces[0] == faces[1] == 1

    served = path.prepare(data)
    whole = path.prepare(full)  # a decoded image goes through at its own size
    assert served.error is None and whole.error is None
    assert served.image_size == whole.image_size == full.size
    assert served.box is not None and whole.box is not None
    # within MTCNN's own jitter across photo sizes (bench/reduced_decode.py)
    moved = max(abs(a - b) for a, b in zip(served.box, whole.box, strict=True))
    assert moved <= 0.01 * short_side
    assert served.box[2] > 0.5 * full.width  # in the photo's pixels, not the reduced ones
    assert served.array is not None and whole.array is not None
    assert float(np.abs(served.array - whole.array).mean()) < 0.1  # ~6/255 of a channel


def test_the_detect_stage_stores_the_crop_the_service_feeds_the_model(
    detector, make_table, tmp_path
):
    data = large_jpeg("man.png", 2700)
    dst = tmp_path / "crops.parquet"
    detect(make_table([data]), dst, detector="mtcnn", crop_size=SPEC.crop_size, threads=1)
    row = pq.read_table(dst).to_pylist()[0]
    served = PhotoPreparer(SPEC, detector).prepare(data)
    assert served.array is not None and served.box is not None
    stored = SPEC.array_from_crop(imaging.decode_crop(row["crop"]))
    np.testing.assert_array_equal(stored, served.array)
    np.testing.assert_allclose(row["person_box"], served.box, atol=0.06)  # served: 1 decimal
    face = find_person(imaging.decode_image(data, min_side=None), detector).face_box
    assert face is not None  # the stored face box is in the photo's pixels too
    assert max(abs(a - b) for a, b in zip(row["face_box"], face, strict=True)) <= 27
