"""`pretty-meter rate --faces all`: a row per face (index, face box, main, score), the same
faces and scores as `Rater.rate(faces="all")`; a photo without a face keeps one row."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from PIL import Image

from prettymeter.batch import rate_collection, read_results
from prettymeter.rating_model import Rater
from tests.support.group import group_photo
from tests.support.paths import CLI, DATA


def test_a_row_per_face_with_the_scores_rater_gives(
    rater: Rater, model_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    group_photo()[0].save(folder / "a-group.png")
    (folder / "b-man.png").write_bytes((DATA / "man.png").read_bytes())
    Image.new("RGB", (200, 150), (90, 120, 200)).save(folder / "c-blank.png")
    out = tmp_path / "faces.csv"
    summary = rate_collection(folder, out, rater=rater, faces="all", threads=1)
    assert summary["photos"] == 3 and summary["rows"] == 4 + 1 + 1
    rows = read_results(out).to_pylist()
    assert [(r["path"], r["face"]) for r in rows] == [
        ("a-group.png", 0),
        ("a-group.png", 1),
        ("a-group.png", 2),
        ("a-group.png", 3),
        ("b-man.png", 0),
        ("c-blank.png", None),
    ]
    expected = rater.rate([folder / "a-group.png", folder / "b-man.png"], faces="all")
    faces = [f for r in expected for f in r.faces or ()]
    for row, face in zip(rows[:5], faces, strict=True):
        assert row["score"] == face.rating.score and row["error"] == face.rating.error
        assert row["face_box"] == list(face.box) and row["main"] == face.main
        assert row["width"] == 1600 if row["path"] == "a-group.png" else row["width"] == 500
    assert [r["main"] for r in rows[:5]] == [False] * 4 + [True]
    assert rows[3]["error"] == "face_too_small" and rows[3]["score"] is None
    assert rows[5]["error"] == "no_face" and rows[5]["face_box"] is None

    # the command: the same table, a plain run keeps one row per photo and no face columns set
    cli_out = tmp_path / "cli.parquet"
    command = [CLI, "rate", str(folder), "--model", str(model_dir), "--out", str(cli_out)]
    done = subprocess.run(
        [*command, "--faces", "all", "--threads", "1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert read_results(cli_out).to_pylist() == rows
    plain = tmp_path / "plain.parquet"
    rate_collection(folder, plain, rater=rater, threads=1)
    plain_rows = read_results(plain).to_pylist()
    assert [r["face"] for r in plain_rows] == [None] * 3
    assert [r["error"] for r in plain_rows] == ["several_faces", None, "no_face"]
    assert json.dumps(plain_rows[1]["box"]) == json.dumps(rows[4]["box"])
