"""Export ends by verifying the faster engines on the run's held-out crops, into the card."""

from __future__ import annotations

from pathlib import Path

import pytest

from prettymeter.card import load_model_dir
from prettymeter.scoring import Scorer
from prettymeter.verification import EVALUATION_CROPS, LIMITS

pytestmark = pytest.mark.slow


def test_export_records_every_engine_on_the_run_s_held_out_crops(
    exported_model: Path, synth_table: Path
) -> None:
    card, _ = load_model_dir(exported_model)
    v = card.verification
    assert v is not None and v.table == str(synth_table)
    assert v.crops == EVALUATION_CROPS and 0 < v.calibration_crops <= 300
    assert v.limits == LIMITS
    assert {"onnxruntime", "openvino-bf16", "openvino-int8", "cuda-fp16"} == set(v.engines)
    for name, check in v.engines.items():
        assert check.reason, name
        if check.p99 is not None:  # judged: the verdict follows the limits
            within = (
                check.p99 <= LIMITS["p99"]
                and check.max is not None
                and check.max <= LIMITS["max"]
                and (check.delta_pc or 0.0) >= LIMITS["delta_pc"]
                and (check.rmse_growth or 0.0) <= LIMITS["rmse_growth"]
            )
            assert check.accepted == within, (name, check)
            assert check.crops == v.crops and check.images_per_second
    scorer = Scorer(exported_model, engine="auto", threads=1)
    assert v.engines[scorer.engine].accepted


def test_export_without_verify_leaves_the_card_unverified(refit_model: Path) -> None:
    """The refit run's model, exported with verify=False (tests/training/conftest.py)."""
    card, _ = load_model_dir(refit_model / "model")
    assert card.verification is None
    assert Scorer(refit_model / "model", engine="auto", threads=1).engine == "onnxruntime"
