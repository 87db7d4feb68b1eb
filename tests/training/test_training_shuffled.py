"""Training learns nothing from shuffled labels: the out-of-fold PC stays low, so no label
reaches a fold model's scores except through its photos (its own file: pytest-xdist hands each
file to one worker, and this run and the learning proof's go to different ones)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.support.training import LEARNING, fast_config

pytestmark = pytest.mark.slow


def test_shuffled_labels_give_low_out_of_fold_pc(synth_table: Path, tmp_path: Path) -> None:
    from prettymeter.training.loop import train

    table = pq.read_table(synth_table)
    table = table.slice(0, len(table) // 2)
    labels = table.column("label").to_numpy()
    shuffled = np.random.default_rng(0).permutation(labels)
    at = table.schema.get_field_index("label")
    table = table.set_column(at, "label", [shuffled])
    pq.write_table(table, tmp_path / "shuffled.parquet")
    # The learning recipe on half the rows and two folds instead of three: a quarter of the
    # training, and each fold model fits its fewer rows at least as closely, so a leak of
    # labels would show as much; 10 epochs, more than the proof's 7, add to that.
    recipe = {**LEARNING, "folds": 2, "epochs": 10}
    run = train(fast_config(tmp_path / "shuffled.parquet", tmp_path / "run", **recipe))
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["oof"]["pc"] < 0.3, metrics["oof"]
