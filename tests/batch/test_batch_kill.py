"""`pretty-meter rate` killed (-9) half way, or interrupted while it writes the table: the same
command finishes it, and the table equals an uninterrupted run's."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from prettymeter import parts
from prettymeter.batch import rate_collection, read_results
from prettymeter.rating_model import Rater
from tests.support.kill import dies_when_renaming_to
from tests.support.paths import CLI


def command(photo_folder: Path, model_dir: Path, out: Path) -> list[str]:
    return [
        CLI, "rate", str(photo_folder), "--model", str(model_dir), "--out", str(out),
        "--engine", "onnxruntime", "--threads", "1", "--part-rows", "2",
    ]  # fmt: skip


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_a_run_killed_twice_then_rerun_gives_the_uninterrupted_table(
    photo_folder: Path, model_dir: Path, tmp_path: Path
) -> None:
    reference = tmp_path / "reference" / "ratings.parquet"
    done = subprocess.run(command(photo_folder, model_dir, reference), capture_output=True)
    assert done.returncode == 0, done.stderr.decode()[-2000:]

    out = tmp_path / "killed" / "ratings.parquet"
    work = parts.PartsFolder(out, "rate").work
    parts_seen = []
    for more_parts in (1, 3):  # kill once the run has written this many parts of its own
        before = len(list(work.glob("part-*.parquet"))) if work.is_dir() else 0
        process = subprocess.Popen(
            command(photo_folder, model_dir, out),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and process.poll() is None:
            if work.is_dir() and len(list(work.glob("part-*.parquet"))) >= before + more_parts:
                break
            time.sleep(0.005)
        process.kill()
        process.wait()
        assert not out.exists(), "the run finished before it was killed"
        parts_seen.append(len(list(work.glob("part-*.parquet"))))
    assert 0 < parts_seen[0] < parts_seen[1]

    rerun = subprocess.run(command(photo_folder, model_dir, out), capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "resumed after" in rerun.stdout and f"{2 * parts_seen[1]} photos" in rerun.stdout
    assert read_results(out).equals(read_results(reference))
    assert leftovers(out.parent) == []


@pytest.mark.parametrize("interrupted", ["into place", "removing the parts"])
def test_a_run_interrupted_while_it_writes_the_table_is_finished_by_the_same_command(
    photo_folder: Path, rater: Rater, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    interrupted: str,
) -> None:  # fmt: skip
    reference = tmp_path / "reference.csv"
    rate_collection(photo_folder / "woman", reference, rater=rater, part_rows=2)
    out = tmp_path / "ratings.csv"
    folder = parts.PartsFolder(out, "rate")
    at = out if interrupted == "into place" else folder.trash
    with dies_when_renaming_to(at, monkeypatch):
        rate_collection(photo_folder / "woman", out, rater=rater, part_rows=2)
    assert out.exists() == (interrupted == "removing the parts")
    assert folder.work.is_dir()

    summary = rate_collection(photo_folder / "woman", out, rater=rater, part_rows=2)
    assert summary["processed_rows"] == 0 and summary["photos"] == 7
    assert out.read_bytes() == reference.read_bytes()
    assert leftovers(tmp_path) == []
