"""The numbers training reports and optimizes, checked against values worked out by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from prettymeter.training.metrics import error_by_range, regression_metrics, summarize_folds
from tests.support.training import fast_config


def test_pc_mae_and_rmse_match_hand_computed_values() -> None:
    # errors -0.1, +0.2, -0.3: MAE 0.6/3, RMSE sqrt(0.14/3)
    m = regression_metrics(np.array([0.1, 0.4, 0.6]), np.array([0.2, 0.2, 0.9]))
    assert m["mae"] == pytest.approx(0.2)
    assert m["rmse"] == pytest.approx(math.sqrt(0.14 / 3))
    assert m["score_rmse"] == pytest.approx(10 * math.sqrt(0.14 / 3))
    # deviations (-0.8, 0.1, 0.7)/3 and (-0.7, -0.7, 1.4)/3: 1.47 / sqrt(1.14 * 2.94)
    assert m["pc"] == pytest.approx(1.47 / math.sqrt(1.14 * 2.94))
    assert m["n"] == 3


def test_fold_mean_and_std_are_over_folds_with_population_std() -> None:
    per_fold = [
        {"pc": 0.9, "mae": 0.1, "n": 10.0},
        {"pc": 0.6, "mae": 0.2, "n": 10.0},
        {"pc": 0.6, "mae": 0.3, "n": 10.0},
    ]
    result = summarize_folds(per_fold)
    assert set(result) == {"pc", "mae"}  # the row count is not averaged
    assert result["pc"]["mean"] == pytest.approx(0.7)
    assert result["pc"]["std"] == pytest.approx(math.sqrt((0.2**2 + 0.1**2 + 0.1**2) / 3))
    assert result["mae"]["std"] == pytest.approx(math.sqrt(0.02 / 3))


def test_error_by_range_bins_count_mae_and_bias_by_hand() -> None:
    true = np.array([0.1, 0.25, 0.3, 0.75, 1.0])
    pred = np.array([0.2, 0.25, 0.1, 0.5, 0.9])
    assert error_by_range(pred, true, width=0.25) == [
        {"lo": 0.0, "hi": 0.25, "count": 1, "mae": pytest.approx(0.1), "bias": pytest.approx(0.1)},
        {"lo": 0.25, "hi": 0.5, "count": 2, "mae": pytest.approx(0.1), "bias": pytest.approx(-0.1)},
        {"lo": 0.5, "hi": 0.75, "count": 0, "mae": None, "bias": None},
        {
            "lo": 0.75,
            "hi": 1.0,
            "count": 2,
            "mae": pytest.approx(0.175),
            "bias": pytest.approx(-0.175),
        },
    ]


def test_a_label_on_a_bin_edge_falls_in_the_bin_it_opens() -> None:
    # 0.15 / 0.05 is 2.9999999999999996 in floating point: it still belongs to 0.15-0.20.
    edges = np.array([0.05, 0.15, 0.35, 0.6, 0.95])
    ranges = error_by_range(edges, edges)
    assert len(ranges) == 20
    assert [r["lo"] for r in ranges if r["count"]] == [0.05, 0.15, 0.35, 0.6, 0.95]


def test_the_loss_weighs_each_sample_by_its_weight() -> None:
    import torch

    from prettymeter.training.augment import weighted_loss
    from prettymeter.training.config import TrainConfig

    pred, target = torch.tensor([0.2, 0.9]), torch.tensor([0.4, 0.4])
    weight = torch.tensor([3.0, 1.0])
    mse = TrainConfig(data=Path(), out=Path(), loss="mse")
    l1 = TrainConfig(data=Path(), out=Path(), loss="l1")
    # squared errors 0.04 and 0.25, absolute 0.2 and 0.5
    assert float(weighted_loss(pred, target, weight, mse)) == pytest.approx((3 * 0.04 + 0.25) / 2)
    assert float(weighted_loss(pred, target, weight, l1)) == pytest.approx((3 * 0.2 + 0.5) / 2)


def test_rows_of_weight_zero_teach_the_model_nothing(synth_table: Path, tmp_path: Path) -> None:
    """Every weight 0 (and no weight decay): training must leave every parameter as it was.
    Also the fixed-epoch policy: no inner part, the last epoch is kept."""
    import torch
    from safetensors.torch import load_file

    from prettymeter.training.checkpoint import ROW_RECORDS
    from prettymeter.training.loop import train
    from prettymeter.training.model import build_model

    table = pq.read_table(synth_table)
    at = table.schema.get_field_index("weight")
    zeros = np.zeros(table.num_rows)
    pq.write_table(table.set_column(at, "weight", [zeros]), tmp_path / "zero.parquet")
    config = fast_config(
        tmp_path / "zero.parquet",
        tmp_path / "run",
        image_size=32,
        epochs=2,
        folds=2,
        batch_size=64,
        weight_decay=0.0,
        validation="fixed",
    )
    run = train(config)

    parameters = {name for name, _ in build_model("mobilenet_v3_small", None).named_parameters()}
    start = load_file(str(run / "init.safetensors"))
    for fold in range(2):
        end = load_file(str(run / f"fold_{fold}" / "best.safetensors"))
        changed = [p for p in parameters if not torch.equal(start[p], end[p])]
        assert not changed, f"weight-0 rows moved {len(changed)} parameters, e.g. {changed[0]}"
        state = json.loads((run / f"fold_{fold}" / "state.json").read_text())
        assert state["train_rows"] > 0 and state["best_epoch"] == 2 and state["inner_rows"] == 0
        assert not np.load(run / f"fold_{fold}" / ROW_RECORDS["inner"]).any()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["validation"]["policy"] == "fixed"
