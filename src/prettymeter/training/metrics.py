"""Regression metrics of facial-beauty prediction: Pearson correlation, MAE, RMSE, by rate range."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def pearson(pred: np.ndarray, true: np.ndarray) -> float:
    """Pearson correlation; 0.0 when either side is constant (no linear relation measurable)."""
    pred = np.asarray(pred, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    if len(pred) < 2 or pred.std() == 0 or true.std() == 0:
        return 0.0
    return float(np.corrcoef(pred, true)[0, 1])


def regression_metrics(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """PC, MAE and RMSE on the 0-1 label and on the 0-10 score (10 × label)."""
    pred = np.asarray(pred, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    err = pred - true
    mae = float(np.abs(err).mean()) if len(err) else float("nan")
    rmse = float(np.sqrt((err**2).mean())) if len(err) else float("nan")
    pc = pearson(pred, true)
    return {
        "pc": pc,
        "mae": mae,
        "rmse": rmse,
        "score_pc": pc,
        "score_mae": 10.0 * mae,
        "score_rmse": 10.0 * rmse,
        "n": float(len(err)),
    }


def std_scale(pred: np.ndarray, std: np.ndarray, true: np.ndarray) -> float:
    """The factor that makes predicted stds honest on these rows: the RMS of the errors in
    units of their std (the Gaussian likelihood's best scale). 1.0 without rows."""
    pred, std, true = (np.asarray(a, dtype=np.float64) for a in (pred, std, true))
    if not len(pred):
        return 1.0
    return float(np.sqrt(np.mean(((true - pred) / np.maximum(std, 1e-12)) ** 2)))


def std_coverage(pred: np.ndarray, std: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """Share of rows whose |error| is within 1 and within 2 predicted stds (a Gaussian error:
    68 % and 95 %)."""
    pred, std, true = (np.asarray(a, dtype=np.float64) for a in (pred, std, true))
    error = np.abs(true - pred)
    if not len(error):
        return {"within_1_std": float("nan"), "within_2_std": float("nan")}
    return {
        "within_1_std": float((error <= std).mean()),
        "within_2_std": float((error <= 2 * std).mean()),
    }


def summarize_folds(per_fold: Sequence[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Mean and standard deviation over folds of each metric (population std, ddof=0)."""
    keys = [k for k in per_fold[0] if k != "n"] if per_fold else []
    result: dict[str, dict[str, float]] = {}
    for key in keys:
        values = np.array([m[key] for m in per_fold], dtype=np.float64)
        result[key] = {"mean": float(values.mean()), "std": float(values.std())}
    return result


def error_by_range(pred: np.ndarray, true: np.ndarray, width: float = 0.05) -> list[dict[str, Any]]:
    """The original's plot data: MAE and count of true labels in bins of `width` (0-1 scale)."""
    pred = np.asarray(pred, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    n_bins = round(1.0 / width)
    # Rounded before the floor: 0.15 / 0.05 is 2.9999999999999996 in floats, and a label on a
    # bin edge belongs to the bin it opens.
    index = np.clip(np.floor(np.round(true / width, 9)).astype(np.int64), 0, n_bins - 1)
    rows = []
    for b in range(n_bins):
        mask = index == b
        count = int(mask.sum())
        rows.append(
            {
                "lo": round(b * width, 4),
                "hi": round((b + 1) * width, 4),
                "count": count,
                "mae": float(np.abs(pred[mask] - true[mask]).mean()) if count else None,
                "bias": float((pred[mask] - true[mask]).mean()) if count else None,
            }
        )
    return rows
