"""Scorer: engines load a real exported model and agree with ONNX Runtime fp32 on photos."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from service_helpers import synthetic_photos

from prettymeter.card import CARD_FILE
from prettymeter.errors import PrettyMeterError
from prettymeter.imaging import decode_image, preprocess
from prettymeter.scoring import MAX_ENGINE_DRIFT, Scorer, cpu_has_bf16, resolve_engine

DATA = Path(__file__).resolve().parents[1] / "data"


def photo_batch(input_size: int, crop_size: int) -> np.ndarray:
    photos = [decode_image((DATA / name).read_bytes()) for name in ("man.png", "woman.jpg")]
    photos += synthetic_photos(6)
    return np.stack([preprocess(photo, None, crop_size, input_size) for photo in photos])


def photo_drift(model_dir: Path, scorer: Scorer) -> float:
    reference = Scorer(model_dir, engine="onnxruntime", threads=1)
    batch = photo_batch(reference.card.input_size, reference.card.preprocessing.crop_size)
    expected, _ = reference.run(batch)
    got, _ = scorer.run(batch)
    # the model really tells photos apart, so the comparison means something
    assert np.ptp(10 * expected) > 1.0
    return float(np.abs(10 * got - 10 * expected).max())


def test_openvino_fp32_keeps_the_score_within_0_05_of_onnxruntime_on_photos(
    model_dirs: dict[str, Path],
) -> None:
    scorer = Scorer(model_dirs["man"], engine="openvino", threads=1)
    assert scorer.engine == "openvino"
    assert scorer.drift is not None and scorer.drift <= MAX_ENGINE_DRIFT
    assert photo_drift(model_dirs["man"], scorer) <= MAX_ENGINE_DRIFT


def test_the_auto_engine_never_serves_scores_more_than_0_05_off_on_photos(
    model_dirs: dict[str, Path],
) -> None:
    for route in ("man", "woman"):
        scorer = Scorer(model_dirs[route], engine="auto", threads=1)
        assert photo_drift(model_dirs[route], scorer) <= MAX_ENGINE_DRIFT
        if scorer.engine == "onnxruntime" and cpu_has_bf16():
            assert scorer.drift is not None and scorer.drift > MAX_ENGINE_DRIFT  # fell back


def test_openvino_bf16_runs_and_is_refused_when_its_probe_drift_is_over_the_limit(
    model_dirs: dict[str, Path],
) -> None:
    forced = Scorer(model_dirs["man"], engine="openvino-bf16", threads=1, verify=False)
    labels, _ = forced.run(photo_batch(forced.input_size, forced.card.preprocessing.crop_size))
    assert labels.shape == (8,) and np.all((labels >= 0) & (labels <= 1))
    try:
        checked = Scorer(model_dirs["man"], engine="openvino-bf16", threads=1)
    except PrettyMeterError as exc:
        assert "use engine onnxruntime or auto" in str(exc)
    else:
        assert checked.drift is not None and checked.drift <= MAX_ENGINE_DRIFT


def test_a_batch_scores_each_image_as_if_alone(model_dirs: dict[str, Path]) -> None:
    scorer = Scorer(model_dirs["woman"], engine="onnxruntime", threads=1)
    batch = photo_batch(scorer.input_size, scorer.card.preprocessing.crop_size)
    together, _ = scorer.run(batch)
    alone = np.concatenate([scorer.run(batch[i : i + 1])[0] for i in range(len(batch))])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert scorer.run(batch[:0])[0].shape == (0,)


def test_auto_picks_openvino_bf16_only_on_cpus_with_bf16() -> None:
    expected = "openvino-bf16" if cpu_has_bf16() else "onnxruntime"
    assert resolve_engine("auto") == expected
    assert resolve_engine("auto", "cuda") == "onnxruntime"


def test_an_unknown_engine_is_refused_with_the_choices() -> None:
    with pytest.raises(PrettyMeterError, match="choose one of"):
        resolve_engine("tensorrt")


def test_a_wrongly_shaped_batch_is_refused(model_dirs: dict[str, Path]) -> None:
    scorer = Scorer(model_dirs["man"], engine="onnxruntime", threads=1)
    with pytest.raises(PrettyMeterError, match="takes arrays"):
        scorer.run(np.zeros((1, 3, 10, 10), np.float32))


def test_a_model_whose_onnx_was_changed_is_refused(
    model_dirs: dict[str, Path], tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.onnx").write_bytes((model_dirs["man"] / "model.onnx").read_bytes() + b"x")
    (broken / CARD_FILE).write_text((model_dirs["man"] / CARD_FILE).read_text())
    with pytest.raises(PrettyMeterError, match="does not match its card"):
        Scorer(broken)


def test_an_onnx_file_that_is_not_a_model_is_refused_clearly(tmp_path: Path) -> None:
    from prettymeter.card import sha256_file

    broken = tmp_path / "garbage"
    broken.mkdir()
    (broken / "model.onnx").write_bytes(b"not an onnx file")
    raw = {
        "schema": "prettymeter.card/1",
        "name": "x",
        "gender": "m",
        "backbone": "b",
        "input_size": 64,
        "preprocessing": {
            "crop_size": 96,
            "input_size": 64,
            "mean": [0, 0, 0],
            "std": [1, 1, 1],
            "detector": "none",
        },
        "normalization": {"lo": 1, "med": 5, "hi": 9},
        "label_quantiles": [0.5],
        "outputs": {"label": "x"},
        "final": "single",
        "onnx_sha256": sha256_file(broken / "model.onnx"),
    }
    (broken / CARD_FILE).write_text(json.dumps(raw))
    for engine in ("onnxruntime", "openvino"):
        with pytest.raises(PrettyMeterError, match="cannot be loaded"):
            Scorer(broken, engine=engine)
