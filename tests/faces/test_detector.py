"""The MTCNN detector on ONNX Runtime, the main-face rule and the person box, on real photos."""

from __future__ import annotations

import subprocess
import sys

import pyarrow.parquet as pq
import pytest
from PIL import Image

from prettymeter import imaging
from prettymeter.data.detect import detect
from prettymeter.errors import PrettyMeterError
from prettymeter.faces import Face, find_person, main_faces, person_box_from_face
from prettymeter.faces.mtcnn import FaceDetector, auto_min_face_size
from tests.support.faces import DATA, encode, landscape, side_by_side


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector(threads=1)


def inside(inner, outer) -> bool:
    return (
        outer[0] <= inner[0]
        and outer[1] <= inner[1]
        and inner[2] <= outer[2]
        and inner[3] <= outer[3]
    )


@pytest.mark.parametrize("photo", ["man", "woman"])
def test_each_fixture_photo_has_exactly_one_main_face(photo, request, detector):
    image = request.getfixturevalue(photo)
    person = find_person(image, detector)
    assert person.filter_reason is None
    assert person.main_faces == 1
    assert person.confidence is not None and person.confidence > 0.9
    assert person.person_box is not None and person.face_box is not None
    assert inside(person.face_box, person.person_box)
    x1, y1, x2, y2 = person.person_box
    assert 0 <= x1 < x2 <= image.width and 0 <= y1 < y2 <= image.height
    # the person box is bigger than the face: hair and shoulders are in the crop
    assert (x2 - x1) > 1.5 * (person.face_box[2] - person.face_box[0])


def test_the_two_fixtures_side_by_side_are_several_faces(man, woman, detector):
    person = find_person(side_by_side(man, woman), detector)
    assert person.filter_reason == "several_faces"
    assert person.main_faces == 2
    assert person.person_box is None


def test_a_landscape_with_no_person_has_no_face(detector):
    person = find_person(landscape(), detector)
    assert person.filter_reason == "no_face"
    assert person.main_faces == 0 and person.face_box is None and person.person_box is None


def test_a_small_face_on_a_large_photo_is_too_small(woman, detector):
    canvas = Image.new("RGB", (1200, 1200), (128, 128, 128))
    canvas.paste(woman, (500, 500))
    person = find_person(canvas, detector)
    assert person.filter_reason == "face_too_small"
    assert person.main_faces == 1 and person.person_box is None


def test_detector_none_takes_the_whole_photo_and_filters_nothing(man):
    person = find_person(man, None)
    assert person.person_box == (0.0, 0.0, 500.0, 600.0)
    assert person.filter_reason is None and person.faces == []


def test_a_face_below_half_the_largest_diagonal_or_unsure_is_not_main():
    big = Face(box=(0, 0, 100, 120), confidence=0.99)
    half = Face(box=(200, 0, 250, 60), confidence=0.99)  # diagonal exactly half of big's
    small = Face(box=(300, 0, 349, 59), confidence=0.99)
    unsure = Face(box=(400, 0, 500, 120), confidence=0.6)
    assert main_faces([big, small, unsure]) == [big]
    assert main_faces([small, big, half]) == [big, half]
    assert main_faces([unsure]) == []


def test_the_person_box_adds_hair_and_shoulders_and_is_clipped_to_the_photo():
    assert person_box_from_face((100, 100, 200, 220), 1000, 1000) == pytest.approx(
        (10.0, 28.0, 290.0, 328.0)
    )
    assert person_box_from_face((0, 10, 50, 70), 120, 90) == (0.0, 0.0, 95.0, 90.0)


def test_the_pyramid_looks_for_smaller_faces_on_small_photos_only():
    assert auto_min_face_size(320, 240) == 20
    assert auto_min_face_size(4000, 3000) == pytest.approx(120)


def test_faces_come_with_landmarks_inside_the_face_box(man, detector):
    (face,) = detector.detect(man)
    assert face.landmarks is not None and len(face.landmarks) == 5
    for x, y in face.landmarks:
        assert face.box[0] <= x <= face.box[2] and face.box[1] <= y <= face.box[3]


def test_a_missing_net_file_is_a_clear_error(tmp_path):
    with pytest.raises(PrettyMeterError, match="export-detector"):
        FaceDetector(nets_dir=tmp_path)


def test_detect_stage_with_mtcnn_marks_and_crops_real_photos(man, woman, tmp_path):
    from tests.support.faces import write_table

    photos = [man, woman, side_by_side(man, woman), landscape()]
    images = [encode(p, "JPEG" if i == 1 else "PNG") for i, p in enumerate(photos)]
    src = write_table(tmp_path / "dedup.parquet", images)
    result = detect(src, tmp_path / "crops.parquet", detector="mtcnn", crop_size=64, threads=2)
    table = pq.read_table(tmp_path / "crops.parquet")
    reasons = table.column("filter_reason").to_pylist()
    assert reasons == [None, None, "several_faces", "no_face"]
    assert table.column("main_faces").to_pylist() == [1, 1, 2, 0]
    assert result["kept"] == 2
    assert result["filtered"] == {"no_face": 1, "several_faces": 1, "face_too_small": 0}
    boxes = table.column("person_box").to_pylist()
    for data, crop, box in zip(images, table.column("crop").to_pylist(), boxes, strict=True):
        photo = imaging.decode_image(data)
        expected = imaging.encode_png(imaging.square_crop(photo, box, 64))
        assert crop == expected
    assert boxes[2] is None and boxes[3] is None


def test_a_large_photo_is_shrunk_for_detection_and_boxes_come_back_in_its_pixels(man, detector):
    (small,) = detector.detect(man)
    large = man.resize((man.width * 3, man.height * 3), Image.Resampling.BICUBIC)
    (big,) = detector.detect(large)  # 1500 × 1800: detected on a 375 × 450 copy (÷ 4)
    side = small.box[2] - small.box[0]
    for got, want in zip(big.box, small.box, strict=True):
        assert got == pytest.approx(3 * want, abs=0.05 * 3 * side)
    assert big.confidence > 0.9


def test_detecting_faces_never_imports_torch():
    script = (
        "import sys\n"
        "from PIL import Image\n"
        "from prettymeter.data.detect import detect\n"
        "from prettymeter.faces import FaceDetector, find_person\n"
        f"image = Image.open({str(DATA / 'man.png')!r}).convert('RGB')\n"
        "assert find_person(image, FaceDetector()).main_faces == 1\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
