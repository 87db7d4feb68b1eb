"""Cross-validation folds: stratified by label bin, grouped by duplicate cluster, saved as CSV.

Also the inner validation part a fold model chooses its epoch on (carved from its training rows
the same way) and SCUT-FBP5500's own folds and 60/40 split, read from the table's columns.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from prettymeter.errors import PrettyMeterError
from prettymeter.io import atomic_path

# Fold values of rows no fold model scores (--split official-60-40): trained on by the model, or
# in neither official part and not used at all.
TRAIN_ONLY = -1
UNUSED = -2
SCUT_FOLDS = 5


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


def inner_split(
    labels: np.ndarray, groups: np.ndarray, rows: np.ndarray, share: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split a model's training rows into (fit rows, inner validation rows).

    The inner part is one of round(1 / share) parts made by `make_folds` on those rows alone:
    grouped by duplicate cluster and stratified by label, like the outer folds.
    """
    if not 0.0 < share < 0.5:
        raise PrettyMeterError(f"--inner-share {share} is outside (0, 0.5); the default is 0.15")
    parts = max(2, round(1.0 / share))
    distinct = len(np.unique(groups[rows]))
    if distinct < parts:
        raise PrettyMeterError(
            f"a fold model's training part has only {distinct} distinct groups, too few to carve "
            f"an inner validation part of 1/{parts}; use --validation fixed or more photos"
        )
    part = make_folds(labels[rows], groups[rows], parts, seed=seed)
    return rows[part != 0], rows[part == 0]


def official_folds(cv_fold: Sequence[int | None] | None) -> np.ndarray:
    """SCUT-FBP5500's own five folds (the table's `cv_fold`, 1..5) as fold indices 0..4."""
    if cv_fold is None or all(f is None for f in cv_fold):
        raise PrettyMeterError(
            "--folds official needs the cv_fold column that `ingest --format scut-fbp5500` "
            "writes; this table has none, use --folds 5"
        )
    missing = sum(f is None for f in cv_fold)
    bad = sorted({int(f) for f in cv_fold if f is not None and not 1 <= f <= SCUT_FOLDS})
    if missing or bad:
        raise PrettyMeterError(
            f"{missing} row(s) have no official fold and folds {bad} are outside 1..5; the "
            "table must come whole from `ingest --format scut-fbp5500`"
        )
    return np.array([int(f or 0) - 1 for f in cv_fold], dtype=np.int64)


def official_split(split: Sequence[str | None] | None) -> np.ndarray:
    """SCUT-FBP5500's 60/40 split: the `test` rows are fold 0, `train` rows TRAIN_ONLY."""
    if split is None or not any(s == "test" for s in split) or not any(s == "train" for s in split):
        raise PrettyMeterError(
            "--split official-60-40 needs train and test rows in the split column that "
            "`ingest --format scut-fbp5500` writes; this table has none, use --folds 5"
        )
    fold = {"test": 0, "train": TRAIN_ONLY}
    return np.array([fold.get(s or "", UNUSED) for s in split], dtype=np.int64)


def straddling_groups(groups: np.ndarray, folds: np.ndarray) -> int:
    """How many duplicate groups have rows in more than one fold (0 for folds we make)."""
    pairs = np.unique(np.stack([np.asarray(groups), np.asarray(folds)]), axis=1)
    _, per_group = np.unique(pairs[0], return_counts=True)
    return int((per_group > 1).sum())


def write_folds(
    path: Path, paths: Sequence[str], groups: Sequence[int] | np.ndarray, folds: np.ndarray
) -> None:
    """Write folds.csv: row, path, group, fold (atomically)."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", "path", "group", "fold"])
        for row, (p, g, f) in enumerate(zip(paths, groups, folds, strict=True)):
            writer.writerow([row, p, int(g), int(f)])
