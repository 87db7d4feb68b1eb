"""The run files core and training share: folds.csv read back against the table it came from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from prettymeter.errors import PrettyMeterError
from prettymeter.tables import read_folds


def write_folds(path: Path, rows: list[tuple[str, int]]) -> Path:
    lines = ["path,group,fold"] + [f"{p},{i},{fold}" for i, (p, fold) in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_folds_are_read_back_in_the_tables_order(tmp_path: Path) -> None:
    folds = write_folds(tmp_path / "folds.csv", [("a.jpg", 0), ("b.jpg", -1), ("c.jpg", 1)])
    got = read_folds(folds, ["a.jpg", "b.jpg", "c.jpg"], "do this")
    np.testing.assert_array_equal(got, [0, -1, 1])


@pytest.mark.parametrize("paths", [["a.jpg", "c.jpg", "b.jpg"], ["a.jpg", "b.jpg"]])
def test_folds_of_another_table_are_one_line_saying_what_to_do(
    tmp_path: Path, paths: list[str]
) -> None:
    folds = write_folds(tmp_path / "folds.csv", [("a.jpg", 0), ("b.jpg", -1), ("c.jpg", 1)])
    with pytest.raises(PrettyMeterError, match=r"does not match the rows.*; resume with it") as e:
        read_folds(folds, paths, "resume with it")
    assert "\n" not in str(e.value)
