"""Evaluation is fp32 whatever --precision trains in (bf16 labels come in steps of 1/256)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tests.support.training import fast_config


def _bf16_representable(values: np.ndarray) -> np.ndarray:
    import torch

    as_float = torch.as_tensor(values, dtype=torch.float32)
    return (as_float.to(torch.bfloat16).float() == as_float).numpy()


def test_bf16_training_still_gives_fp32_out_of_fold_predictions(
    synth_table: Path, tmp_path: Path
) -> None:
    """One bf16 epoch on 32-px crops: the scored rows' predictions (the kept weights, run in
    evaluation) must carry more than bf16's 8 mantissa bits. (So few steps leave the batch-norm
    statistics unsettled and each fold answers nearly one label: the digits are what counts.)"""
    from prettymeter.training.loop import train

    config = fast_config(
        synth_table, tmp_path / "run", image_size=32, epochs=1, folds=2, batch_size=64,
        precision="bf16",
    )  # fmt: skip
    run = train(config)
    oof = np.concatenate(
        [json.loads((run / f"fold_{k}" / "state.json").read_text())["outer_pred"] for k in (0, 1)]
    )
    assert len(oof) > 100 and np.isfinite(oof).all()
    representable = _bf16_representable(oof)
    # A few fp32 numbers land on a bf16 value by chance (1 in 2^16); bf16 numbers all do.
    assert representable.mean() < 0.05, f"{representable.mean():.0%} of OOF are bf16 numbers"
