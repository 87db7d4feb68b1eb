"""The run folder's JSON files are typed records: what train wrote reads back whole, a folder
from the previous version still loads, and a damaged or missing file is one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from prettymeter.errors import PrettyMeterError
from prettymeter.training.config import TrainConfig
from prettymeter.training.metrics import regression_metrics
from prettymeter.training.records import (
    ConfigRecord,
    DatasetRecord,
    MetricsRecord,
    RunFolder,
    RunRecord,
    read_record,
    to_json,
)

pytestmark = pytest.mark.slow
RECORDS = (ConfigRecord, DatasetRecord, RunRecord, MetricsRecord)


def _copy_records(run: Path, to: Path) -> Path:
    to.mkdir()
    for kind in RECORDS:
        shutil.copy(run / kind.FILE, to / kind.FILE)
    return to


def test_each_record_reads_back_everything_train_wrote(trained_run: Path) -> None:
    for kind in RECORDS:
        written = json.loads((trained_run / kind.FILE).read_text())
        record = read_record(trained_run, kind)
        assert json.loads(to_json(record.model_dump())) == written, kind.FILE
    # and train wrote it all: every setting, each fold's full regression metrics
    config = json.loads((trained_run / "config.json").read_text())["config"]
    assert set(config) == set(TrainConfig.model_fields) - {"overwrite", "resume"}
    metrics = json.loads((trained_run / "metrics.json").read_text())
    for fold in metrics["folds"]:
        assert set(fold) == {"fold", "name", "best_epoch", *regression_metrics([0, 1], [0, 1])}
    for kind in (DatasetRecord, RunRecord):
        assert set(json.loads((trained_run / kind.FILE).read_text())) == set(kind.model_fields)
    folder = RunFolder.read(trained_run)
    assert folder.config.config.out == trained_run and folder.config.config.folds == 3
    assert folder.dataset.gender == "m" and folder.dataset.rate_bounds is not None
    assert folder.run.members == [f"fold_{k}/best.safetensors" for k in range(3)]
    assert folder.metrics.mean_std["pc"].mean == pytest.approx(
        sum(f.pc for f in folder.metrics.folds) / 3
    )


def test_a_run_folder_of_the_previous_version_still_loads(
    trained_run: Path, tmp_path: Path
) -> None:
    """The first training version wrote no validation policy, protocol, rate scale or fold
    names, and its config knew fewer settings (and one since dropped)."""
    old = _copy_records(trained_run, tmp_path / "old")

    def rewrite(name: str, change) -> None:  # type: ignore[no-untyped-def]
        data = json.loads((old / name).read_text())
        change(data)
        (old / name).write_text(json.dumps(data))

    def config(data: dict) -> None:
        for key in ("schedule", "split", "validation", "inner_share", "huber_delta"):
            data["config"].pop(key)
        data["config"]["a_setting_since_dropped"] = 1

    def metrics(data: dict) -> None:
        data.pop("protocol")
        data.pop("validation")
        for fold in data["folds"]:
            fold.pop("name")

    rewrite("config.json", config)
    rewrite("dataset.json", lambda d: d.pop("rate_scale"))
    rewrite("run.json", lambda d: d.pop("validation"))
    rewrite("metrics.json", metrics)
    folder = RunFolder.read(old)
    assert folder.config.config.schedule == "constant"  # the default of the time
    assert folder.run.validation is None and folder.dataset.rate_scale is None
    assert folder.metrics.protocol is None and folder.metrics.folds[0].name is None


@pytest.mark.parametrize(
    ("name", "damage", "words"),
    [
        ("run.json", None, ["no run.json", "pretty-meter train --resume"]),
        ("config.json", None, ["not a training run (no config.json)"]),
        ("metrics.json", '{"folds": "x"}', ["metrics.json cannot be read (folds", "train the run"]),
        ("dataset.json", "{not json", ["dataset.json cannot be read", "train the run"]),
        ("config.json", '{"config": {"data": "t", "out": "o", "loss": "cubic"}, "init": "x"}',
         ["config.json: --loss 'cubic' is not valid", "train the run"]),
    ],
)  # fmt: skip
def test_a_missing_or_damaged_record_is_one_line(
    trained_run: Path, tmp_path: Path, name: str, damage: str | None, words: list[str]
) -> None:
    run = _copy_records(trained_run, tmp_path / "run")
    if damage is None:
        (run / name).unlink()
    else:
        (run / name).write_text(damage)
    with pytest.raises(PrettyMeterError) as caught:
        RunFolder.read(run)
    message = str(caught.value)
    assert "\n" not in message and all(w in message for w in words), message
