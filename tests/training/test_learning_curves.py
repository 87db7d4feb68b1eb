"""learning_curves.png is drawn for a run without validation rows (--validation fixed) too,
without matplotlib's empty-legend warning in the training log."""

from __future__ import annotations

import warnings
from pathlib import Path

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
