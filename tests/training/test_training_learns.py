"""Training works: it learns the synthetic cue out of fold (and not when the labels are
shuffled: tests/training/test_training_shuffled.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.training import LEARNING, MIN_PC

pytestmark = pytest.mark.slow


def test_training_on_synthetic_photos_reaches_out_of_fold_pc_0_8(learning_run: Path) -> None:
    trained_run = learning_run
    metrics = json.loads((trained_run / "metrics.json").read_text())
    # The honest policy: epochs chosen on inner parts, the scored folds in no choice.
    assert metrics["validation"]["policy"] == "inner"
    assert metrics["oof"]["pc"] >= MIN_PC, metrics["oof"]
    assert metrics["mean_std"]["pc"]["mean"] >= MIN_PC, metrics["mean_std"]
    # Both scales are reported: 0-10 errors are 10× the 0-1 errors.
    assert metrics["oof"]["score_mae"] == pytest.approx(10 * metrics["oof"]["mae"])
    assert len(metrics["folds"]) == 3
    for name in ("learning_curves.png", "error_by_range.png", "oof_scatter.png", "metrics.csv"):
        assert (trained_run / name).stat().st_size > 0
    rows = [json.loads(line) for line in (trained_run / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 3 * LEARNING["epochs"]
    assert {"train_loss", "val_loss", "val_pc"} <= set(rows[0])
