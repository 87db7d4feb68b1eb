"""ingest: every photo in, every rejected file listed with its reason, streaming row groups."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from prettymeter import tables
from prettymeter.data.ingest import ingest, rejects_path
from prettymeter.errors import PrettyMeterError
from tests.support.pipeline import photo, write


def _dataset(root: Path) -> Path:
    ds = root / "ds"
    write(ds, "a1_w_ru_8.7_100.jpg", photo(1))
    write(ds, "sub/deeper/a2_m_unknown_3.5_12.png", photo(2, fmt="PNG"))
    write(ds, "a3_m_us_10_41.jpg", photo(3))
    write(ds, "b1_w_ru_11.2_100.jpg", photo(4))
    write(ds, "b2_x_ru_5.0_100.jpg", photo(5))
    write(ds, "b3_w_5.0_100.jpg", photo(6))
    write(ds, ".DS_Store", b"\x00\x00\x00\x01Bud1")
    write(ds, "README.md", b"# my photos\n")
    write(ds, "b4_w_ru_5.0_100.jpg", b"this is not a jpeg")
    write(ds, "b5_w_ru_5.0_100.jpg", photo(7)[:300])  # truncated
    write(ds, ".thumbnails/a9_w_ru_5.0_100.jpg", photo(8))
    return ds


def _rejects(dst: Path) -> dict[str, str]:
    with open(rejects_path(dst), encoding="utf-8") as handle:
        return {row["path"]: row["reason"] for row in csv.DictReader(handle)}


def test_good_photos_become_rows_with_their_labels_bytes_and_hashes(tmp_path: Path) -> None:
    ds = _dataset(tmp_path)
    summary = ingest(ds, tmp_path / "raw.parquet")
    table = pq.read_table(tmp_path / "raw.parquet")
    rows = {row["path"]: row for row in table.to_pylist()}
    assert sorted(rows) == [
        "a1_w_ru_8.7_100.jpg",
        "a3_m_us_10_41.jpg",
        "sub/deeper/a2_m_unknown_3.5_12.png",
    ]
    row = rows["sub/deeper/a2_m_unknown_3.5_12.png"]
    assert (row["uuid"], row["gender"], row["country"], row["rate"], row["voices"]) == (
        "a2",
        "m",
        "unknown",
        3.5,
        12,
    )
    assert row["image"] == (ds / row["path"]).read_bytes()
    assert (row["width"], row["height"], row["format"]) == (48, 48, "PNG")
    assert len(row["sha256"]) == 64 and len(row["phash"]) == 16
    assert row["split"] is None
    assert summary["images"] == 3 and summary["rejected"] == 8


def test_every_rejected_file_is_listed_with_its_reason_in_the_csv_and_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dst = tmp_path / "raw.parquet"
    ingest(_dataset(tmp_path), dst)
    rejects = _rejects(dst)
    assert rejects["b1_w_ru_11.2_100.jpg"] == "rate 11.2 is above 10.0"
    assert rejects["b2_x_ru_5.0_100.jpg"] == "gender 'x' is not m or w"
    assert rejects["b3_w_5.0_100.jpg"] == "5 fields expected, found 4"
    assert rejects[".DS_Store"] == "hidden file"
    assert rejects["README.md"].startswith("extension '.md' is not an image type")
    assert rejects["b4_w_ru_5.0_100.jpg"].startswith("not_an_image")
    assert rejects["b5_w_ru_5.0_100.jpg"].startswith("not_an_image")
    assert rejects[".thumbnails/"] == "hidden folder, not searched"
    err = capsys.readouterr().err
    for path, reason in rejects.items():
        assert f"rejected: {path}: {reason}" in err


def test_strict_mode_fails_and_writes_no_table(tmp_path: Path) -> None:
    dst = tmp_path / "raw.parquet"
    with pytest.raises(PrettyMeterError, match="rejected"):
        ingest(_dataset(tmp_path), dst, strict=True)
    assert not dst.exists()
    assert "b1_w_ru_11.2_100.jpg" in _rejects(dst)


def test_strict_mode_fails_on_an_undecodable_photo_with_a_good_name(tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    write(ds, "a1_w_ru_8.7_100.jpg", photo(1))
    write(ds, "a2_w_ru_8.7_100.jpg", b"not an image")
    dst = tmp_path / "raw.parquet"
    with pytest.raises(PrettyMeterError, match=r"a2_w_ru_8\.7_100\.jpg"):
        ingest(ds, dst, strict=True)
    assert not dst.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert ingest(ds, dst)["images"] == 1  # without --strict the bad one is skipped


def test_a_folder_without_any_valid_photo_is_an_error(tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    write(ds, "README.md", b"nothing here")
    write(ds, "a_w_ru_50_1.jpg", photo(1))
    with pytest.raises(PrettyMeterError, match="no usable photo"):
        ingest(ds, tmp_path / "raw.parquet")
    assert not (tmp_path / "raw.parquet").exists()


def test_a_missing_dataset_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PrettyMeterError, match="does not exist"):
        ingest(tmp_path / "nope", tmp_path / "raw.parquet")


def test_an_existing_output_is_not_overwritten_without_the_flag(tmp_path: Path) -> None:
    ds = _dataset(tmp_path)
    dst = tmp_path / "raw.parquet"
    dst.write_bytes(b"my precious file")
    with pytest.raises(PrettyMeterError, match="--overwrite"):
        ingest(ds, dst)
    assert dst.read_bytes() == b"my precious file"
    ingest(ds, dst, overwrite=True)
    assert pq.read_table(dst).num_rows == 3


def test_a_users_file_named_like_the_rejects_csv_is_not_overwritten(tmp_path: Path) -> None:
    ds = _dataset(tmp_path)
    dst = tmp_path / "raw.parquet"
    rejects_path(dst).write_text("my notes\n")
    with pytest.raises(PrettyMeterError, match="not a pretty-meter rejects list"):
        ingest(ds, dst)
    assert rejects_path(dst).read_text() == "my notes\n"


def test_ingest_streams_in_bounded_row_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tables, "BATCH_ROWS", 4)
    ds = tmp_path / "ds"
    for i in range(10):
        write(ds, f"p{i}_m_ru_5.0_50.jpg", photo(i))
    ingest(ds, tmp_path / "raw.parquet")
    meta = pq.ParquetFile(tmp_path / "raw.parquet").metadata
    assert meta.num_rows == 10
    assert meta.num_row_groups == 3
    assert max(meta.row_group(i).num_rows for i in range(meta.num_row_groups)) == 4


def _scut_tree(root: Path) -> Path:
    ds = root / "SCUT-FBP5500_v2"
    for name, seed in (
        ("AF1.jpg", 1),
        ("AM2.jpg", 2),
        ("CF3.jpg", 3),
        ("CM4.jpg", 4),
        ("CM9.jpg", 9),
    ):
        write(ds, f"Images/{name}", photo(seed))
    labels = b"AF1.jpg 3.1\nAM2.jpg 1.0\nCF3.jpg 5.0\nCM4.jpg 2.6\nCM7.jpg 4.0\nXX8.jpg 6.5\n"
    write(ds, "train_test_files/All_labels.txt", labels)
    split = ds / "train_test_files" / "split_of_60%training and 40%testing"
    write(split, "train.txt", b"AF1.jpg 3.1\nAM2.jpg 1.0\nCF3.jpg 5.0\n")
    write(split, "test.txt", b"CM4.jpg 2.6\n")
    folds = ds / "train_test_files" / "5_folders_cross_validations_files"
    write(folds, "cross_validation_2/test_2.txt", b"AF1.jpg 3.1\nCM4.jpg 2.6\n")
    write(folds, "cross_validation_5/test_5.txt", b"AM2.jpg 1.0\n")
    return ds


def test_the_scut_fbp5500_layout_is_read_into_the_same_table(tmp_path: Path) -> None:
    dst = tmp_path / "scut.parquet"
    summary = ingest(_scut_tree(tmp_path), dst, fmt="scut-fbp5500")
    rows = {r["uuid"]: r for r in pq.read_table(dst).to_pylist()}
    assert sorted(rows) == ["AF1", "AM2", "CF3", "CM4"]
    assert (rows["AF1"]["gender"], rows["AF1"]["country"]) == ("w", "asian")
    assert (rows["AM2"]["gender"], rows["AM2"]["country"]) == ("m", "asian")
    assert (rows["CF3"]["gender"], rows["CF3"]["country"]) == ("w", "caucasian")
    assert (rows["CM4"]["gender"], rows["CM4"]["country"]) == ("m", "caucasian")
    assert rows["AF1"]["rate"] == pytest.approx(5.25)  # (3.1 - 1) / 4 * 10
    assert rows["AM2"]["rate"] == 0.0 and rows["CF3"]["rate"] == 10.0
    assert {r["voices"] for r in rows.values()} == {60}
    assert rows["AF1"]["path"] == "Images/AF1.jpg"
    assert [rows[k]["split"] for k in ("AF1", "AM2", "CF3", "CM4")] == [
        "train",
        "train",
        "train",
        "test",
    ]
    assert [rows[k]["cv_fold"] for k in ("AF1", "AM2", "CF3", "CM4")] == [2, 5, None, 2]
    assert pq.read_schema(dst).names == tables.INGEST_SCHEMA.names  # the same table
    rejects = _rejects(dst)
    assert rejects["Images/CM9.jpg"] == "no score in All_labels.txt"
    assert rejects["Images/CM7.jpg"] == "listed in All_labels.txt but the file is missing"
    assert rejects["train_test_files/All_labels.txt:6"] == "score 6.5 is outside 1..5"
    assert summary["images"] == 4


def test_the_scut_format_without_its_labels_file_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "ds", "Images/AF1.jpg", photo(1))
    with pytest.raises(PrettyMeterError, match=r"All_labels\.txt"):
        ingest(tmp_path / "ds", tmp_path / "raw.parquet", fmt="scut-fbp5500")


def test_the_cli_exits_non_zero_with_one_line_in_strict_mode(tmp_path: Path) -> None:
    ds = _dataset(tmp_path)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "prettymeter",
            "ingest",
            "--ds",
            str(ds),
            "--dst",
            str(tmp_path / "raw.parquet"),
            "--strict",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: 6 file(s) rejected") and "--strict" in last
    assert "Traceback" not in result.stderr


def test_width_and_height_are_the_size_the_photo_is_seen_at_after_exif_rotation(
    tmp_path: Path,
) -> None:
    import io

    from PIL import Image

    image = Image.new("RGB", (40, 20), (200, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: shown rotated by 90°
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    write(tmp_path / "ds", "a_w_ru_5.0_50.jpg", buffer.getvalue())
    ingest(tmp_path / "ds", tmp_path / "raw.parquet")
    row = pq.read_table(tmp_path / "raw.parquet").to_pylist()[0]
    assert (row["width"], row["height"]) == (20, 40)
