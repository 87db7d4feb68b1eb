"""Resumable parts folders: finished parts of a long run, its resume, OUT written whole or not.

A run writing OUT (`detect`, `rate`) keeps finished parts in the hidden `.OUT.partial/` beside OUT,
with the run's manifest; a rerun of the same command skips them. At the end the parts are joined
into `.OUT.partial/result.*`, a `merged.json` marker (the run's counts) says that table is whole,
one rename puts it at OUT, and the folder is renamed away before it is removed. So a kill at any
point leaves either a run that the same command finishes, or OUT complete and nothing beside it.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prettymeter.errors import PrettyMeterError
from prettymeter.io import (
    atomic_path,
    atomic_write_text,
    ensure_new_output,
    open_parts_folder,
    read_manifest,
    remove_stale_temporaries_in,
)

MERGED = "merged.json"  # written once the whole table is in .OUT.partial/result.*


@dataclass(frozen=True)
class PartsFolder:
    """The parts folder of the run that writes `out`; `command` names it in messages."""

    out: Path
    command: str

    @property
    def work(self) -> Path:
        return self.out.with_name(f".{self.out.name}.partial")

    @property
    def trash(self) -> Path:
        return self.work.with_name(self.work.name + ".trash")

    @property
    def merged(self) -> bool:
        return (self.work / MERGED).is_file()

    def part(self, number: int) -> Path:
        return self.work / f"part-{number:012d}.parquet"

    def parts(self) -> list[tuple[int, Path]]:
        """The finished parts, by number."""
        return sorted((int(p.stem.split("-")[1]), p) for p in self.work.glob("part-*.parquet"))

    def mismatch(self) -> str:
        return (
            f"{self.work} holds an unfinished `{self.command}` run with another source, model or "
            "settings; rerun that command to finish it, or pass --overwrite to start over"
        )

    def check_output(self, overwrite: bool, flag: str) -> None:
        """Refuse an existing OUT early (before any slow loading), unless a killed run's whole
        table is waiting to be moved there."""
        if self.trash.exists():  # a kill while the last run's folder was being removed
            shutil.rmtree(self.trash, ignore_errors=True)
        if not self.merged:
            ensure_new_output(self.out, overwrite, flag)

    def begin(self, manifest: dict[str, Any], overwrite: bool, flag: str) -> dict[str, Any] | None:
        """Start or resume the run. Returns the counts of a run killed after its whole table was
        written (now moved to OUT: nothing is left to do); None when the caller writes the parts
        that `parts()` does not hold yet."""
        self.check_output(overwrite, flag)
        if self.merged and read_manifest(self.work) != manifest:
            if not overwrite:
                raise PrettyMeterError(self.mismatch())
            self._remove()  # another run's finished table: start over, as asked
            ensure_new_output(self.out, overwrite, flag)
        if self.merged:
            counts: dict[str, Any] = json.loads((self.work / MERGED).read_text("utf-8"))
            result = self._result()
            if result.is_file():
                os.replace(result, self.out)
            self._remove()
            return counts
        open_parts_folder(self.work, manifest, overwrite, self.mismatch())
        remove_stale_temporaries_in(self.work)  # a part or the table being written at the kill
        return None

    def commit(self, join: Callable[[Path], dict[str, Any]]) -> dict[str, Any]:
        """`join(tmp)` writes the whole table from the parts and returns its counts; the table
        is marked whole, renamed to OUT, and the parts folder removed."""
        result = self._result()
        with atomic_path(result) as tmp:
            counts = join(tmp)
        atomic_write_text(self.work / MERGED, json.dumps(counts))
        os.replace(result, self.out)
        self._remove()
        return counts

    def _result(self) -> Path:
        return self.work / f"result{self.out.suffix}"

    def _remove(self) -> None:
        """Renamed away first, so a kill during the removal leaves no half-deleted folder that
        could look like an unfinished run."""
        os.replace(self.work, self.trash)
        shutil.rmtree(self.trash, ignore_errors=True)
