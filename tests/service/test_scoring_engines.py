"""Scorer: engines load a real exported model and agree with ONNX Runtime fp32 on photos."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from prettymeter.card import CARD_FILE
from prettymeter.errors import PrettyMeterError
from prettymeter.hardware import cpu_has_bf16
from prettymeter.imaging import preprocess
from prettymeter.scoring import (
    MAX_ENGINE_DRIFT,
    PROBE_MARGIN,
    Scorer,
    probe_batch,
    resolve_engine,
)
from tests.support.photos import fixture_variants, synthetic_photos


def photo_batch(input_size: int, crop_size: int) -> np.ndarray:
    """The real fixture photos seen 7 ways each (`fixture_variants`) and 6 drawn photos."""
    photos = fixture_variants()
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
        assert scorer.drift is not None and scorer.drift <= PROBE_MARGIN * MAX_ENGINE_DRIFT
        if scorer.engine != "openvino-bf16" and cpu_has_bf16():  # fell back: says why
            assert scorer.refused["openvino-bf16"] > PROBE_MARGIN * MAX_ENGINE_DRIFT


def bf16_sensitive_model(model_dir: Path, input_size: int = 32, crop_size: int = 48) -> Path:
    """A model whose score swings on rounding its input to bf16: a fixed ±1 sum of all the
    pixels (hundreds in size), shifted to 0 on the first probe photo and scaled ×4 into a
    sigmoid. fp32 engines agree on it to ~0.001; bf16 (8-bit mantissas) moves it by ~0.5."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from prettymeter import card as card_module
    from prettymeter.imaging import MEAN, STD

    pixels = 3 * input_size * input_size
    weights = np.random.default_rng(0).choice([-1.0, 1.0], (pixels, 1)).astype(np.float32)
    first_probe = probe_batch(input_size, crop_size)[:1].reshape(1, -1)
    shift = np.asarray((first_probe @ weights).ravel(), np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["input"], ["flat"], axis=1),
            helper.make_node("MatMul", ["flat", "weights"], ["sum"]),
            helper.make_node("Sub", ["sum", "shift"], ["centred"]),
            helper.make_node("Mul", ["centred", "gain"], ["logit"]),
            helper.make_node("Sigmoid", ["logit"], ["sigmoid"]),
            helper.make_node("Reshape", ["sigmoid", "flat_shape"], ["label"]),
        ],
        "bf16_sensitive",
        [
            helper.make_tensor_value_info(
                "input", TensorProto.FLOAT, ["n", 3, input_size, input_size]
            )
        ],
        [helper.make_tensor_value_info("label", TensorProto.FLOAT, ["n"])],
        [
            numpy_helper.from_array(weights, "weights"),
            numpy_helper.from_array(shift, "shift"),
            numpy_helper.from_array(np.array([4.0], np.float32), "gain"),
            numpy_helper.from_array(np.array([-1], np.int64), "flat_shape"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    model_dir.mkdir(parents=True)
    onnx.save(model, model_dir / card_module.ONNX_FILE)
    card = card_module.ModelCard(
        name="bf16-sensitive",
        gender="m",
        backbone="matmul",
        input_size=input_size,
        preprocessing=card_module.Preprocessing(
            crop_size=crop_size,
            input_size=input_size,
            mean=MEAN.tolist(),
            std=STD.tolist(),
            detector="none",
        ),
        normalization=card_module.Normalization(lo=1.0, med=5.5, hi=9.5),
        label_quantiles=card_module.quantiles([0.2, 0.5, 0.8]),
        outputs={"label": "0-1 score"},
        final="single",
        demo=True,
        notes="test model that bf16 cannot run faithfully",
        onnx_sha256=card_module.sha256_file(model_dir / card_module.ONNX_FILE),
    )
    card_module.write_card(model_dir, card)
    return model_dir


def test_openvino_bf16_runs_a_model(model_dirs: dict[str, Path]) -> None:
    forced = Scorer(model_dirs["man"], engine="openvino-bf16", threads=1, verify=False)
    labels, _ = forced.run(photo_batch(forced.input_size, forced.card.preprocessing.crop_size))
    assert labels.shape == (20,) and np.all((labels >= 0) & (labels <= 1))


@pytest.mark.skipif(
    not cpu_has_bf16(), reason="OpenVINO computes in fp32 on a CPU without bf16: nothing drifts"
)
def test_openvino_bf16_is_refused_and_auto_falls_back_when_bf16_moves_the_scores(
    tmp_path: Path,
) -> None:
    model_dir = bf16_sensitive_model(tmp_path / "sensitive")
    fp32 = Scorer(model_dir, engine="openvino", threads=1)  # the model itself is fine in fp32
    assert fp32.engine == "openvino" and fp32.drift is not None
    assert fp32.drift <= MAX_ENGINE_DRIFT
    unchecked = Scorer(model_dir, engine="openvino-bf16", threads=1, verify=False)
    reference = Scorer(model_dir, engine="onnxruntime", threads=1)
    probe = probe_batch(reference.input_size, reference.card.preprocessing.crop_size)
    moved = np.abs(10 * unchecked.run(probe)[0] - 10 * reference.run(probe)[0]).max()
    assert moved > 4 * MAX_ENGINE_DRIFT  # bf16 really moves this model's scores
    with pytest.raises(PrettyMeterError, match="use engine onnxruntime or auto") as refused:
        Scorer(model_dir, engine="openvino-bf16", threads=1)
    assert "moves this model's scores by" in str(refused.value)
    auto = Scorer(model_dir, engine="auto", threads=1)
    assert auto.engine == "onnxruntime"  # fell back to fp32
    assert auto.refused["openvino-bf16"] > MAX_ENGINE_DRIFT
    assert auto.drift is not None and auto.drift <= PROBE_MARGIN * MAX_ENGINE_DRIFT


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
