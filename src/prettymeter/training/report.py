"""The run folder around the loop: made (or reopened) before it, its results written after it."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from prettymeter.console import summary
from prettymeter.errors import PrettyMeterError
from prettymeter.io import atomic_path, remove_stale_temporaries_in
from prettymeter.tables import FOLDS_FILE
from prettymeter.training.config import CONFIG_FILE, TrainConfig
from prettymeter.training.data import TrainingTable
from prettymeter.training.distributed import Dist, barrier
from prettymeter.training.records import MetricsRecord, RunRecord, Stat, write_record

OOF_FILE = "oof.csv"
PLOTS = ("learning_curves.png", "error_by_range.png", "oof_scatter.png")


def prepare_run(c: TrainConfig, d: Dist) -> None:
    """A new run gets an empty folder (--overwrite replaces an old run's); --resume reopens."""
    out = Path(c.out)
    if c.resume:
        if not (out / CONFIG_FILE).is_file():
            raise PrettyMeterError(
                f"{out} is not a training run (no {CONFIG_FILE}); nothing to resume"
            )
        if d.master:  # what a killed run was writing (a plot, a checkpoint) is rewritten anyway
            for folder in [out, *(p for p in out.rglob("*") if p.is_dir())]:
                remove_stale_temporaries_in(folder)
        return
    if out.exists() and any(out.iterdir()):
        if not c.overwrite:
            raise PrettyMeterError(
                f"{out} already exists; pass --resume {out} to continue it, --overwrite to "
                "replace it, or choose another --out"
            )
        if not (out / CONFIG_FILE).is_file():
            raise PrettyMeterError(
                f"{out} is not empty and not a training run; refusing to replace it"
            )
        if d.master:
            shutil.rmtree(out)
    barrier(d)
    if d.master:
        out.mkdir(parents=True, exist_ok=True)
    barrier(d)


def protocol_name(c: TrainConfig, n_folds: int) -> str:
    if c.split:
        return "SCUT-FBP5500's 60/40 split (official-60-40)"
    if c.folds == "official":
        return "SCUT-FBP5500's own 5 folds"
    return f"{n_folds} grouped stratified folds"


def fold_name(c: TrainConfig, fold: int) -> str:
    if c.split:
        return "test 40%"
    if c.folds == "official":
        return f"cross_validation_{fold + 1}"
    return f"fold_{fold}"


def write_results(
    run: Path,
    c: TrainConfig,
    table: TrainingTable,
    folds: np.ndarray,
    oof: np.ndarray,
    oof_std: np.ndarray,
    *,
    best_epochs: list[int],
    members: list[str],
    std_scales: list[float],
    refit_epochs: int | None,
    init_source: str,
    straddling: int,
    inner_used: bool,
    started: float,
) -> None:
    """metrics.json, oof.csv and the plots; run.json last (the run is done); the summary; and
    for SCUT-FBP5500's own protocol, the table next to the paper's figures."""
    from prettymeter.data.plots import error_by_range_plot, oof_scatter
    from prettymeter.training.metrics import error_by_range, regression_metrics, summarize_folds

    n, n_folds = len(table.labels), len(best_epochs)
    protocol = protocol_name(c, n_folds)
    per_fold = []
    for fold in range(n_folds):
        rows = np.flatnonzero(folds == fold)
        m = regression_metrics(oof[rows], table.labels[rows])
        per_fold.append(
            {"fold": fold, "name": fold_name(c, fold), "best_epoch": best_epochs[fold], **m}
        )
    scored = np.flatnonzero(folds >= 0)
    ranges = error_by_range(oof[scored], table.labels[scored])
    coverage = _coverage(folds, oof, oof_std, table.labels, n_folds, c.final)
    metrics = MetricsRecord.model_validate(
        {
            "protocol": {
                "name": protocol,
                "folds": c.folds,
                "split": c.split,
                "scored_rows": len(scored),
                "straddling_groups": straddling,
            },
            "validation": {
                "policy": c.validation,
                "inner_share": c.inner_share if c.validation == "inner" else None,
                "kept_epoch": "lowest weighted loss on the inner part of the training rows"
                if c.validation == "inner"
                else "the last",
                "scored_rows": "predicted once by the kept weights; in no choice",
            },
            "folds": per_fold,
            "mean_std": summarize_folds([_scores(m) for m in per_fold]),
            "oof": regression_metrics(oof[scored], table.labels[scored]),
            "uncertainty": coverage,
            "error_by_range": ranges,
            "rows": n,
        }
    )
    write_record(run, metrics)
    rates = table.rates if table.rates is not None else np.full(n, np.nan)
    with atomic_path(run / OOF_FILE) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        handle.write("row,path,fold,label,pred,rate,std\n")
        for i in scored:
            handle.write(
                f"{i},{json.dumps(table.paths[i])},{folds[i]},"
                f"{table.labels[i]:.6f},{oof[i]:.6f},{rates[i]:.6f},{oof_std[i]:.6f}\n"
            )
    error_by_range_plot(ranges, run / PLOTS[1])
    oof_scatter(oof[scored], table.labels[scored], run / PLOTS[2])
    record = RunRecord(
        done=True,
        final=c.final,
        members=members,
        std_scales=std_scales,
        validation=c.validation,
        best_epochs=best_epochs,
        refit_epochs=refit_epochs,
        init=init_source,
        seconds=time.perf_counter() - started,
    )
    write_record(run, record)

    ms = metrics.mean_std
    kind = "test" if c.split else "out-of-fold"
    parts = max(2, round(1 / c.inner_share))
    chosen = f"on inner parts, 1/{parts} of the training rows" if inner_used else "fixed"
    final = f" ({refit_epochs} epochs on all rows)" if refit_epochs else f" of {n_folds} model(s)"
    summary(
        f"train: {run}",
        {
            "rows / folds": f"{n} rows, {protocol} → {FOLDS_FILE}",
            f"{kind} PC": _pm(ms["pc"]),
            f"{kind} MAE (0-10)": _pm(ms["score_mae"]),
            f"{kind} RMSE (0-10)": _pm(ms["score_rmse"]),
            f"{kind} within 1 / 2 std": f"{coverage['within_1_std']:.0%} / "
            f"{coverage['within_2_std']:.0%} (a calibrated std: 68% / 95%)",
            "kept epochs": ", ".join(str(e) for e in best_epochs) + f" ({chosen})",
            "final model": c.final + final,
            "initial weights": init_source,
            "time": f"{time.perf_counter() - started:.1f} s",
            "plots": ", ".join(PLOTS),
            "next": f"pretty-meter export --run {run} --out MODEL_DIR",
        },
    )
    if c.folds == "official" or c.split:
        from prettymeter.training.protocol import REPORT_FILE, print_report, run_report
        from prettymeter.training.protocol import write_report as write_protocol_report

        report = run_report([run])
        write_protocol_report(report, run / REPORT_FILE)
        print_report(report)


def _coverage(
    folds: np.ndarray,
    oof: np.ndarray,
    oof_std: np.ndarray,
    labels: np.ndarray,
    n_folds: int,
    final: str,
) -> dict[str, Any]:
    """metrics.json's `uncertainty`: each scored row's error against its fold model's own
    calibrated std, pooled and per fold."""
    from prettymeter.training.metrics import std_coverage

    scored = folds >= 0
    per_fold = [
        {"fold": int(k), **std_coverage(oof[folds == k], oof_std[folds == k], labels[folds == k])}
        for k in range(n_folds)
    ]
    return {
        **std_coverage(oof[scored], oof_std[scored], labels[scored]),
        "mean_std": float(np.mean(oof_std[scored])) if scored.any() else float("nan"),
        "calibration": "each fold model's std times one scale fitted on its inner rows (RMS "
        "of the errors in stds; 1 without them: fold_K/state.json std_scale)"
        + ("; the refit's: the folds' geometric mean (run.json)" if final == "refit" else ""),
        "folds": per_fold,
    }


def _scores(fold: dict[str, Any]) -> dict[str, float]:
    return {k: v for k, v in fold.items() if k not in ("fold", "name", "best_epoch")}


def _pm(stat: Stat) -> str:
    return f"{stat.mean:.3f} ± {stat.std:.3f}"
