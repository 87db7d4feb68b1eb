"""Training and evaluation plots (PNG): learning curves, error by rate range, predicted vs true."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from prettymeter.io import atomic_path


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    _pyplot().close(fig)


def learning_curves(rows: Sequence[dict[str, Any]], path: Path) -> None:
    """Train and validation loss, validation PC and MAE per epoch, one line per fold model."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    members = sorted({r["member"] for r in rows})
    for member in members:
        mine = [r for r in rows if r["member"] == member]
        epochs = [r["epoch"] for r in mine]
        (line,) = axes[0].plot(
            epochs, [r["train_loss"] for r in mine], "--", label=f"{member} train"
        )
        val = [r for r in mine if "val_loss" in r]
        if val:
            e = [r["epoch"] for r in val]
            axes[0].plot(
                e, [r["val_loss"] for r in val], "-", color=line.get_color(), label=f"{member} val"
            )
            axes[1].plot(e, [r["val_pc"] for r in val], "-o", color=line.get_color(), label=member)
            axes[2].plot(
                e, [10 * r["val_mae"] for r in val], "-o", color=line.get_color(), label=member
            )
    axes[0].set(title="loss (dashed: train, solid: validation)", xlabel="epoch", yscale="log")
    axes[1].set(title="validation Pearson correlation", xlabel="epoch")
    axes[2].set(title="validation MAE (0-10 score)", xlabel="epoch")
    for ax in axes:
        ax.grid(alpha=0.3)
    if axes[1].lines:
        axes[1].legend(fontsize=7)
    else:  # --validation fixed: no epoch is chosen, so nothing is validated per epoch
        for ax in axes[1:]:
            ax.text(0.5, 0.5, "no validation rows", ha="center", transform=ax.transAxes)
    fig.tight_layout()
    _save(fig, path)


def error_by_range_plot(ranges: Sequence[dict[str, Any]], path: Path) -> None:
    """The original's plot: mean absolute error per 0.05 bin of the true label, with row counts."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    centres = [(r["lo"] + r["hi"]) / 2 * 10 for r in ranges]
    mae = [10 * r["mae"] if r["mae"] is not None else np.nan for r in ranges]
    ax.bar(centres, mae, width=0.45, color="#4c72b0")
    ax.set(
        xlabel="true score (0-10), bins of 0.5", ylabel="MAE (0-10)", title="error by rate range"
    )
    twin = ax.twinx()
    twin.plot(centres, [r["count"] for r in ranges], "k.-", alpha=0.5)
    twin.set_ylabel("photos in bin")
    fig.tight_layout()
    _save(fig, path)


def oof_scatter(pred: np.ndarray, true: np.ndarray, path: Path) -> None:
    """Predicted vs true score (0-10) with the diagonal."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(10 * np.asarray(true), 10 * np.asarray(pred), s=6, alpha=0.5)
    ax.plot([0, 10], [0, 10], "k--", lw=1)
    ax.set(xlim=(0, 10), ylim=(0, 10), xlabel="true score", ylabel="predicted score")
    ax.set_title("predicted vs true")
    fig.tight_layout()
    _save(fig, path)
