"""The detect stage: columns, crops from the shared preprocessing, refusals, resume after a kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from prettymeter import imaging
from prettymeter.data.detect import DETECT_COLUMNS, detect
from prettymeter.errors import PrettyMeterError
from prettymeter.parts import PartsFolder
from tests.support.faces import encode, write_table

PRETTY_METER = str(Path(sys.executable).with_name("pretty-meter"))


def small_photos(n: int, size: tuple[int, int] = (40, 30)) -> list[bytes]:
    rng = np.random.default_rng(n)
    return [
        encode(Image.fromarray(rng.integers(0, 255, (*size[::-1], 3), dtype=np.uint8)))
        for _ in range(n)
    ]


def test_detector_none_keeps_every_row_with_the_whole_photo_as_person(tmp_path):
    images = small_photos(5, (40, 30))
    dst = tmp_path / "crops.parquet"
    result = detect(
        write_table(tmp_path / "dedup.parquet", images), dst, detector="none", crop_size=32
    )
    table = pq.read_table(dst)
    assert result["rows"] == result["kept"] == 5
    assert sum(result["filtered"].values()) == 0
    assert set(DETECT_COLUMNS) <= set(table.column_names)
    assert table.column_names[: len(DETECT_COLUMNS) * -1][-3:] == ["group", "paths", "merged"]
    assert table.column("person_box").to_pylist() == [[0.0, 0.0, 40.0, 30.0]] * 5
    assert table.column("filter_reason").to_pylist() == [None] * 5
    assert table.column("crop_size").to_pylist() == [32] * 5
    assert table.column("rate").to_pylist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert not PartsFolder(dst, "detect").work.exists()


def test_the_stored_crop_is_the_shared_preprocessing_of_the_photo(tmp_path):
    images = small_photos(3, (50, 20))
    dst = tmp_path / "crops.parquet"
    detect(write_table(tmp_path / "dedup.parquet", images), dst, detector="none", crop_size=24)
    table = pq.read_table(dst)
    for data, crop, box in zip(
        images,
        table.column("crop").to_pylist(),
        table.column("person_box").to_pylist(),
        strict=True,
    ):
        photo = imaging.decode_image(data)
        stored = imaging.decode_crop(crop)
        assert stored.size == (24, 24)
        expected = imaging.preprocess(photo, box, 24, 24)
        assert np.array_equal(imaging.to_input_array(stored, 24), expected)


def test_an_existing_output_is_not_replaced_without_overwrite(tmp_path):
    src = write_table(tmp_path / "dedup.parquet", small_photos(2))
    dst = tmp_path / "crops.parquet"
    dst.write_bytes(b"the user's file")
    with pytest.raises(PrettyMeterError, match="--overwrite"):
        detect(src, dst, detector="none")
    assert dst.read_bytes() == b"the user's file"
    detect(src, dst, detector="none", overwrite=True)
    assert pq.read_table(dst).num_rows == 2


def test_an_unknown_detector_and_a_missing_source_are_one_line_errors(tmp_path):
    with pytest.raises(PrettyMeterError, match="unknown detector"):
        detect(tmp_path / "x.parquet", tmp_path / "y.parquet", detector="yolo")
    with pytest.raises(PrettyMeterError, match="dedupe"):
        detect(tmp_path / "missing.parquet", tmp_path / "y.parquet", detector="none")


def test_an_undecodable_image_names_its_row(tmp_path):
    src = write_table(tmp_path / "src.parquet", small_photos(1))
    table = pq.read_table(src)
    broken = table.set_column(
        table.schema.get_field_index("image"), "image", [[b"not an image at all"]]
    )
    pq.write_table(broken, src)
    with pytest.raises(PrettyMeterError, match=r"img00000\.png"):
        detect(src, tmp_path / "dst.parquet", detector="none")


def test_the_cli_prints_a_summary_and_fails_with_one_line(tmp_path):
    src = write_table(tmp_path / "dedup.parquet", small_photos(3))
    dst = tmp_path / "crops.parquet"
    run = [PRETTY_METER, "detect", "--src", str(src), "--dst", str(dst), "--detector", "none"]
    done = subprocess.run([*run, "--crop-size", "16"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "kept" in done.stdout and "filtered: no_face" in done.stdout
    again = subprocess.run(run, capture_output=True, text=True, check=False)
    assert again.returncode == 1
    assert again.stderr.strip().count("\n") == 0 and "--overwrite" in again.stderr


def test_a_detect_killed_half_way_resumes_to_the_same_table(tmp_path):
    images = small_photos(1500, (48, 40))
    src = write_table(tmp_path / "src.parquet", images)
    whole = tmp_path / "whole.parquet"
    detect(src, whole, detector="none", crop_size=32, threads=1)

    dst = tmp_path / "resumed.parquet"
    command = [PRETTY_METER, "detect", "--src", str(src), "--dst", str(dst)]
    command += ["--detector", "none", "--crop-size", "32", "--threads", "1"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    work = PartsFolder(dst, "detect").work
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(work.glob("part-*.parquet"))) < 2:
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    finished_before_kill = len(list(work.glob("part-*.parquet")))
    assert finished_before_kill >= 2, "the run was not caught half way"
    assert not dst.exists(), "the run finished before it was killed; use more rows"

    stale = work / ".result.parquet.999999999.x1y2.tmp"  # as if killed while joining the parts
    stale.write_bytes(b"half a file")
    result = detect(src, dst, detector="none", crop_size=32, threads=1)
    assert not stale.exists()
    assert result["resumed_rows"] >= 2 * 64
    assert result["processed_rows"] == 1500 - result["resumed_rows"]
    assert pq.read_table(dst).equals(pq.read_table(whole))
    assert not work.exists()


def test_a_partial_run_with_other_settings_is_not_mixed_in(tmp_path):
    src = write_table(tmp_path / "dedup.parquet", small_photos(3))
    dst = tmp_path / "crops.parquet"
    work = PartsFolder(dst, "detect").work
    work.mkdir()
    (work / "manifest.json").write_text('{"crop_size": 99}')
    with pytest.raises(PrettyMeterError, match="unfinished"):
        detect(src, dst, detector="none")
    detect(src, dst, detector="none", overwrite=True)
    assert pq.read_table(dst).num_rows == 3


def test_mtcnn_crops_of_the_fixtures_are_those_of_the_full_resolution_reference(tmp_path):
    from prettymeter.faces import find_person
    from prettymeter.faces.mtcnn import FaceDetector
    from tests.support.faces import load, side_by_side

    man, woman = load("man.png"), load("woman.jpg")
    images = [encode(p) for p in (man, woman, side_by_side(man, woman))]
    dst = tmp_path / "crops.parquet"
    detect(write_table(tmp_path / "src.parquet", images), dst, detector="mtcnn", crop_size=64)
    table = pq.read_table(dst)
    reference = FaceDetector.reference()
    for data, crop, box, reason in zip(
        images,
        table.column("crop").to_pylist(),
        table.column("person_box").to_pylist(),
        table.column("filter_reason").to_pylist(),
        strict=True,
    ):
        photo = imaging.decode_image(data)
        want = find_person(photo, reference)
        assert reason == want.filter_reason
        assert box == (list(want.person_box) if want.person_box else None)
        assert crop == imaging.encode_png(imaging.square_crop(photo, want.person_box, 64))
