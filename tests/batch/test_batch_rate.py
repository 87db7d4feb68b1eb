"""`pretty-meter rate`: one row per photo of a folder, list file or table; errors per photo;
the same results as `Rater.rate`; CSV and Parquet; shards that join into the one-machine table."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from prettymeter.batch import (
    RESULT_SCHEMA,
    Shard,
    rate_collection,
    read_results,
    shard_of,
)
from prettymeter.cli import app
from prettymeter.errors import PrettyMeterError
from prettymeter.imaging import IMAGE_EXTENSIONS
from prettymeter.parts import PartsFolder
from prettymeter.rating_model import Rater
from tests.support.collection import BROKEN
from tests.support.paths import CLI


def photos_of(folder: Path) -> list[str]:
    """What `rate` should find: image files, hidden folders left out, sorted relative paths."""
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() in IMAGE_EXTENSIONS
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def rows_by_path(table: pa.Table) -> dict[str, dict[str, object]]:
    return {row["path"]: row for row in table.to_pylist()}


@pytest.fixture(scope="module")
def one_run(photo_folder: Path, rater: Rater, tmp_path_factory: pytest.TempPathFactory) -> pa.Table:
    out = tmp_path_factory.mktemp("one") / "ratings.parquet"
    summary = rate_collection(photo_folder, out, rater=rater, part_rows=8, threads=2)
    assert summary["photos"] == summary["processed_rows"] == len(photos_of(photo_folder))
    assert not PartsFolder(out, "rate").work.exists()
    return read_results(out)


def test_every_photo_of_a_folder_gets_one_row_in_sorted_order(
    one_run: pa.Table, photo_folder: Path
) -> None:
    expected = photos_of(photo_folder)
    assert len(expected) >= 30
    assert one_run.column("path").to_pylist() == expected
    assert one_run.column("position").to_pylist() == list(range(len(expected)))
    assert one_run.schema.equals(RESULT_SCHEMA)


def test_broken_files_get_an_error_and_do_not_stop_the_run(one_run: pa.Table) -> None:
    rows = rows_by_path(one_run)
    for path in BROKEN:
        assert rows[path]["error"] == "not_an_image", rows[path]
        assert rows[path]["message"] and rows[path]["score"] is None
    assert rows["pair.webp"]["error"] == "several_faces"
    for path in ("man/man.png", "woman/woman.jpg", "man/half.jpg", "woman/mirrored.jpg"):
        row = rows[path]
        assert row["error"] is None and 0.0 <= row["score"] <= 10.0, row  # type: ignore[operator]
        x0, y0, x1, y1 = row["box"]  # type: ignore[misc]
        assert 0 <= x0 < x1 <= row["width"] and 0 <= y0 < y1 <= row["height"]  # type: ignore[operator]
        assert row["region"] == row["box"]  # a model trained on person crops sees the box
    scored = [r for r in rows.values() if r["score"] is not None]
    assert len(scored) >= 12


def test_the_table_equals_rater_rate_on_the_same_photos(
    one_run: pa.Table, photo_folder: Path, rater: Rater
) -> None:
    paths = one_run.column("path").to_pylist()
    ratings = rater.rate([photo_folder / p for p in paths])
    for row, r in zip(one_run.to_pylist(), ratings, strict=True):
        expected = {
            "score": r.score,
            "rate": r.rate,
            "percentile": r.percentile,
            "uncertainty": r.uncertainty,
            "box": list(r.box) if r.box is not None and r.score is not None else None,
            "region": list(r.region) if r.region is not None else None,
            "width": r.image_size[0] if r.image_size else None,
            "height": r.image_size[1] if r.image_size else None,
            "error": r.error,
            "message": r.message,
        }
        assert {k: row[k] for k in expected} == expected, row["path"]


def test_whole_scores_photos_without_one_person_and_keeps_the_reason(
    photo_folder: Path, rater: Rater, tmp_path: Path
) -> None:
    out = tmp_path / "whole.parquet"
    rate_collection(photo_folder, out, rater=rater, whole=True)
    rows = rows_by_path(read_results(out))
    pair = rows["pair.webp"]
    assert pair["error"] == "several_faces" and pair["score"] is not None
    assert pair["region"] == [0.0, 0.0, float(pair["width"]), float(pair["height"])]  # type: ignore[arg-type]
    (expected,) = rater.rate([photo_folder / "pair.webp"], strict=False)
    assert pair["score"] == expected.score
    assert all(rows[p]["score"] is None for p in BROKEN)


def test_csv_holds_the_same_table_as_parquet(
    one_run: pa.Table, photo_folder: Path, rater: Rater, tmp_path: Path
) -> None:
    out = tmp_path / "ratings.csv"
    rate_collection(photo_folder, out, rater=rater)
    header = out.read_text(encoding="utf-8").splitlines()[0]
    assert header.replace('"', "").split(",") == RESULT_SCHEMA.names
    assert read_results(out).equals(one_run)


def test_shards_sorted_by_position_concatenate_to_the_one_machine_table(
    one_run: pa.Table, photo_folder: Path, rater: Rater, tmp_path: Path
) -> None:
    shards = []
    for index in range(2):
        out = tmp_path / f"shard-{index}.parquet"
        rate_collection(photo_folder, out, rater=rater, shard=f"{index}/2", part_rows=4)
        shards.append(read_results(out))
    assert all(0 < s.num_rows < one_run.num_rows for s in shards)
    joined = pa.concat_tables(shards).sort_by("position")
    assert joined.equals(one_run)
    # a photo's shard depends on its path alone (sha256), on every machine and version
    assert [shard_of(p, 2) for p in ("man/man.png", "woman/woman.jpg", "a", "b")] == [0, 1, 0, 0]
    first = shards[0].column("path").to_pylist()
    assert all(shard_of(p, 2) == 0 for p in first)


def test_a_list_file_reads_paths_relative_to_its_folder_and_reports_missing_ones(
    one_run: pa.Table, photo_folder: Path, rater: Rater, tmp_path: Path
) -> None:
    listed = ["photos/man/man.png", str(photo_folder / "woman" / "woman.jpg"), "", "# a note"]
    listed += ["photos/man/missing.jpg", "photos/broken/text.jpg"]
    list_file = photo_folder.parent / "list.txt"
    list_file.write_text("\n".join(listed) + "\n", encoding="utf-8")
    out = tmp_path / "list.parquet"
    rate_collection(list_file, out, rater=rater)
    table = read_results(out)
    assert table.column("path").to_pylist() == [p for p in listed if p and p[0] != "#"]
    rows = table.to_pylist()
    reference = rows_by_path(one_run)
    assert rows[0]["score"] == reference["man/man.png"]["score"] is not None
    assert rows[1]["score"] == reference["woman/woman.jpg"]["score"] is not None
    assert rows[2]["error"] == "not_found" and "missing.jpg" in rows[2]["message"]
    assert rows[3]["error"] == "not_an_image"


def test_a_stage_table_is_rated_from_its_image_bytes(
    one_run: pa.Table, photo_folder: Path, rater: Rater, tmp_path: Path
) -> None:
    paths = one_run.column("path").to_pylist()[::2]
    images: list[bytes | None] = [(photo_folder / p).read_bytes() for p in paths]
    paths.append("lost.jpg")
    images.append(None)
    source = tmp_path / "raw.parquet"
    table = pa.table(
        {"path": paths, "image": pa.array(images, pa.binary()), "rate": [5.0] * len(paths)}
    )
    pq.write_table(table, source, row_group_size=5)  # rows are read row group by row group
    out = tmp_path / "from-table.parquet"
    rate_collection(source, out, rater=rater, part_rows=3)
    got = read_results(out).to_pylist()
    reference = rows_by_path(one_run)
    assert [r["path"] for r in got] == paths
    for row in got[:-1]:
        expected = {k: v for k, v in reference[row["path"]].items() if k != "position"}
        assert {k: v for k, v in row.items() if k != "position"} == expected
    assert got[-1]["error"] == "not_an_image" and got[-1]["score"] is None


def test_a_partial_run_of_other_settings_is_refused_until_overwrite(
    photo_folder: Path, rater: Rater, tmp_path: Path
) -> None:
    out = tmp_path / "r.parquet"
    work = PartsFolder(out, "rate").work
    work.mkdir()
    (work / "manifest.json").write_text(json.dumps({"model": "another"}))
    with pytest.raises(PrettyMeterError, match="--overwrite"):
        rate_collection(photo_folder, out, rater=rater)
    rate_collection(photo_folder, out, rater=rater, overwrite=True)
    assert out.is_file() and not work.exists()


@pytest.mark.parametrize(
    ("source", "kwargs", "says"),
    [
        ("nowhere", {}, "does not exist"),
        ("man/man.png", {}, "is one photo; use `pretty-meter predict"),
        ("empty", {}, "holds no photos"),
        (".", {"shard": "2/2"}, "I must be 0 … N-1"),
        (".", {"shard": "first"}, "is not I/N"),
        (".", {"out": "r.json"}, "end it in .parquet or .csv"),
    ],
)
def test_a_wrong_source_or_option_is_one_line(
    photo_folder: Path, tmp_path: Path, source: str, kwargs: dict[str, str], says: str
) -> None:
    (photo_folder.parent / "empty").mkdir(exist_ok=True)
    where = (
        photo_folder.parent / source if source in ("nowhere", "empty") else photo_folder / source
    )
    out = tmp_path / kwargs.pop("out", "r.parquet")
    with pytest.raises(PrettyMeterError, match=says.replace(".", r"\.")) as caught:
        rate_collection(where, out, Path("no-model"), shard=kwargs.get("shard"))
    assert "\n" not in str(caught.value)


def test_the_cli_refuses_an_existing_output_and_replaces_it_with_overwrite(
    photo_folder: Path, model_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "r.csv"
    out.write_text("someone's file\n")
    args = [CLI, "rate", str(photo_folder / "man"), "--model", str(model_dir), "--out", str(out)]
    args += ["--engine", "onnxruntime"]
    refused = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        f"error: {out} already exists; choose another --out or pass --overwrite to replace it"
    ]
    assert out.read_text() == "someone's file\n"
    done = subprocess.run([*args, "--overwrite"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "scored" in done.stdout and "images/s" in done.stdout
    assert read_results(out).column("path").to_pylist() == photos_of(photo_folder / "man")


def test_the_cli_parses_shard_and_writes_this_machine_s_share(
    one_run: pa.Table, photo_folder: Path, model_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "shard-1.parquet"
    args = ["rate", str(photo_folder), "--model", str(model_dir), "--out", str(out)]
    args += ["--engine", "onnxruntime", "--threads", "1"]
    done = CliRunner().invoke(app, [*args, "--shard", "1/2"])
    assert done.exit_code == 0, done.output
    assert "shard" in done.output and "1/2" in done.output
    got = read_results(out).to_pylist()
    expected = [r for r in one_run.to_pylist() if shard_of(r["path"], 2) == 1]
    assert 0 < len(got) < one_run.num_rows
    assert [(r["path"], r["position"], r["error"]) for r in got] == [
        (r["path"], r["position"], r["error"]) for r in expected
    ]
    assert [r["score"] for r in got] == pytest.approx([r["score"] for r in expected], abs=1e-6)
    refused = CliRunner().invoke(app, [*args, "--overwrite", "--shard", "2/2"])
    assert isinstance(refused.exception, PrettyMeterError)
    assert "I must be 0 … N-1" in str(refused.exception)


def test_shard_parsing() -> None:
    assert Shard.parse("1/3") == Shard(1, 3) and str(Shard.parse(None)) == "0/1"
    assert Shard(0, 1).owns("anything")


def test_a_named_pipe_called_jpg_is_an_error_not_a_hang(
    man_png: Path, model_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(man_png, folder / "a.png")
    os.mkfifo(folder / "b.jpg")  # reading it would wait forever for a writer
    out = tmp_path / "r.parquet"
    args = [CLI, "rate", str(folder), "--model", str(model_dir), "--out", str(out)]
    done = subprocess.run([*args, "--engine", "onnxruntime"], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    rows = read_results(out).to_pylist()
    assert [r["error"] for r in rows] == [None, "not_an_image"]
    assert "not a regular file" in rows[1]["message"]
