"""Cross-validation folds: stratified by label bin, grouped by duplicate cluster, saved as CSV."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from prettymeter.errors import PrettyMeterError
from prettymeter.io import atomic_path

FOLDS_FILE = "folds.csv"


def make_folds(
    labels: Sequence[float] | np.ndarray,
    groups: Sequence[int] | np.ndarray,
    k: int,
    seed: int = 0,
    bins: int = 10,
) -> np.ndarray:
    """Assign every row to one of k folds; a group never spans two folds.

    Groups are binned by their mean label into `bins` equal-count bins; inside each bin the
    groups are shuffled and each goes to the fold that holds the fewest rows of that bin (ties:
    fewest rows overall), so every fold sees the whole label range in the same proportions.
    """
    labels = np.asarray(labels, dtype=np.float64)
    groups = np.asarray(groups)
    if labels.shape != groups.shape:
        raise ValueError("labels and groups must have the same length")
    unique, inverse = np.unique(groups, return_inverse=True)
    if k < 2:
        raise PrettyMeterError(f"--folds {k} is too few; use 2 or more (default 5)")
    if len(unique) < k:
        raise PrettyMeterError(
            f"the table has {len(unique)} distinct groups, fewer than --folds {k}; "
            "use fewer folds or more photos"
        )
    sizes = np.bincount(inverse)
    group_label = np.bincount(inverse, weights=labels) / sizes
    order = np.argsort(group_label, kind="stable")
    n_bins = max(1, min(bins, len(unique) // k))
    bin_of_group = np.empty(len(unique), dtype=np.int64)
    bin_of_group[order] = np.arange(len(unique)) * n_bins // len(unique)

    rng = np.random.default_rng(seed)
    fold_of_group = np.empty(len(unique), dtype=np.int64)
    total = np.zeros(k, dtype=np.int64)
    for b in range(n_bins):
        members = np.flatnonzero(bin_of_group == b)
        members = members[rng.permutation(len(members))]
        # Big groups first so they do not unbalance the last folds of the bin.
        members = members[np.argsort(-sizes[members], kind="stable")]
        in_bin = np.zeros(k, dtype=np.int64)
        for g in members:
            start = int(rng.integers(k))
            candidates = [(start + i) % k for i in range(k)]
            best = min(candidates, key=lambda f: (in_bin[f], total[f]))
            fold_of_group[g] = best
            in_bin[best] += sizes[g]
            total[best] += sizes[g]
    return fold_of_group[inverse]


def write_folds(
    path: Path, paths: Sequence[str], groups: Sequence[int] | np.ndarray, folds: np.ndarray
) -> None:
    """Write folds.csv: row, path, group, fold (atomically)."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", "path", "group", "fold"])
        for row, (p, g, f) in enumerate(zip(paths, groups, folds, strict=True)):
            writer.writerow([row, p, int(g), int(f)])


def read_folds(path: Path, paths: Sequence[str]) -> np.ndarray:
    """Read folds.csv back and check it belongs to the same table (same rows, same order)."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if len(rows) != len(paths) or any(r["path"] != p for r, p in zip(rows, paths, strict=True)):
        raise PrettyMeterError(
            f"{path} does not match the rows of the training table; resume with the same --data "
            "file the run was started with"
        )
    return np.array([int(r["fold"]) for r in rows], dtype=np.int64)
