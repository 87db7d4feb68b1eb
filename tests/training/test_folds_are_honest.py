"""Cross-validation done right: grouped, stratified folds and no leak into a fold's training."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from prettymeter.errors import PrettyMeterError
from prettymeter.folds import make_folds


def test_a_group_never_sits_in_two_folds() -> None:
    rng = np.random.default_rng(3)
    groups = rng.integers(0, 300, 1000)  # many groups with several rows each
    labels = rng.uniform(0, 1, 1000)
    folds = make_folds(labels, groups, k=5, seed=1)
    for group in np.unique(groups):
        assert len(set(folds[groups == group])) == 1


def test_folds_are_balanced_and_stratified_by_label() -> None:
    rng = np.random.default_rng(4)
    labels = rng.beta(2, 5, 2000)
    folds = make_folds(labels, np.arange(2000), k=5, seed=0)
    counts = np.bincount(folds, minlength=5)
    assert counts.max() - counts.min() <= 10
    means = [labels[folds == f].mean() for f in range(5)]
    assert max(means) - min(means) < 0.01
    for q in (0.1, 0.5, 0.9):
        cut = np.quantile(labels, q)
        shares = [(labels[folds == f] < cut).mean() for f in range(5)]
        assert max(shares) - min(shares) < 0.03


def test_fewer_groups_than_folds_is_a_clear_error() -> None:
    with pytest.raises(PrettyMeterError, match="fewer than --folds"):
        make_folds([0.1, 0.2, 0.3], [1, 1, 2], k=5)


def test_no_validation_row_was_ever_in_its_fold_models_training(trained_run: Path) -> None:
    with open(trained_run / "folds.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    folds = np.array([int(r["fold"]) for r in rows])
    groups = np.array([int(r["group"]) for r in rows])
    for group in np.unique(groups):
        assert len(set(folds[groups == group])) == 1, f"group {group} straddles folds"
    for fold in range(int(folds.max()) + 1):
        seen = np.load(trained_run / f"fold_{fold}" / "seen_rows.npy")
        assert not seen[folds == fold].any(), f"fold {fold}'s model trained on its validation rows"
        assert seen[folds != fold].mean() > 0.9  # and it did train on (nearly) all the others
