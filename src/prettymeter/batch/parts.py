"""The parts folder of a `rate` run: finished parts, resume, and OUT written whole or not at all.

Finished parts of `part_rows` photos go to the hidden `.OUT.partial/` beside OUT with the run's
manifest; a rerun of the same command skips them. The parts are then joined into
`.OUT.partial/result.*`, a `merged.json` marker says the table is whole, and one rename puts it
at OUT, so a kill at any point leaves either a run the same command finishes or OUT complete.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from prettymeter.batch.results import RESULT_SCHEMA, csv_schema, csv_table
from prettymeter.errors import PrettyMeterError
from prettymeter.io import atomic_path, atomic_write_text, open_parts_folder, read_manifest

MERGED = "merged.json"  # written once the whole table is in .OUT.partial/result.*


def partial_dir(out: Path) -> Path:
    """Where an unfinished run keeps its finished parts (hidden, beside OUT)."""
    return out.with_name(f".{out.name}.partial")


def part_path(work: Path, number: int) -> Path:
    return work / f"part-{number:08d}.parquet"


def trash_dir(work: Path) -> Path:
    return work.with_name(work.name + ".trash")


def remove_trash(work: Path) -> None:
    if trash_dir(work).exists():
        shutil.rmtree(trash_dir(work), ignore_errors=True)


def cleanup(work: Path) -> None:
    """Remove the parts folder: renamed away first, so a kill during the removal leaves no
    half-deleted folder that could look like an unfinished run."""
    os.replace(work, trash_dir(work))
    shutil.rmtree(trash_dir(work), ignore_errors=True)


def _mismatch(work: Path) -> str:
    return (
        f"{work} holds an unfinished `rate` run with another collection, model or settings; "
        "rerun that command to finish it, or pass --overwrite to start over"
    )


def open_partial(work: Path, manifest: dict[str, Any], overwrite: bool) -> None:
    """Make .OUT.partial/ or check that it belongs to this very run."""
    open_parts_folder(work, manifest, overwrite, _mismatch(work))


def finish_merged(work: Path, out: Path, manifest: dict[str, Any]) -> dict[str, Any] | None:
    """A run killed after the whole table was written: move it into place (if it is not there
    yet) and return its counts; None when there is no such run."""
    marker = work / MERGED
    if not marker.is_file():
        return None
    if read_manifest(work) != manifest:
        raise PrettyMeterError(_mismatch(work))
    counts: dict[str, Any] = json.loads(marker.read_text(encoding="utf-8"))
    result = work / f"result{out.suffix}"
    if result.is_file():
        os.replace(result, out)
    cleanup(work)
    return counts


def merge(work: Path, out: Path, fmt: str, parts: int, metadata: dict[str, Any]) -> dict[str, Any]:
    """Join the parts into .OUT.partial/result.*, mark it merged, then rename it to OUT."""
    from prettymeter.contract import STAGE_METADATA_KEY

    errors: Counter[str] = Counter()
    rows = photos = scored = 0
    result = work / f"result{out.suffix}"
    with atomic_path(result) as tmp:
        writer: Any
        if fmt == "parquet":
            schema = RESULT_SCHEMA.with_metadata(
                {STAGE_METADATA_KEY: json.dumps(metadata).encode()}
            )
            writer = pq.ParquetWriter(str(tmp), schema, compression="zstd")
        else:
            from pyarrow import csv

            writer = csv.CSVWriter(str(tmp), csv_schema())
        with writer:
            for number in range(parts):
                table = pq.read_table(part_path(work, number), schema=RESULT_SCHEMA)
                rows += table.num_rows
                photos += len(set(table.column("position").to_pylist()))  # rows per face
                scored += table.num_rows - table.column("score").null_count
                errors.update(e for e in table.column("error").to_pylist() if e)
                writer.write_table(table if fmt == "parquet" else csv_table(table))
    counts = {
        "photos": photos,
        "rows": rows,
        "scored": scored,
        "errors": dict(sorted(errors.items())),
    }
    atomic_write_text(work / MERGED, json.dumps(counts))
    os.replace(result, out)
    return counts
