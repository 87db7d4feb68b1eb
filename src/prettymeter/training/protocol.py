"""A run's scored predictions on the dataset's own rate scale, per fold, next to published figures.

SCUT-FBP5500 papers report Pearson correlation, MAE and RMSE on the 1-5 score, per official
fold and averaged (or on the 60/40 test part). `train --folds official|--split official-60-40`
prints this table at its end; `pretty-meter evaluate --run RUN [--run RUN2]` prints it again,
pooling the runs fold by fold (one run per gender makes the papers' whole-dataset test sets).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from prettymeter.console import out
from prettymeter.errors import PrettyMeterError
from prettymeter.training.metrics import pearson

# ComboLoss (Xu & Xiang 2020, arXiv:2010.10721), SEResNeXt50, one model for both genders; the
# figures of github.com/lucasxlu/ComboLoss (README): 5-fold cross-validation per fold and
# average, and the best 6/4-split entry of its ablation table.
PAPER = "ComboLoss (Xu & Xiang 2020), SEResNeXt50, both genders"
PAPER_FOLDS = {  # fold name → (PC, MAE, RMSE)
    "cross_validation_1": (0.9157, 0.2119, 0.2751),
    "cross_validation_2": (0.9164, 0.2084, 0.2751),
    "cross_validation_3": (0.9215, 0.1998, 0.2711),
    "cross_validation_4": (0.9208, 0.2050, 0.2693),
    "cross_validation_5": (0.9250, 0.1999, 0.2615),
    "mean": (0.9199, 0.2050, 0.2704),
}
PAPER_SPLIT = {"test 40%": (0.9117, 0.2126, 0.2813)}
REPORT_FILE = "protocol.json"


def labels_to_rates(labels: np.ndarray, lo: float, med: float, hi: float) -> np.ndarray:
    """Invert normalize's n(r): 0-1 labels back to rates (0-10). Labels are first clipped to
    0-1, as the exported model clips its output."""
    labels = np.clip(np.asarray(labels, dtype=np.float64), 0.0, 1.0)
    below = med + (labels - 0.5) / 0.5 * (med - lo)
    above = med + (labels - 0.5) / 0.5 * (hi - med)
    return np.where(labels <= 0.5, below, above)


def rates_to_scale(rates: np.ndarray, scale: dict[str, Any]) -> np.ndarray:
    """Rates 0-10 onto the dataset's own scale (SCUT-FBP5500: 1-5), linearly."""
    lo, hi = float(scale.get("lo", 0.0)), float(scale.get("hi", 10.0))
    return lo + np.asarray(rates, dtype=np.float64) / 10.0 * (hi - lo)


