"""Scorer: engines load a real exported model, agree with ONNX Runtime fp32 on photos, and
serve only what the card's verification accepted (prettymeter.verification)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from prettymeter.card import CARD_FILE, load_model_dir, write_card
from prettymeter.errors import PrettyMeterError
from prettymeter.hardware import cpu_has_bf16
from prettymeter.imaging import preprocess
from prettymeter.probes import check_batch
from prettymeter.scoring import TRIPWIRE, Scorer, choose_engine
from prettymeter.verification import verify_model_dir
from tests.support.engine_models import CROP_SIZE, crop_table, pixel_model, probe_batch
from tests.support.photos import fixture_variants, synthetic_photos

FP32_DRIFT = 0.05  # two fp32 runtimes differ by rounding alone


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
    assert scorer.drift is not None and scorer.drift <= FP32_DRIFT  # the tripwire measured it
    assert photo_drift(model_dirs["man"], scorer) <= FP32_DRIFT


def test_an_unverified_card_serves_onnxruntime_fp32_and_says_how_to_verify_it(
    model_dirs: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    card, _ = load_model_dir(model_dirs["woman"])
    assert card.verification is None  # the test models' run has no table to verify on
    with caplog.at_level(logging.INFO, logger="prettymeter.scoring"):
        scorer = Scorer(model_dirs["woman"], engine="auto", threads=1)
    assert scorer.engine == "onnxruntime" and scorer.check is None
    hints = [r.getMessage() for r in caplog.records if "verify" in r.getMessage()]
    assert len(hints) == 1, hints
    assert f"pretty-meter verify {model_dirs['woman']} --table" in hints[0]
    assert "not verified" in scorer.describe()
    for engine in ("openvino-bf16", "openvino-int8"):  # nor by name: no figures, no service
        with pytest.raises(PrettyMeterError, match="pretty-meter verify"):
            Scorer(model_dirs["woman"], engine=engine, threads=1)


def test_openvino_bf16_runs_a_model_when_measured_ungated(model_dirs: dict[str, Path]) -> None:
    forced = Scorer(model_dirs["man"], engine="openvino-bf16", threads=1, verify=False, gate=False)
    labels, _ = forced.run(photo_batch(forced.input_size, forced.card.preprocessing.crop_size))
    assert labels.shape == (20,) and np.all((labels >= 0) & (labels <= 1))


@pytest.mark.skipif(not cpu_has_bf16(), reason="OpenVINO computes in fp32 here: nothing drifts")
def test_the_tripwire_refuses_a_runtime_that_moves_the_probes_beyond_0_5(tmp_path: Path) -> None:
    """A card that accepted bf16, served by a runtime that moves the scores far more than at
    verification: by name it is refused, `auto` drops it for ONNX Runtime fp32."""
    model_dir = pixel_model(tmp_path / "sensitive", sensitive=True, gain=40.0)
    table = crop_table(tmp_path / "t.parquet", CROP_SIZE, count=40)
    verification = verify_model_dir(model_dir, table)  # these crops barely move
    card, _ = load_model_dir(model_dir)
    checks = verification.engines
    checks["openvino-bf16"] = checks["openvino-bf16"].model_copy(
        update={"accepted": True, "images_per_second": 1e9}
    )
    write_card(model_dir, card.model_copy(update={"verification": verification}))
    unchecked = Scorer(model_dir, engine="openvino-bf16", threads=1, verify=False)
    reference = Scorer(model_dir, engine="onnxruntime", threads=1)
    probe = probe_batch(reference.input_size, CROP_SIZE)
    moved = np.abs(10 * unchecked.run(probe)[0] - 10 * reference.run(probe)[0]).max()
    assert moved > 2 * TRIPWIRE  # bf16 really moves this model's probe scores
    with pytest.raises(PrettyMeterError, match="runtime is broken here"):
        Scorer(model_dir, engine="openvino-bf16", threads=1)
    auto = Scorer(model_dir, engine="auto", threads=1)
    assert auto.engine == "onnxruntime" and auto.refused["openvino-bf16"] > TRIPWIRE


def test_the_tripwire_compares_with_the_probe_labels_the_card_stores_and_loads_no_onnxruntime(
    tmp_path: Path,
) -> None:
    model_dir = pixel_model(tmp_path / "robust", sensitive=False)
    verification = verify_model_dir(model_dir, crop_table(tmp_path / "t.parquet", CROP_SIZE, 60))
    assert verification.engines["openvino-int8"].accepted
    reference = Scorer(model_dir, engine="onnxruntime", threads=1)
    probes = check_batch(reference.input_size, CROP_SIZE)
    np.testing.assert_allclose(verification.probe_labels, reference.run(probes)[0], atol=1e-6)
    # a fresh process serving a verified faster engine never imports ONNX Runtime
    code = (
        "import sys; from prettymeter.scoring import Scorer; "
        f"s = Scorer({str(model_dir)!r}, engine='openvino-int8', threads=1); "
        "print(s.engine, s.drift is not None, 'onnxruntime' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["openvino-int8", "True", "False"], done.stderr[-2000:]
    card, _ = load_model_dir(model_dir)
    assert card.verification is not None
    stored = card.verification.model_copy()
    card.verification.probe_sha256 = "0" * 64  # labels of other probes: computed afresh instead
    write_card(model_dir, card)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["openvino-int8", "True", "True"], done.stderr[-2000:]
    card.verification = stored
    write_card(model_dir, card)
    # and the stored labels are what it compares with: moved by 0.1 (1 point), they trip it
    card, _ = load_model_dir(model_dir)
    assert card.verification is not None
    moved = [label + 0.1 for label in card.verification.probe_labels]
    card.verification.probe_labels = moved
    write_card(model_dir, card)
    with pytest.raises(PrettyMeterError, match="runtime is broken here"):
        Scorer(model_dir, engine="openvino-int8", threads=1)


def test_a_batch_scores_each_image_as_if_alone(model_dirs: dict[str, Path]) -> None:
    scorer = Scorer(model_dirs["woman"], engine="onnxruntime", threads=1)
    batch = photo_batch(scorer.input_size, scorer.card.preprocessing.crop_size)
    together, _ = scorer.run(batch)
    alone = np.concatenate([scorer.run(batch[i : i + 1])[0] for i in range(len(batch))])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert scorer.run(batch[:0])[0].shape == (0,)


def test_an_unknown_engine_is_refused_with_the_choices(model_dirs: dict[str, Path]) -> None:
    card, _ = load_model_dir(model_dirs["man"])
    with pytest.raises(PrettyMeterError, match="choose one of"):
        choose_engine(card, model_dirs["man"], "tensorrt")
    assert choose_engine(card, model_dirs["man"], "auto", "cuda") == "onnxruntime"


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


def test_uint8_pixels_score_exactly_as_the_float_input_they_normalize_to(
    model_dirs: dict[str, Path],
) -> None:
    # The service queues photos as uint8 pixels; the engine normalizes them by the card.
    from prettymeter.inference import InputSpec

    scorer = Scorer(model_dirs["man"], engine="onnxruntime", threads=1)
    spec = InputSpec.from_card(scorer.card)
    photos = fixture_variants()[:3]
    pixels = np.stack([spec.pixels(photo, None) for photo in photos])
    floats = np.stack([spec.array(photo, None) for photo in photos])
    assert pixels.dtype == np.uint8 and np.array_equal(scorer.model_input(pixels), floats)
    assert np.array_equal(scorer.run(pixels)[0], scorer.run(floats)[0])
