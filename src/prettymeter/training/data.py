"""The training table: a normalized table's rows, its crops decoded once, and its metadata."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from prettymeter import imaging
from prettymeter.console import progress_bar
from prettymeter.contract import INGEST_METADATA_KEY, MTCNN, NO_DETECTOR, STAGE_METADATA_KEY
from prettymeter.errors import PrettyMeterError
from prettymeter.hardware import usable_cores
from prettymeter.tables import detect_settings, open_table
from prettymeter.training.config import REQUIRED_COLUMNS
from prettymeter.training.records import DatasetRecord

if TYPE_CHECKING:
    import torch

OPTIONAL_COLUMNS = ("crop_size", "rate", "split", "cv_fold")


@dataclass
class TrainingTable:
    """The rows of a normalized table that training needs, crops decoded once."""

    paths: list[str]
    groups: np.ndarray
    labels: np.ndarray
    weights: np.ndarray
    images: torch.Tensor  # uint8 [N, 3, S, S], the stored crops resized to the input size
    meta: dict[str, Any]
    crop_size: int
    rates: np.ndarray | None = None  # the rate the label was made from (dataset scale, 0-10)
    split: list[str | None] | None = None  # SCUT-FBP5500's 60/40 split (ingest)
    cv_fold: list[int | None] | None = None  # SCUT-FBP5500's own fold, 1..5 (ingest)
    source: dict[str, Any] | None = None  # what ingest recorded (format, rate scale)


def decode_crop_uint8(crop: bytes, input_size: int) -> np.ndarray:
    """A stored crop → uint8 [3, S, S]: the pixels `imaging.to_input_array` normalizes."""
    image = imaging.decode_crop(crop)
    if image.size != (input_size, input_size):
        image = image.resize((input_size, input_size), imaging.RESAMPLE)
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8).transpose(2, 0, 1))


def decode_crops(crops: list[bytes], input_size: int, show: bool = True) -> torch.Tensor:
    """Decode every crop once, in threads (PNG decoding releases the GIL), into one tensor."""
    import torch

    images = torch.empty((len(crops), 3, input_size, input_size), dtype=torch.uint8)
    workers = max(1, min(8, usable_cores()))
    with ThreadPoolExecutor(workers) as pool, progress_bar() as bar:
        task = bar.add_task("decoding crops", total=len(crops), visible=show)
        for i, array in enumerate(pool.map(lambda c: decode_crop_uint8(c, input_size), crops)):
            images[i] = torch.from_numpy(array)
            bar.advance(task)
    return images


def load_table(path: Path, input_size: int, show: bool = True) -> TrainingTable:
    """Read a normalized table (docs/data.md) and decode its crops into the uint8 cache."""
    parquet = open_table(Path(path), REQUIRED_COLUMNS)
    names = parquet.schema_arrow.names
    table = parquet.read(columns=[*REQUIRED_COLUMNS, *(c for c in OPTIONAL_COLUMNS if c in names)])
    labels = np.asarray(table.column("label").to_numpy(zero_copy_only=False), dtype=np.float64)
    keep = ~np.isnan(labels)
    crops_col = table.column("crop").to_pylist()
    keep &= np.array([c is not None for c in crops_col])
    if keep.sum() < 2:
        raise PrettyMeterError(
            f"{path} has fewer than 2 usable rows (label and crop); nothing to train on"
        )
    index = np.flatnonzero(keep)
    paths = [str(p) for p in np.asarray(table.column("path").to_pylist(), dtype=object)[index]]
    groups = np.asarray(table.column("group").to_numpy(zero_copy_only=False))[index]
    weights = np.asarray(table.column("weight").to_numpy(zero_copy_only=False), dtype=np.float64)
    crops = [crops_col[i] for i in index]
    meta = table_metadata(parquet)
    if "detector" not in meta and "confidence" in names:
        # normalize does not carry detect's metadata over: a table with no detection
        # confidence anywhere was cropped with --detector none.
        confidence = parquet.read(columns=["confidence"]).column("confidence")
        meta["detector"] = NO_DETECTOR if confidence.null_count == len(confidence) else MTCNN
    if "crop_size" in table.column_names:
        crop_size = int(table.column("crop_size")[int(index[0])].as_py())
    else:
        crop_size = int(imaging.decode_crop(crops[0]).size[0])

    def optional_column(name: str) -> list[Any] | None:
        if name not in table.column_names:
            return None
        values = table.column(name).to_pylist()
        return [values[i] for i in index]

    rates = optional_column("rate")
    return TrainingTable(
        paths=paths,
        groups=groups.astype(np.int64),
        labels=labels[index],
        weights=np.nan_to_num(weights[index], nan=1.0),
        images=decode_crops(crops, input_size, show=show),
        meta=meta,
        crop_size=crop_size,
        rates=np.asarray(rates, dtype=np.float64) if rates is not None else None,
        split=optional_column("split"),
        cv_fold=optional_column("cv_fold"),
        source=ingest_metadata(parquet),
    )


def table_metadata(parquet: Any) -> dict[str, Any]:
    """detect's settings, then the stages' JSON under the key `prettymeter` (schema, file)."""
    merged = dict(detect_settings(parquet))
    for source in (parquet.schema_arrow.metadata, parquet.metadata.metadata):
        raw = (source or {}).get(STAGE_METADATA_KEY)
        if raw:
            try:
                merged.update(json.loads(raw))
            except ValueError:
                continue
    return merged


def ingest_metadata(parquet: Any) -> dict[str, Any] | None:
    """What ingest recorded for later stages (format, rate scale); it survives every stage."""
    raw = (parquet.schema_arrow.metadata or {}).get(INGEST_METADATA_KEY)
    try:
        return dict(json.loads(raw)) if raw else None
    except ValueError:
        return None


def detector_of(meta: dict[str, Any]) -> str:
    """Which detector cropped the table ('mtcnn', 'none'), as its metadata says."""
    for place in (meta, meta.get("detect") or {}, meta.get("detection") or {}):
        if isinstance(place, dict) and place.get("detector"):
            return str(place["detector"])
    return "unknown"


def rate_scale(table: TrainingTable) -> dict[str, Any]:
    """The dataset's own rate scale (ingest records it; older SCUT tables are known by their
    official columns): reports map rates 0-10 linearly back onto it."""
    from prettymeter.data.ingest import RATE_SCALES

    if table.source and isinstance(table.source.get("rate_scale"), dict):
        return dict(table.source["rate_scale"])
    official = [*(table.cv_fold or []), *(table.split or [])]
    return RATE_SCALES["scut-fbp5500" if any(v is not None for v in official) else "filenames"]


def dataset_record(table: TrainingTable, path: Path) -> DatasetRecord:
    """dataset.json: what the run trained on (the card's crop, detector, n(r) and percentiles)."""
    return DatasetRecord(
        table=str(path),
        rows=len(table.labels),
        groups=len(np.unique(table.groups)),
        crop_size=table.crop_size,
        detector=detector_of(table.meta),
        normalization=table.meta,
        label_mean=float(table.labels.mean()),
        label_std=float(table.labels.std()),
        labels=sorted(float(v) for v in table.labels),
        rate_scale=rate_scale(table),
    )