def scale_metrics(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """PC, MAE, RMSE and n on whatever scale the two arrays are on."""
    err = np.asarray(pred, dtype=np.float64) - np.asarray(true, dtype=np.float64)
    return {
        "pc": pearson(pred, true),
        "mae": float(np.abs(err).mean()) if len(err) else float("nan"),
        "rmse": float(np.sqrt((err**2).mean())) if len(err) else float("nan"),
        "n": len(err),
    }


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise PrettyMeterError(
            f"{path.parent} is not a finished training run (no {path.name}); give the --out of "
            f"`pretty-meter train`, or finish it with `pretty-meter train --resume {path.parent}`"
        )
    return dict(json.loads(path.read_text(encoding="utf-8")))


def _scored_rows(run: Path) -> dict[str, Any]:
    """One run's scored rows on the dataset's scale: fold names, predicted and true scores."""
    metrics = _read_json(run / "metrics.json")
    dataset = _read_json(run / "dataset.json")
    norm = dataset.get("normalization") or {}
    if not all(k in norm for k in ("lo", "med", "hi")):
        raise PrettyMeterError(
            f"{run} records no normalization lo/med/hi; train it on a table made by "
            "`pretty-meter normalize`"
        )
    lo, med, hi = (float(norm[k]) for k in ("lo", "med", "hi"))
    scale = dataset.get("rate_scale") or {"name": "rate", "lo": 0.0, "hi": 10.0}
    names = {int(f["fold"]): str(f.get("name", f"fold_{f['fold']}")) for f in metrics["folds"]}
    with open(run / "oof.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    folds = np.array([int(r["fold"]) for r in rows], dtype=np.int64)
    pred = np.array([float(r["pred"]) for r in rows])
    label = np.array([float(r["label"]) for r in rows])
    # The table's own rate when the run recorded it; older runs: the label inverted (exact
    # except where normalize clipped the extremes to 0.001 / 0.999).
    rate = np.array([float(r.get("rate") or "nan") for r in rows])
    rate = np.where(np.isnan(rate), labels_to_rates(label, lo, med, hi), rate)
    keep = folds >= 0
    return {
        "fold": [names.get(int(f), f"fold_{f}") for f in folds[keep]],
        "pred": rates_to_scale(labels_to_rates(pred[keep], lo, med, hi), scale),
        "true": rates_to_scale(rate[keep], scale),
        "scale": scale,
        "protocol": metrics.get("protocol") or {"name": f"{len(names)} folds"},
        "gender": norm.get("gender"),
        "validation": (metrics.get("validation") or {}).get("policy", "unrecorded"),
    }


def run_report(runs: list[Path]) -> dict[str, Any]:
    """Per-fold and mean ± std PC / MAE / RMSE of one or more runs on the dataset's own scale.

    Several runs (one per gender) are pooled fold by fold: they must use the same protocol.
    """
    if not runs:
        raise PrettyMeterError("give at least one --run RUN_DIR")
    parts = [_scored_rows(Path(r)) for r in runs]
    protocols = {p["protocol"].get("name") for p in parts}
    scales = {json.dumps(p["scale"], sort_keys=True) for p in parts}
    if len(protocols) > 1 or len(scales) > 1:
        raise PrettyMeterError(
            "the runs use different protocols or rate scales "
            f"({', '.join(sorted(str(p) for p in protocols))}); pool only runs trained the same way"
        )
    fold = [name for p in parts for name in p["fold"]]
    pred = np.concatenate([p["pred"] for p in parts])
    true = np.concatenate([p["true"] for p in parts])
    order = list(dict.fromkeys(sorted(fold, key=_fold_key)))
    per_fold = []
    for name in order:
        mask = np.array([f == name for f in fold])
        per_fold.append({"fold": name, **scale_metrics(pred[mask], true[mask])})
    mean = {
        k: {
            "mean": float(np.mean([m[k] for m in per_fold])),
            "std": float(np.std([m[k] for m in per_fold])),
        }
        for k in ("pc", "mae", "rmse")
    }
    name = str(parts[0]["protocol"].get("name"))
    paper = _paper_for(parts[0])
    return {
        "runs": [str(r) for r in runs],
        "genders": [p["gender"] for p in parts],
        "validation": [p["validation"] for p in parts],
        "protocol": name,
        "scale": parts[0]["scale"],
        "folds": per_fold,
        "mean_std": mean,
        "pooled": scale_metrics(pred, true),
        "paper": {"source": PAPER, "figures": paper} if paper else None,
    }


def _fold_key(name: str) -> tuple[int, str]:
    digits = "".join(ch for ch in name if ch.isdigit())
    return (int(digits) if digits else 0, name)


def _paper_for(part: dict[str, Any]) -> dict[str, tuple[float, float, float]] | None:
    """Published figures exist for SCUT-FBP5500's own protocols on its 1-5 scale only."""
    protocol, scale = part["protocol"], part["scale"]
    if float(scale.get("lo", 0)) != 1.0 or float(scale.get("hi", 10)) != 5.0:
        return None
    if protocol.get("split") == "official-60-40":
        return PAPER_SPLIT
    if protocol.get("folds") == "official":
        return PAPER_FOLDS
    return None


def format_report(report: dict[str, Any]) -> list[str]:
    """The per-fold table as plain lines (one line per fold, never wrapped): ours, then the
    paper's figures for the same fold."""
    scale = report["scale"]
    paper = (report.get("paper") or {}).get("figures")
    lines = [
        f"{report['protocol']}, {scale.get('name', 'rate')} scale "
        f"({scale.get('lo'):g}-{scale.get('hi'):g}), gender(s) "
        f"{', '.join(str(g) for g in report['genders'])}, "
        f"kept epoch chosen: {', '.join(report['validation'])}"
    ]
    head = f"{'fold':<20}{'n':>6}{'PC':>17}{'MAE':>17}{'RMSE':>17}"
    if paper:
        head += f"  |{'paper PC':>10}{'paper MAE':>11}{'paper RMSE':>12}"
    lines.append(head)

    def row(name: str, n: int, ours: list[str]) -> str:
        line = f"{name:<20}{n:>6}" + "".join(f"{v:>17}" for v in ours)
        if paper:
            pc, mae, rmse = paper.get(name) or ("", "", "")
            line += "  |" + "".join(
                f"{v:>{w}.4f}" if v != "" else " " * w for v, w in ((pc, 10), (mae, 11), (rmse, 12))
            )
        return line.rstrip()

    for m in report["folds"]:
        lines.append(row(m["fold"], m["n"], [f"{m[k]:.4f}" for k in ("pc", "mae", "rmse")]))
    if len(report["folds"]) > 1:
        ms = report["mean_std"]
        n = sum(m["n"] for m in report["folds"])
        ours = [f"{ms[k]['mean']:.4f} ± {ms[k]['std']:.4f}" for k in ("pc", "mae", "rmse")]
        lines.append(row("mean", n, ours))
    if paper:
        lines.append(
            f"paper: {report['paper']['source']}, one model over all 5500 photos; pool a run "
            "per gender with `pretty-meter evaluate --run RUN_W --run RUN_M`. Reproducing "
            "the paper's figures takes the full dataset and a GPU (docs/training.md)."
        )
    return lines


def print_report(report: dict[str, Any]) -> None:
    """The table on stdout."""
    for line in format_report(report):
        out.print(line, markup=False, highlight=False, soft_wrap=True)


def write_report(report: dict[str, Any], path: Path) -> None:
    from prettymeter.io import atomic_write_text

    atomic_write_text(path, json.dumps(report, indent=1) + "\n")
