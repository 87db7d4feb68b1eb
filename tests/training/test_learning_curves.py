"""learning_curves.png is drawn for a run without validation rows (--validation fixed) too,
without matplotlib's empty-legend warning in the training log."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from PIL import Image

from prettymeter.data.plots import learning_curves


def test_a_run_without_validation_rows_draws_its_curves_quietly(tmp_path: Path) -> None:
    rows = [{"member": "fold_0", "epoch": e, "train_loss": 0.1 / e} for e in (1, 2, 3)]
    path = tmp_path / "curves.png"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        learning_curves(rows, path)
    with Image.open(path) as image:
        assert image.width > 600


def test_the_curves_are_redrawn_after_the_first_epoch_each_members_last_and_when_due(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A drawing costs about as much as a small run's epoch: not one per epoch."""
    from prettymeter.training import logger as logger_module

    log = logger_module.Logger(tmp_path, enabled=True)
    draws: list[int] = []

    def epochs(members: int, count: int) -> None:
        for member in range(members):
            for epoch in range(1, count + 1):
                row = {"member": f"fold_{member}", "epoch": epoch, "train_loss": 1.0 / epoch}
                log.row(row)
                mtime = (tmp_path / "learning_curves.png").stat().st_mtime_ns if draws else 0
                log.curves(last=epoch == count)
                drawn = (tmp_path / "learning_curves.png").stat().st_mtime_ns
                draws.append(int(drawn != mtime))

    epochs(2, 4)  # well within CURVES_EVERY_S
    assert draws == [1, 0, 0, 1, 0, 0, 0, 1]
    with Image.open(tmp_path / "learning_curves.png") as image:
        assert image.width > 600
    monkeypatch.setattr(logger_module, "CURVES_EVERY_S", 0.0)  # every drawing is due
    draws.clear()
    epochs(1, 2)
    assert draws == [1, 1]
