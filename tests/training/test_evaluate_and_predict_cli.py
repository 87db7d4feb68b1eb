"""evaluate and predict run the exported model through the service's Scorer, from the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prettymeter.cli import app

pytestmark = pytest.mark.slow


def test_evaluate_scores_a_labelled_table_like_the_out_of_fold_numbers(
    exported_model: Path, synth_table: Path, trained_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "eval"
    args = ["evaluate", "--model", str(exported_model), "--data", str(synth_table)]
    result = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())["metrics"]
    oof = json.loads((trained_run / "metrics.json").read_text())["oof"]
    # The ensemble has seen every row in training (4 of 5 members), so it scores better than OOF.
    assert metrics["pc"] >= oof["pc"] - 0.02
    assert metrics["n"] == oof["n"]
    assert (out / "error_by_range.png").stat().st_size > 0
    assert "PC" in result.output
    again = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert again.exit_code != 0 and "--overwrite" in str(again.exception)


def test_predict_prints_score_and_percentile_for_each_photo(
    exported_model: Path, synth_table: Path
) -> None:
    photos = sorted((synth_table.parent / "photos").glob("*_m_*"))[:2]
    # Drawings have no face MTCNN finds: the one-person rule refuses them, --whole scores them
    # whole (what this detector-none model was trained on) and still names the reason.
    args = ["predict", "--model", str(exported_model), *map(str, photos)]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 2 and refused.output.count("no_face") == 2, refused.output
    result = CliRunner().invoke(app, [*args, "--whole"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())  # the console may wrap long lines
    assert text.count("/10") == 2 and text.count("percentile") == 2, result.output
    assert text.count("no_face") == 2 and text.count("(whole photo scored)") == 2, result.output


def test_predict_reports_an_unreadable_photo_and_exits_non_zero(
    exported_model: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not an image")
    result = CliRunner().invoke(app, ["predict", "--model", str(exported_model), str(bad)])
    assert result.exit_code == 2
    assert "not_an_image" in result.output


def test_train_help_lists_the_seed_recipe_options() -> None:
    result = CliRunner().invoke(app, ["train", "--help"])
    assert result.exit_code == 0
    for option in ("--backbone", "--weights", "--image-size", "--epochs", "--batch-size", "--lr",
                   "--folds", "--loss", "--final", "--seed", "--resume", "--device"):  # fmt: skip
        assert option in result.output
