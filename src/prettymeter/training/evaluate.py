"""Evaluate an exported model on any labelled table: PC, MAE, RMSE (0-1 and 0-10) and plots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from prettymeter.console import progress_bar, summary
from prettymeter.errors import PrettyMeterError
from prettymeter.io import atomic_write_text, ensure_new_output

if TYPE_CHECKING:
    from prettymeter.inference import InputSpec


def default_out(model: Path, data: Path) -> Path:
    return Path(data).with_name(f"{Path(data).stem}.eval-{Path(model).name}")


def check_crops_match(spec: InputSpec, crops: dict[str, Any], data: Path) -> None:
    """Refuse a table whose crops were cut otherwise than the model's card says."""
    detector, size = crops.get("detector"), crops.get("crop_size")
    if detector is None or size is None:
        raise PrettyMeterError(
            f"{data} does not record how its crops were made (detector, crop size); evaluate "
            "needs a table written by `pretty-meter detect` and `normalize`"
        )
    if detector != spec.detector or int(size) != spec.crop_size:
        raise PrettyMeterError(
            f"{data} holds crops made with detector {detector!r} at {size} px but the model was "
            f"trained on detector {spec.detector!r} at {spec.crop_size} px; run `pretty-meter "
            f"detect --detector {spec.detector} --crop-size {spec.crop_size}` on the photos first"
        )


def evaluate(
    model: Path,
    data: Path,
    out: Path | None = None,
    *,
    engine: str = "auto",
    batch_size: int = 32,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Score every labelled row of `data` through the exported model (the service's engine).

    Writes metrics.json, predictions.csv, error_by_range.png and scatter.png to `out`
    (default: beside the table); returns the metrics.
    """
    from prettymeter.data.plots import error_by_range_plot, oof_scatter
    from prettymeter.rating_model import RatingModel
    from prettymeter.tables import detect_settings, open_table
    from prettymeter.training.metrics import error_by_range, regression_metrics

    data = Path(data)
    out = Path(out) if out is not None else default_out(model, data)
    ensure_new_output(out, overwrite, "--out")
    # fed the stored crops, never photos: no face detector is loaded
    loaded = RatingModel(Path(model), engine=engine, batch_size=batch_size, stored_crops=True)
    parquet = open_table(data, ("path", "crop", "label"))
    check_crops_match(loaded.spec, detect_settings(parquet), data)
    paths: list[str] = []
    labels: list[float] = []
    preds: list[float] = []
    with progress_bar() as bar:
        task = bar.add_task("scoring", total=parquet.metadata.num_rows)
        for batch in parquet.iter_batches(batch_size=batch_size, columns=["path", "crop", "label"]):
            rows = [
                r for r in batch.to_pylist() if r["crop"] is not None and r["label"] is not None
            ]
            if rows:
                # The stored crop is the card's crop of the photo (checked above): the rest of
                # the photo path is the card's resize and normalization.
                scored = loaded.score([loaded.prepare_crop(r["crop"]) for r in rows])
                preds.extend(float(label) for label, _ in scored if label is not None)
                labels.extend(float(r["label"]) for r in rows)
                paths.extend(str(r["path"]) for r in rows)
            bar.advance(task, batch.num_rows)
    if len(preds) < 2:
        raise PrettyMeterError(
            f"{data} has fewer than 2 rows with a crop and a label; nothing to evaluate"
        )
    pred, true = np.array(preds), np.array(labels)
    metrics = regression_metrics(pred, true)
    ranges = error_by_range(pred, true)
    out.mkdir(parents=True, exist_ok=True)
    result = {
        "model": loaded.card.name,
        "data": str(data),
        "metrics": metrics,
        "error_by_range": ranges,
    }
    atomic_write_text(out / "metrics.json", json.dumps(result, indent=1) + "\n")
    lines = ["path,label,pred"] + [
        f"{json.dumps(p)},{t:.6f},{q:.6f}" for p, t, q in zip(paths, labels, preds, strict=True)
    ]
    atomic_write_text(out / "predictions.csv", "\n".join(lines) + "\n")
    error_by_range_plot(ranges, out / "error_by_range.png")
    oof_scatter(pred, true, out / "scatter.png")
    summary(
        f"evaluate: {loaded.card.name} on {data.name}",
        {
            "rows": len(preds),
            "PC": f"{metrics['pc']:.3f}",
            "MAE (0-10)": f"{metrics['score_mae']:.3f}",
            "RMSE (0-10)": f"{metrics['score_rmse']:.3f}",
            "engine": loaded.engine,
            "written": f"{out}/metrics.json, predictions.csv, error_by_range.png, scatter.png",
        },
    )
    return result
