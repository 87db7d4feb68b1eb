"""The resumable parts folder that `detect` and `rate` share: a run interrupted at each step of
writing OUT is finished by the same command, with nothing left beside OUT."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from prettymeter.errors import PrettyMeterError
from prettymeter.parts import PartsFolder
from tests.support.kill import dies_when_renaming_to

MANIFEST = {"source": "s", "rows": 3}


def join_text(folder: PartsFolder) -> Callable[[Path], dict[str, int]]:
    def join(tmp: Path) -> dict[str, int]:
        found = folder.parts()
        tmp.write_text("".join(p.read_text() for _, p in found))
        return {"parts": len(found)}

    return join


def write_parts(folder: PartsFolder, numbers: range) -> None:
    for number in numbers:
        folder.part(number).write_text(f"part {number}\n")


def test_parts_are_resumed_and_out_is_written_whole(tmp_path: Path) -> None:
    folder = PartsFolder(tmp_path / "out.txt", "detect")
    assert folder.begin(MANIFEST, overwrite=False, flag="--dst") is None
    write_parts(folder, range(2))
    assert folder.begin(MANIFEST, overwrite=False, flag="--dst") is None  # a rerun after a kill
    assert [n for n, _ in folder.parts()] == [0, 1]
    write_parts(folder, range(2, 3))
    assert folder.commit(join_text(folder)) == {"parts": 3}
    assert folder.out.read_text() == "part 0\npart 1\npart 2\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


@pytest.mark.parametrize("step", ["into place", "removing the parts"])
def test_a_run_killed_while_it_writes_out_is_finished_by_the_rerun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    folder = PartsFolder(tmp_path / "out.txt", "detect")
    folder.begin(MANIFEST, overwrite=False, flag="--dst")
    write_parts(folder, range(3))
    at = folder.out if step == "into place" else folder.trash
    with dies_when_renaming_to(at, monkeypatch):
        folder.commit(join_text(folder))
    assert folder.out.exists() == (step == "removing the parts")

    folder.check_output(overwrite=False, flag="--dst")  # OUT being moved in is not refused
    assert folder.begin(MANIFEST, overwrite=False, flag="--dst") == {"parts": 3}
    assert folder.out.read_text() == "part 0\npart 1\npart 2\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_another_runs_folder_is_refused_until_overwrite(tmp_path: Path) -> None:
    folder = PartsFolder(tmp_path / "out.txt", "rate")
    folder.work.mkdir()
    (folder.work / "manifest.json").write_text(json.dumps({"model": "another"}))
    with pytest.raises(PrettyMeterError, match=r"unfinished `rate` run.*--overwrite"):
        folder.begin(MANIFEST, overwrite=False, flag="--out")
    assert folder.begin(MANIFEST, overwrite=True, flag="--out") is None
    assert json.loads((folder.work / "manifest.json").read_text()) == MANIFEST


def test_an_existing_out_is_refused_without_overwrite(tmp_path: Path) -> None:
    folder = PartsFolder(tmp_path / "out.txt", "rate")
    folder.out.write_text("the user's table")
    with pytest.raises(PrettyMeterError, match=r"already exists.*--out.*--overwrite"):
        folder.check_output(overwrite=False, flag="--out")
    assert folder.out.read_text() == "the user's table"


def test_another_runs_finished_table_is_refused_until_overwrite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = PartsFolder(tmp_path / "out.txt", "rate")
    folder.begin({"model": "another"}, overwrite=False, flag="--out")
    write_parts(folder, range(1))
    with dies_when_renaming_to(folder.out, monkeypatch):
        folder.commit(join_text(folder))
    with pytest.raises(PrettyMeterError, match="--overwrite"):
        folder.begin(MANIFEST, overwrite=False, flag="--out")
    assert folder.begin(MANIFEST, overwrite=True, flag="--out") is None
    assert folder.parts() == [] and not folder.out.exists()


@pytest.mark.parametrize("step", ["manifest", "folder"])
def test_a_run_killed_while_it_opens_its_parts_folder_is_started_by_the_rerun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    # The folder appears with its manifest in it: a kill before either lands leaves no folder
    # that the rerun would take for another run's.
    folder = PartsFolder(tmp_path / "out.txt", "detect")
    fresh = folder.work.with_name(folder.work.name + ".new")
    with dies_when_renaming_to(
        fresh / "manifest.json" if step == "manifest" else folder.work, monkeypatch
    ):
        folder.begin(MANIFEST, overwrite=False, flag="--dst")
    assert not folder.work.exists()
    assert folder.begin(MANIFEST, overwrite=False, flag="--dst") is None
    write_parts(folder, range(1))
    assert folder.commit(join_text(folder)) == {"parts": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_an_empty_parts_folder_without_a_manifest_is_replaced(tmp_path: Path) -> None:
    # What a kill between making the folder and writing its manifest left before it was atomic.
    folder = PartsFolder(tmp_path / "out.txt", "detect")
    folder.work.mkdir()
    assert folder.begin(MANIFEST, overwrite=False, flag="--dst") is None
    assert json.loads((folder.work / "manifest.json").read_text()) == MANIFEST
