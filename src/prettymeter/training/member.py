"""One model of a run: its rows, what all members share, and its forward passes.

A step's forward runs under autocast (--precision) and returns the objective; every prediction
of rows (the inner part each epoch, the scored rows once) runs in fp32, sharded over ranks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from prettymeter.training import checkpoint
from prettymeter.training.augment import normalize_batch, variance_loss, weighted_loss
from prettymeter.training.config import TrainConfig
from prettymeter.training.data import TrainingTable
from prettymeter.training.distributed import Dist, gather_predictions, unwrap
from prettymeter.training.logger import Logger
from prettymeter.training.records import MemberState

if TYPE_CHECKING:
    import torch
    from torch import nn


@dataclass
class Session:
    """What every member's fit shares: config, data, device, precision, run dir, logger."""

    config: TrainConfig
    table: TrainingTable
    run: Path
    device: torch.device
    dtype: torch.dtype | None
    dist: Dist
    log: Logger
    init_state: dict[str, torch.Tensor]
    images_on_device: torch.Tensor


@dataclass
class MemberRows:
    """One model's rows: trained on, kept epoch chosen on, scored on (three disjoint sets)."""

    train: np.ndarray
    inner: np.ndarray  # empty with --validation fixed, and for the refit
    outer: np.ndarray  # empty for the refit

    @classmethod
    def plan(cls, c: TrainConfig, table: TrainingTable, folds: np.ndarray, fold: int) -> MemberRows:
        """Fold `fold` is scored; the inner part is carved from the other folds' rows."""
        from prettymeter.training.folds import UNUSED, inner_split

        outer = np.flatnonzero(folds == fold)
        fit = np.flatnonzero((folds != fold) & (folds != UNUSED))
        if c.validation == "fixed":
            return cls(fit, np.empty(0, dtype=np.int64), outer)
        train, inner = inner_split(table.labels, table.groups, fit, c.inner_share, c.seed + fold)
        return cls(train, inner, outer)


def predict_rows(
    model: nn.Module, s: Session, rows: np.ndarray, record: tuple[Path, str]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Labels and (uncalibrated) stds predicted for `rows`, sharded over ranks and gathered;
    the rows go on the member's record of that use (`record`: member folder, ROW_RECORDS key).

    Always in fp32, whatever --precision trains in: these numbers choose the kept epoch and
    make the out-of-fold metrics, and the exported model computes in fp32 too."""
    import torch

    from prettymeter.training.model import label_and_std

    d = s.dist
    if d.master:
        checkpoint.record_rows(*record, rows, len(s.table.labels))
    per = math.ceil(len(rows) / d.world)
    mine = rows[d.rank * per : (d.rank + 1) * per]
    model.eval()
    labels, stds = [], []
    step = max(1, s.config.batch_size * 4)
    with torch.no_grad():
        for start in range(0, len(mine), step):
            index = torch.as_tensor(mine[start : start + step], device=s.images_on_device.device)
            x = normalize_batch(
                s.images_on_device.index_select(0, index).to(s.device, non_blocking=True)
            )
            if s.config.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            label, std = label_and_std(unwrap(model)(x))
            labels.append(label)
            stds.append(std)
    empty = torch.zeros(0, device=s.device)
    return tuple(  # type: ignore[return-value]
        gather_predictions(torch.cat(part) if part else empty, len(rows), d).cpu()
        for part in (labels, stds)
    )


def batch_loss(
    net: nn.Module, s: Session, x: torch.Tensor, y: torch.Tensor, w: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One training step's forward (autocast as --precision says): the objective to step on
    (the label's weighted loss plus the variance head's loss, which cannot move the label),
    the label's loss alone (logged and compared) and the predicted labels."""
    import torch

    from prettymeter.training.model import label_and_log_var

    with torch.autocast(s.device.type, dtype=s.dtype or torch.float32, enabled=s.dtype is not None):
        output = net(x)
    pred, log_var = label_and_log_var(output)
    loss = weighted_loss(pred, y, w, s.config)
    return loss + variance_loss(pred, log_var, y, w), loss, pred


def score_kept(
    model: nn.Module, s: Session, rows: MemberRows, folder: Path, state: MemberState
) -> None:
    """Every choice is made: the kept weights fit the std's scale on the inner rows (1 without
    them), then predict the scored rows, once, with stds on that scale."""
    from prettymeter.training.metrics import std_scale

    checkpoint.load_weights(model, folder / checkpoint.BEST_FILE)
    scale = 1.0
    if len(rows.inner):
        pred, std = predict_rows(model, s, rows.inner, (folder, "inner"))
        scale = std_scale(pred.numpy(), std.numpy(), s.table.labels[rows.inner])
    pred, std = predict_rows(model, s, rows.outer, (folder, "outer"))
    state.std_scale = scale
    state.outer_pred = pred.numpy().tolist()
    state.outer_std = (std.numpy() * scale).tolist()
