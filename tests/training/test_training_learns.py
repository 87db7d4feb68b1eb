"""Training works: it learns the synthetic cue out of fold, and not when the labels are shuffled."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.support.training import LEARNING, MIN_PC, fast_config

pytestmark = pytest.mark.slow


@pytest.mark.xdist_group("learning-run")
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


@pytest.mark.xdist_group("shuffled-run")
def test_shuffled_labels_give_low_out_of_fold_pc(synth_table: Path, tmp_path: Path) -> None:
    from prettymeter.training.loop import train

    table = pq.read_table(synth_table)
    labels = table.column("label").to_numpy()
    shuffled = np.random.default_rng(0).permutation(labels)
    at = table.schema.get_field_index("label")
    table = table.set_column(at, "label", [shuffled])
    pq.write_table(table, tmp_path / "shuffled.parquet")
    # The learning recipe on two folds instead of three: half the training, and each fold
    # model fits its few rows at least as closely, so a leak of labels would show as much.
    recipe = {**LEARNING, "folds": 2}
    run = train(fast_config(tmp_path / "shuffled.parquet", tmp_path / "run", **recipe))
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["oof"]["pc"] < 0.3, metrics["oof"]
