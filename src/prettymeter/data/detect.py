"""The detect stage: find the person on every photo of a table and store its square crop.

Reads the deduped table in batches, adds the detect columns of docs/architecture.md and writes
finished batches to a parts folder (`prettymeter.parts`) as it goes, so a killed run continues
where it stopped and DST is written whole or not at all.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from prettymeter import console, imaging
from prettymeter.contract import (
    DETECT_METADATA_KEY,
    DETECTORS,
    FILTER_REASONS,
    MAIN_FACE_DIAGONAL_RATIO,
    MIN_CONFIDENCE,
    MTCNN,
)
from prettymeter.errors import ImageError, PrettyMeterError
from prettymeter.faces.person import PersonResult, find_person
from prettymeter.hardware import usable_cores
from prettymeter.io import atomic_path
from prettymeter.parts import PartsFolder
from prettymeter.tables import open_table

PART_ROWS = 64  # rows per finished part: what a kill can lose at most

DETECT_FIELDS = [
    pa.field("faces", pa.int64()),
    pa.field("main_faces", pa.int64()),
    pa.field("face_box", pa.list_(pa.float64())),
    pa.field("person_box", pa.list_(pa.float64())),
    pa.field("confidence", pa.float64()),
    pa.field("filter_reason", pa.string()),
    pa.field("crop", pa.binary()),
    pa.field("crop_size", pa.int64()),
]
DETECT_COLUMNS = tuple(f.name for f in DETECT_FIELDS)


def detect(
    src: Path,
    dst: Path,
    *,
    detector: str = MTCNN,
    crop_size: int = imaging.DEFAULT_CROP_SIZE,
    threads: int | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Run the detect stage from `src` to `dst`; returns the summary numbers."""
    src, dst = Path(src), Path(dst)
    if detector not in DETECTORS:
        raise PrettyMeterError(f"unknown detector {detector!r}; use one of: {', '.join(DETECTORS)}")
    if crop_size < 8:
        raise PrettyMeterError(
            f"--crop-size {crop_size} is too small; use at least 8 (default 256)"
        )
    workers = max(1, threads if threads is not None else usable_cores())
    source = open_table(src, ["image"], made_by="dedupe")
    folder = PartsFolder(dst, "detect")
    folder.check_output(overwrite, "--dst")
    schema = _output_schema(source.schema_arrow, detector, crop_size)
    total = source.metadata.num_rows

    manifest = {
        "src": str(src.resolve()),
        "src_bytes": src.stat().st_size,
        "src_mtime_ns": src.stat().st_mtime_ns,
        "rows": total,
        "detector": detector,
        "crop_size": crop_size,
    }
    finished = folder.begin(manifest, overwrite, "--dst")
    if finished is not None:  # killed after writing the whole table: it is now in place
        return _summary(src, dst, detector, crop_size, total, finished, done=total)
    done = _rows_done(folder)

    finder = None
    if detector == MTCNN:
        from prettymeter.faces.mtcnn import FaceDetector

        finder = FaceDetector(threads=1)  # parallelism comes from one image per worker thread

    started = time.perf_counter()
    processed = 0
    with console.progress_bar() as bar, ThreadPoolExecutor(max_workers=workers) as pool:
        task = bar.add_task("detect", total=total, completed=done)
        for start, batch in _batches(source, done):
            paths = batch.column("path").to_pylist() if "path" in batch.schema.names else None
            images = batch.column("image").to_pylist()
            where = (
                [repr(p) for p in paths]
                if paths
                else [f"row {start + i}" for i in range(len(images))]
            )
            rows = list(
                pool.map(partial(_detect_row, finder=finder, crop_size=crop_size), images, where)
            )
            part = _with_detect_columns(batch, rows, crop_size, schema)
            with atomic_path(folder.part(start)) as tmp:
                pq.write_table(part, tmp)
            processed += batch.num_rows
            bar.advance(task, batch.num_rows)
    seconds = time.perf_counter() - started

    reasons = folder.commit(partial(_join, [p for _, p in folder.parts()], schema))
    summary = _summary(src, dst, detector, crop_size, total, reasons, done=done)
    return {
        **summary,
        "processed_rows": processed,
        "seconds": round(seconds, 2),
        "images_per_s": round(processed / seconds, 1) if seconds > 0 and processed else None,
    }


