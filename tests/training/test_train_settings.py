"""One source of the training settings: every TrainConfig field is a `train` flag with its default,
and a bad value is one line naming the flag."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from prettymeter.cli import app
from prettymeter.errors import PrettyMeterError
from prettymeter.training.config import RUN_FOLDER_FIELDS, TrainConfig, flag


def _train_options() -> dict[str, object]:
    command = get_command(app).commands["train"]  # type: ignore[attr-defined]
    return {param.name: param for param in command.params}


def test_every_training_setting_is_a_train_flag_with_the_same_default() -> None:
    options = _train_options()
    settings = [name for name in TrainConfig.model_fields if name not in RUN_FOLDER_FIELDS]
    assert {"schedule", "huber_delta", "channels_last"} <= set(settings)
    for name in settings:
        assert name in options, f"TrainConfig.{name} has no `train` flag"
        option = options[name]
        assert flag(name) in option.opts  # type: ignore[attr-defined]
        # What the flag passes when it is not given becomes the field's own default.
        config = TrainConfig(data=Path(), out=Path(), **{name: option.default})  # type: ignore[attr-defined]
        assert getattr(config, name) == TrainConfig.model_fields[name].default, name
    for name in RUN_FOLDER_FIELDS:
        assert flag(name) in options[name].opts  # type: ignore[attr-defined]
    assert set(options) == set(TrainConfig.model_fields), "a train flag TrainConfig does not know"


def test_switches_have_their_no_form_and_words_keep_their_meaning() -> None:
    assert "--no-augment" in _train_options()["augment"].secondary_opts  # type: ignore[attr-defined]
    assert "--no-sample-weights" in _train_options()["sample_weights"].secondary_opts  # type: ignore[attr-defined]
    config = TrainConfig(data=Path(), out=Path(), weights="none", threads=0, folds="3")
    assert (config.weights, config.threads, config.folds) == (None, None, 3)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--loss", "bogus"], ["--loss 'bogus'", "'mse', 'l1' or 'huber'"]),
        (["--folds", "many"], ["--folds 'many'", "'official'"]),
        (["--schedule", "linear"], ["--schedule 'linear'", "'constant' or 'cosine'"]),
        (["--epochs", "0"], ["--epochs", "greater than or equal to 1"]),
    ],
)
def test_a_bad_setting_is_one_line_naming_its_flag(
    args: list[str], words: list[str], tmp_path: Path
) -> None:
    base = ["train", "--data", str(tmp_path / "t.parquet"), "--out", str(tmp_path / "run")]
    result = CliRunner().invoke(app, [*base, *args])
    assert result.exit_code != 0
    assert isinstance(result.exception, PrettyMeterError)
    message = str(result.exception)
    assert "\n" not in message and all(w in message for w in words), message
    assert not (tmp_path / "run").exists()
