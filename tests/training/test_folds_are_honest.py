"""Cross-validation done right: grouped, stratified folds and no leak into a fold's training."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from prettymeter.errors import PrettyMeterError
from prettymeter.training.checkpoint import ROW_RECORDS
from prettymeter.training.folds import (
    TRAIN_ONLY,
    UNUSED,
    inner_split,
    make_folds,
    official_folds,
    official_split,
    straddling_groups,
)


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


def test_the_inner_part_is_grouped_stratified_and_about_the_share_asked() -> None:
    rng = np.random.default_rng(5)
    groups = rng.integers(0, 400, 1200)
    labels = rng.beta(2, 5, 400)[groups]  # one label per group, like a merged cluster
    rows = np.flatnonzero(groups % 5 != 0)  # a fold model's training rows
    fit, inner = inner_split(labels, groups, rows, share=0.15, seed=0)
    assert sorted([*fit, *inner]) == sorted(rows)
    assert not set(groups[fit]) & set(groups[inner])
    assert len(inner) / len(rows) == pytest.approx(1 / 7, abs=0.02)  # round(1 / 0.15) parts
    assert abs(labels[inner].mean() - labels[fit].mean()) < 0.02


def test_too_few_groups_for_an_inner_part_says_what_to_do() -> None:
    with pytest.raises(PrettyMeterError, match="--validation fixed"):
        inner_split(np.linspace(0, 1, 6), np.arange(6), np.arange(6), share=0.15, seed=0)


def test_the_official_columns_become_folds_and_a_missing_one_is_a_clear_error() -> None:
    assert official_folds([1, 5, 3]).tolist() == [0, 4, 2]
    assert official_split(["test", "train", None]).tolist() == [0, TRAIN_ONLY, UNUSED]
    with pytest.raises(PrettyMeterError, match="use --folds 5"):
        official_folds([None, None])
    with pytest.raises(PrettyMeterError, match="no official fold"):
        official_folds([1, None, 2])
    with pytest.raises(PrettyMeterError, match="use --folds 5"):
        official_split(None)
    assert straddling_groups(np.array([1, 1, 2, 3]), np.array([0, 1, 1, 1])) == 1


def _member_records(run: Path, fold: int) -> dict[str, np.ndarray]:
    return {kind: np.load(run / f"fold_{fold}" / name) for kind, name in ROW_RECORDS.items()}


def test_no_choice_and_no_training_ever_saw_the_rows_behind_the_out_of_fold_metrics(
    trained_run: Path,
) -> None:
    with open(trained_run / "folds.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    folds = np.array([int(r["fold"]) for r in rows])
    groups = np.array([int(r["group"]) for r in rows])
    _, sizes = np.unique(groups, return_counts=True)
    # near copies share a group (tests/training/conftest.py): a leak has rows to show in
    assert (sizes > 1).sum() >= 10, f"only {(sizes > 1).sum()} groups of several rows"
    for group in np.unique(groups):
        assert len(set(folds[groups == group])) == 1, f"group {group} straddles folds"
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert metrics["validation"]["policy"] == "inner"
    with open(trained_run / "oof.csv", newline="") as handle:
        oof = list(csv.DictReader(handle))
    behind_metrics = {f: {int(r["row"]) for r in oof if int(r["fold"]) == f} for f in set(folds)}
    for fold in range(int(folds.max()) + 1):
        used = _member_records(trained_run, fold)
        trained, chose, scored = used["train"], used["inner"], used["outer"]
        # The rows behind the kept epoch, behind the training and behind the metrics:
        assert chose.any() and trained.any()
        assert (
            set(np.flatnonzero(scored))
            == behind_metrics[fold]
            == set(np.flatnonzero(folds == fold))
        )
        assert not (chose & scored).any(), f"fold {fold}'s epoch was chosen on scored rows"
        assert not (trained & scored).any(), f"fold {fold}'s model trained on scored rows"
        assert not (trained & chose).any(), f"fold {fold}'s model trained on its inner rows"
        for a, b in ((trained, chose), (trained, scored), (chose, scored)):
            assert not set(groups[a]) & set(groups[b]), "a duplicate group straddles two uses"
        assert (trained | chose).sum() > 0.9 * (folds != fold).sum()  # nearly all the others
        state = json.loads((trained_run / f"fold_{fold}" / "state.json").read_text())
        assert state["inner_rows"] == chose.sum() and state["outer_rows"] == scored.sum()
        assert metrics["folds"][fold]["best_epoch"] == state["best_epoch"]
