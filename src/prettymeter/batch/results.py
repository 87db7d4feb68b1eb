"""The table `rate` writes: a row per photo (with `--faces all` a row per face), Parquet or CSV
(boxes as JSON text), read back."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from prettymeter.batch.sources import Item
from prettymeter.contract import STAGE_METADATA_KEY
from prettymeter.errors import PrettyMeterError
from prettymeter.inference import FaceRating, Rating

OUTPUT_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}
BOX_COLUMNS = ("box", "region", "face_box")

RESULT_SCHEMA = pa.schema(
    [
        pa.field("position", pa.int64()),
        pa.field("path", pa.string()),
        pa.field("score", pa.float64()),
        pa.field("rate", pa.float64()),
        pa.field("percentile", pa.float64()),
        pa.field("uncertainty", pa.float64()),
        pa.field("box", pa.list_(pa.float64())),
        pa.field("region", pa.list_(pa.float64())),
        pa.field("width", pa.int64()),
        pa.field("height", pa.int64()),
        pa.field("error", pa.string()),
        pa.field("message", pa.string()),
        # `--faces all`: the face's index on its photo (largest first), whether it is the face
        # the one-person rule scores, the detector's confidence and the face box; null per photo
        pa.field("face", pa.int64()),
        pa.field("main", pa.bool_()),
        pa.field("confidence", pa.float64()),
        pa.field("face_box", pa.list_(pa.float64())),
    ]
)


def output_format(out: Path) -> str:
    fmt = OUTPUT_FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise PrettyMeterError(
            f"--out {out}: the extension says the format; end it in .parquet or .csv"
        )
    return fmt


def _box(box: Sequence[float] | None) -> list[float] | None:
    return [float(v) for v in box] if box is not None else None


def _row(item: Item, r: Rating, width_height: tuple[int, int] | None) -> dict[str, Any]:
    return {
        "position": item.position,
        "path": item.path,
        "score": r.score,
        "rate": r.rate,
        "percentile": r.percentile,
        "uncertainty": r.uncertainty,
        # the box the score was given for, as the v1 API answers
        "box": _box(r.box) if r.score is not None else None,
        "region": _box(r.region),
        "width": width_height[0] if width_height else None,
        "height": width_height[1] if width_height else None,
        "error": r.error,
        "message": r.message,
    }


def _face_row(item: Item, photo: Rating, index: int, face: FaceRating) -> dict[str, Any]:
    row = _row(item, face.rating, photo.image_size)
    return row | {
        "face": index,
        "main": face.main,
        "confidence": face.confidence,
        "face_box": _box(face.box),
    }


def results_table(chunk: list[Item], ratings: list[Rating]) -> pa.Table:
    """One finished part: the chunk's photos and their ratings as RESULT_SCHEMA rows; a photo
    rated with every face (`faces="all"`) gives a row per face (one row when it has none)."""
    rows: list[dict[str, Any]] = []
    for item, r in zip(chunk, ratings, strict=True):
        if r.faces:
            rows.extend(_face_row(item, r, i, face) for i, face in enumerate(r.faces))
        else:
            rows.append(_row(item, r, r.image_size))
    return pa.Table.from_arrays(
        [pa.array([row.get(f.name) for row in rows], type=f.type) for f in RESULT_SCHEMA],
        schema=RESULT_SCHEMA,
    )


def csv_schema() -> pa.Schema:
    return pa.schema(
        [pa.field(f.name, pa.string()) if pa.types.is_list(f.type) else f for f in RESULT_SCHEMA]
    )


def _map_boxes(table: pa.Table, convert: Any, type_: pa.DataType) -> pa.Table:
    for name in BOX_COLUMNS:
        values = [convert(v) for v in table.column(name).to_pylist()]
        table = table.set_column(table.schema.get_field_index(name), name, pa.array(values, type_))
    return table


def csv_table(table: pa.Table) -> pa.Table:
    """CSV has no lists: a box is written as JSON text, `[x0, y0, x1, y1]`."""
    return _map_boxes(table, lambda v: json.dumps(v) if v is not None else None, pa.string())


def read_results(path: Path) -> pa.Table:
    """A `rate` output (Parquet or CSV) as an Arrow table with RESULT_SCHEMA's types."""
    path = Path(path)
    if output_format(path) == "parquet":
        return pq.read_table(path, schema=RESULT_SCHEMA)
    from pyarrow import csv

    options = csv.ConvertOptions(column_types=csv_schema(), strings_can_be_null=True)
    table = csv.read_csv(path, convert_options=options)
    table = _map_boxes(table, lambda v: json.loads(v) if v else None, pa.list_(pa.float64()))
    return table.select(RESULT_SCHEMA.names).cast(RESULT_SCHEMA)


def joiner(
    parts: list[Path], fmt: str, metadata: dict[str, Any]
) -> Callable[[Path], dict[str, Any]]:
    """What `PartsFolder.commit` calls: join the finished parts into one table at the path it
    is given (Parquet with the run's metadata, or CSV) and return the run's counts."""

    def join(tmp: Path) -> dict[str, Any]:
        errors: Counter[str] = Counter()
        rows = photos = scored = 0
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
            for part in parts:
                table = pq.read_table(part, schema=RESULT_SCHEMA)
                rows += table.num_rows
                photos += len(set(table.column("position").to_pylist()))  # rows per face
                scored += table.num_rows - table.column("score").null_count
                errors.update(e for e in table.column("error").to_pylist() if e)
                writer.write_table(table if fmt == "parquet" else csv_table(table))
        return {
            "photos": photos,
            "rows": rows,
            "scored": scored,
            "errors": dict(sorted(errors.items())),
        }

    return join
