"""A member folder's state.json as a typed record: older files still load, broken ones refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prettymeter.errors import PrettyMeterError
from prettymeter.training.checkpoint import member_state
from prettymeter.training.records import MemberState


def test_a_state_written_before_the_variance_head_loads_with_no_rescale(tmp_path: Path) -> None:
    old = {"member": "fold_0", "epochs": 2, "validation": "fixed", "epochs_done": 2,
           "best_epoch": 2, "history": [{"epoch": 1}], "outer_pred": [5.0], "done": True,
           "train_rows": 8, "inner_rows": 0, "outer_rows": 1}  # fmt: skip
    (tmp_path / "state.json").write_text(json.dumps(old), encoding="utf-8")
    state = member_state(tmp_path, "fold_0", 2, "fixed", {"train": 8, "inner": 0, "outer": 1})
    assert state.std_scale == 1.0 and state.best_epoch == 2 and state.outer_pred == [5.0]
    state.write(tmp_path)
    assert MemberState.read(tmp_path) == state


def test_a_fresh_member_starts_at_epoch_zero(tmp_path: Path) -> None:
    state = member_state(tmp_path, "refit", 3, "fixed", {"train": 9, "inner": 0, "outer": 0})
    assert (state.epochs_done, state.done, state.train_rows, state.history) == (0, False, 9, [])


def test_a_state_this_version_cannot_read_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text('{"epochs_done": "many"}', encoding="utf-8")
    with pytest.raises(PrettyMeterError) as caught:
        MemberState.read(tmp_path)
    assert "\n" not in str(caught.value) and "state.json" in str(caught.value)