def _summary(
    src: Path,
    dst: Path,
    detector: str,
    crop_size: int,
    total: int,
    reasons: dict[str, int],
    done: int,
) -> dict[str, Any]:
    filtered = {reason: reasons.get(reason, 0) for reason in FILTER_REASONS}
    return {
        "src": str(src),
        "dst": str(dst),
        "detector": detector,
        "crop_size": crop_size,
        "rows": total,
        "kept": total - sum(filtered.values()),
        "filtered": filtered,
        "resumed_rows": done,
        "processed_rows": 0,
        "seconds": 0.0,
        "images_per_s": None,
    }


def _output_schema(source: pa.Schema, detector: str, crop_size: int) -> pa.Schema:
    """The source columns (minus any old detect columns), then the detect columns."""
    kept = [f for f in source if f.name not in DETECT_COLUMNS]
    metadata = dict(source.metadata or {})
    metadata[DETECT_METADATA_KEY] = json.dumps(
        {
            "detector": detector,
            "crop_size": crop_size,
            "min_confidence": MIN_CONFIDENCE,
            "main_face_diagonal_ratio": MAIN_FACE_DIAGONAL_RATIO,
        }
    ).encode()
    return pa.schema(kept + DETECT_FIELDS, metadata=metadata)


def _rows_done(folder: PartsFolder) -> int:
    """How many rows the finished parts hold (each part is named by its first row)."""
    done = 0
    for start, part in folder.parts():
        if start != done:
            raise PrettyMeterError(
                f"{folder.work} is missing rows {done}-{start - 1}; pass --overwrite to start over"
            )
        done += pq.read_metadata(part).num_rows
    return done


def _batches(source: pq.ParquetFile, done: int) -> Iterator[tuple[int, pa.RecordBatch]]:
    """Batches of the source from row `done` on, each with the index of its first row."""
    first_group, group_start = 0, 0
    meta = source.metadata
    while first_group < meta.num_row_groups:
        rows = meta.row_group(first_group).num_rows
        if group_start + rows > done:
            break
        group_start += rows
        first_group += 1
    groups = list(range(first_group, meta.num_row_groups))
    if not groups:
        return
    position = group_start
    for batch in source.iter_batches(batch_size=PART_ROWS, row_groups=groups):
        if position + batch.num_rows <= done:
            position += batch.num_rows
            continue
        if position < done:
            batch = batch.slice(done - position)
            position = done
        yield position, batch
        position += batch.num_rows


def _detect_row(
    data: bytes | None, where: str, *, finder: Any, crop_size: int
) -> tuple[PersonResult, bytes]:
    if data is None:
        raise PrettyMeterError(f"{where} has no image bytes; rerun `pretty-meter ingest`")
    try:
        photo = imaging.decode_image(data, min_side=imaging.min_side_for(crop_size))
    except ImageError as exc:
        raise PrettyMeterError(
            f"{where} cannot be decoded ({exc}); rerun `pretty-meter ingest`"
        ) from exc
    person = find_person(photo, finder)
    crop = imaging.square_crop(photo, person.person_box, crop_size)
    # the stored boxes are in the photo's own pixels, as the service reports them
    face, box = person.face_box, person.person_box
    full = replace(
        person,
        face_box=imaging.to_full(face, photo) if face else None,
        person_box=imaging.to_full(box, photo) if box else None,
    )
    return full, imaging.encode_png(crop)


def _with_detect_columns(
    batch: pa.RecordBatch,
    rows: list[tuple[PersonResult, bytes]],
    crop_size: int,
    schema: pa.Schema,
) -> pa.Table:
    columns = {
        "faces": [len(p.faces) for p, _ in rows],
        "main_faces": [p.main_faces for p, _ in rows],
        "face_box": [list(p.face_box) if p.face_box else None for p, _ in rows],
        "person_box": [list(p.person_box) if p.person_box else None for p, _ in rows],
        "confidence": [p.confidence for p, _ in rows],
        "filter_reason": [p.filter_reason for p, _ in rows],
        "crop": [crop for _, crop in rows],
        "crop_size": [crop_size] * len(rows),
    }
    arrays = []
    for field in schema:
        if field.name in columns:
            arrays.append(pa.array(columns[field.name], type=field.type))
        else:
            arrays.append(batch.column(field.name))
    return pa.Table.from_arrays(arrays, schema=schema)


def _join(parts: list[Path], schema: pa.Schema, tmp: Path) -> dict[str, int]:
    """Join the finished parts into one table at `tmp`; count the filter reasons."""
    reasons: Counter[str] = Counter()
    with pq.ParquetWriter(tmp, schema) as writer:
        for part in parts:
            table = pq.read_table(part, schema=schema)
            reasons.update(r for r in table.column("filter_reason").to_pylist() if r)
            writer.write_table(table)
    return dict(reasons)
