"""The predicted std means what it says: scaled where no scored row is, and reported out of fold."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from prettymeter.training.metrics import std_coverage, std_scale


def test_the_scale_makes_gaussian_errors_land_68_and_95_percent_within_1_and_2_stds() -> None:
    rng = np.random.default_rng(0)
    true_std = rng.uniform(0.02, 0.2, 20_000)
    true = rng.uniform(0, 1, 20_000)
    pred = true + rng.normal(0, true_std)
    claimed = true_std / 3  # an overconfident head: three times too sure
    before = std_coverage(pred, claimed, true)
    assert before["within_1_std"] < 0.3
    scale = std_scale(pred, claimed, true)
    assert scale == pytest.approx(3.0, rel=0.02)
    after = std_coverage(pred, claimed * scale, true)
    assert after["within_1_std"] == pytest.approx(0.683, abs=0.01)
    assert after["within_2_std"] == pytest.approx(0.954, abs=0.01)
    assert std_scale(pred[:0], claimed[:0], true[:0]) == 1.0


@pytest.mark.slow
def test_out_of_fold_coverage_is_each_rows_error_against_its_fold_models_scaled_std(
    trained_run: Path,
) -> None:
    """metrics.json's shares are recomputable from oof.csv, whose std is each fold model's own
    std times the scale its inner rows gave; that scale brings the shares nearer 68 %."""
    metrics = json.loads((trained_run / "metrics.json").read_text())
    with open(trained_run / "oof.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    label, pred, std, fold = (
        np.array([float(r[key]) for r in rows]) for key in ("label", "pred", "std", "fold")
    )
    shares = std_coverage(pred, std, label)
    coverage = metrics["uncertainty"]
    assert coverage["within_1_std"] == pytest.approx(shares["within_1_std"], abs=0.01)
    assert coverage["within_2_std"] == pytest.approx(shares["within_2_std"], abs=0.01)
    assert coverage["within_1_std"] < coverage["within_2_std"]
    scales = [
        json.loads((trained_run / f"fold_{k}" / "state.json").read_text())["std_scale"]
        for k in range(3)
    ]
    raw = std / np.array(scales)[fold.astype(int)]
    assert all(s != 1.0 for s in scales)
    before = std_coverage(pred, raw, label)["within_1_std"]
    assert abs(coverage["within_1_std"] - 0.683) < abs(before - 0.683), (before, coverage)
