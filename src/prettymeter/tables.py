"""Parquet tables between the stages: schemas, batched writing, reading and table metadata."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from prettymeter.contract import DETECT_METADATA_KEY, STAGE_METADATA_KEY
from prettymeter.errors import PrettyMeterError

# A row group holds at most this many rows or bytes of images, whichever comes first: the
# memory a stage needs is bounded by one row group, not by the dataset size.
BATCH_ROWS = 256
BATCH_BYTES = 64 << 20

INGEST_SCHEMA = pa.schema(
    [
        ("path", pa.string()),
        ("uuid", pa.string()),
        ("gender", pa.string()),
        ("country", pa.string()),
        ("rate", pa.float64()),
        ("voices", pa.int64()),
        ("image", pa.binary()),
        ("sha256", pa.string()),
        ("width", pa.int64()),
        ("height", pa.int64()),
        ("format", pa.string()),
        ("phash", pa.string()),
        ("split", pa.string()),
        ("cv_fold", pa.int64()),
    ]
)

DEDUPE_FIELDS = [
    pa.field("group", pa.int64()),
    pa.field("paths", pa.list_(pa.string())),
    pa.field("merged", pa.int64()),
]

NORMALIZE_FIELDS = [pa.field("label", pa.float64()), pa.field("weight", pa.float64())]


def with_fields(schema: pa.Schema, fields: Sequence[pa.Field]) -> pa.Schema:
    """`schema` plus `fields`; a field already there is replaced in place (a stage rerun)."""
    for field in fields:
        index = schema.get_field_index(field.name)
        schema = schema.set(index, field) if index >= 0 else schema.append(field)
    return schema


def carried_schema(schema: pa.Schema) -> pa.Schema:
    """The schema a stage writes on: upstream stages' metadata kept (e.g. `prettymeter.detect`,
    which training reads), the previous stage's own `prettymeter` entry dropped (each stage
    writes its own under that key in the file metadata)."""
    metadata = {k: v for k, v in (schema.metadata or {}).items() if k != STAGE_METADATA_KEY}
    return schema.with_metadata(metadata) if metadata else schema.remove_metadata()


def put_column(table: pa.Table, field: pa.Field | str, column: pa.Array) -> pa.Table:
    """Replace the named column, or append it when the table does not have it yet."""
    name = field if isinstance(field, str) else field.name
    at = table.schema.get_field_index(name)
    return table.set_column(at, field, column) if at >= 0 else table.append_column(field, column)


class BatchWriter:
    """Collect rows as dicts and write them to a ParquetWriter one bounded row group at a time."""

    def __init__(
        self,
        path: Path,
        schema: pa.Schema,
        max_rows: int | None = None,
        max_bytes: int | None = None,
    ) -> None:
        self.schema = schema
        self.max_rows = max_rows or BATCH_ROWS
        self.max_bytes = max_bytes or BATCH_BYTES
        self.rows_written = 0
        self._rows: list[dict[str, Any]] = []
        self._bytes = 0
        self._writer = pq.ParquetWriter(str(path), schema, compression="zstd")

    def add(self, row: dict[str, Any], size: int = 0) -> None:
        self._rows.append(row)
        self._bytes += size
        if len(self._rows) >= self.max_rows or self._bytes >= self.max_bytes:
            self.flush()

    def write_table(self, table: pa.Table) -> None:
        self.flush()
        if table.num_rows:
            self._writer.write_table(table.select(self.schema.names).cast(self.schema))
            self.rows_written += table.num_rows

    def flush(self) -> None:
        if self._rows:
            # Column by column: Table.from_pylist would import pandas (a second) for nothing.
            columns = [
                pa.array([row.get(field.name) for row in self._rows], type=field.type)
                for field in self.schema
            ]
            table = pa.Table.from_arrays(columns, schema=self.schema)
            self._writer.write_table(table)
            self.rows_written += len(self._rows)
            self._rows = []
            self._bytes = 0

    def close(self, metadata: dict[str, Any] | None = None) -> None:
        """Flush and close; `metadata` is stored as JSON under the Parquet key `prettymeter`."""
        self.flush()
        if metadata is not None:
            self._writer.add_key_value_metadata({STAGE_METADATA_KEY: json.dumps(metadata).encode()})
        self._writer.close()


def open_table(
    path: Path, required: Sequence[str] = (), made_by: str | None = None
) -> pq.ParquetFile:
    """Open a stage's table, refusing a missing file, a non-Parquet file or missing columns;
    `made_by` names the verb whose output is expected, for the messages."""
    path = Path(path)
    if not path.is_file():
        hint = (
            f"run `pretty-meter {made_by}` first to make it"
            if made_by
            else "give the table the previous stage wrote"
        )
        raise PrettyMeterError(f"{path} does not exist; {hint}")
    try:
        parquet = pq.ParquetFile(str(path))
    except (pa.ArrowException, OSError) as exc:
        hint = f"pass the {made_by} output" if made_by else "give a table written by pretty-meter"
        raise PrettyMeterError(f"{path} is not a Parquet table ({exc}); {hint}") from exc
    names = set(parquet.schema_arrow.names)
    missing = [name for name in required if name not in names]
    if missing:
        raise PrettyMeterError(
            f"{path} has no column {', '.join(missing)}; run the stage that adds it first "
            "(ingest → dedupe → detect → normalize)"
        )
    return parquet


def iter_batches(
    parquet: pq.ParquetFile, columns: Sequence[str] | None = None, batch_size: int | None = None
) -> Iterator[pa.RecordBatch]:
    """Read a table in bounded batches (optionally only some columns)."""
    yield from parquet.iter_batches(
        batch_size=batch_size or BATCH_ROWS, columns=list(columns) if columns is not None else None
    )


def iter_kept_rows(
    parquet: pq.ParquetFile, keep: np.ndarray, description: str
) -> Iterator[tuple[pa.Table, np.ndarray]]:
    """Stream every column of the rows whose `keep` flag is set, batch by batch, with their row
    numbers in the table; a progress bar counts the rows read."""
    offset = 0
    for batch in track_batches(iter_batches(parquet), description, parquet.metadata.num_rows):
        index = np.arange(offset, offset + batch.num_rows)
        offset += batch.num_rows
        chosen = index[keep[index]]
        if len(chosen):
            yield pa.Table.from_batches([batch]).take(pa.array(chosen - index[0])), chosen


def track_batches(
    batches: Iterable[pa.RecordBatch], description: str, total_rows: int
) -> Iterator[pa.RecordBatch]:
    """Iterate batches with a progress bar counted in rows."""
    from prettymeter.console import progress_bar

    with progress_bar() as bar:
        task = bar.add_task(description, total=total_rows)
        for batch in batches:
            yield batch
            bar.advance(task, batch.num_rows)


def read_metadata(path: Path) -> dict[str, Any]:
    """The JSON a stage stored under the Parquet key `prettymeter` ({} when there is none)."""
    metadata = pq.ParquetFile(str(path)).metadata.metadata or {}
    raw = metadata.get(STAGE_METADATA_KEY)
    return json.loads(raw) if raw else {}


def detect_settings(parquet: pq.ParquetFile) -> dict[str, Any]:
    """What the detect stage recorded about a table's crops (detector, crop_size), carried
    downstream in the schema metadata under `prettymeter.detect`; {} when absent."""
    for source in (parquet.schema_arrow.metadata, parquet.metadata.metadata):
        raw = (source or {}).get(DETECT_METADATA_KEY)
        if raw:
            try:
                found = json.loads(raw)
            except ValueError:
                continue
            if isinstance(found, dict):
                return found
    return {}


FOLDS_FILE = "folds.csv"  # a training run's rows (path, group, fold); fold -1: never scored


def read_folds(path: Path, paths: Sequence[str], what_to_do: str) -> np.ndarray:
    """A run's folds.csv read back: each row's fold, checked to belong to the same table (same
    rows, same order); a mismatch is one line ending in `what_to_do`."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if len(rows) != len(paths) or any(r["path"] != p for r, p in zip(rows, paths, strict=True)):
        raise PrettyMeterError(
            f"{path} does not match the rows of the training table; {what_to_do}"
        )
    return np.array([int(r["fold"]) for r in rows], dtype=np.int64)
