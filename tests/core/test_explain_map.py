"""Why this score from the model's label map: a backbone that pools its last feature map
straight into the head is exported with that map as an output (its mean is the label), and an
explanation reads it in one engine call of one input instead of occluding seven regions."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from prettymeter.contract import LABEL_MAP_OUTPUT
from prettymeter.explain import MAP_CELLS, MIN_MAP_CELLS, NOTE, REGIONS, region_masks, to_input
from prettymeter.rating_model import RatingModel
from prettymeter.scoring import Scorer
from tests.support.engine_models import engine_batches
from tests.support.models import make_model_dir
from tests.support.paths import DATA

# ShuffleNet pools its last map into the head (a tiny one); at 128 px that map is 4 × 4 cells.
BACKBONE = "shufflenet_v2_x0_5"
SIZE = 128


@pytest.fixture(scope="module")
def map_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("map-model")
    return make_model_dir(
        root / "man", "m", seed=3, input_size=SIZE, crop_size=SIZE, backbone=BACKBONE
    )


@pytest.fixture(scope="module")
def map_model(map_model_dir: Path) -> RatingModel:
    return RatingModel(map_model_dir, engine="onnxruntime", threads=1)


def test_the_label_map_is_exported_and_its_mean_is_the_label(
    map_model_dir: Path, model_dirs: dict[str, Path]
) -> None:
    scorer = Scorer(map_model_dir, engine="onnxruntime", threads=1)
    assert scorer.has_map and LABEL_MAP_OUTPUT in scorer.card.outputs
    assert scorer.map_side == SIZE // 32
    photos = np.random.default_rng(0).standard_normal((3, 3, SIZE, SIZE)).astype(np.float32)
    labels, maps = scorer.run_map(photos)
    assert maps.shape == (3, SIZE // 32, SIZE // 32)
    assert np.allclose(labels, np.clip(maps.mean(axis=(1, 2)), 0, 1), atol=1e-5)
    assert np.allclose(labels, scorer.run(photos)[0], atol=1e-6)  # the same label either way
    assert maps.std() > 0
    # MobileNetV3's head is two layers after pooling: no exact map, so none is exported.
    plain = Scorer(model_dirs["man"], engine="onnxruntime", threads=1)
    assert not plain.has_map and LABEL_MAP_OUTPUT not in plain.card.outputs
    with pytest.raises(Exception, match="explain it by occlusion"):
        plain.run_map(photos[:, :, :64, :64])


def test_an_explanation_reads_the_map_in_one_call_of_one_input(
    map_model: RatingModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches = engine_batches(map_model, monkeypatch)
    real = map_model.scorer.run_map
    mapped: list[int] = []

    def counted(arrays: np.ndarray):  # type: ignore[no-untyped-def]
        mapped.append(len(arrays))
        return real(arrays)

    monkeypatch.setattr(map_model.scorer, "run_map", counted)
    rated = map_model.rate([DATA / "man.png"], explain=True)[0]
    assert batches == [1] and mapped == [1]  # the plain score, then the map of that input
    explanation = rated.explanation
    assert explanation is not None and explanation["note"] == NOTE
    assert explanation["heatmap_from"] == "label_map" and explanation["grid"] == MAP_CELLS

    prepared = map_model.prepare(DATA / "man.png")
    array, size = prepared.array, prepared.image_size
    assert array is not None and size is not None and prepared.landmarks is not None
    label, maps = real(array[None])
    cells = 10 * (maps[0].astype(np.float64) - maps[0].mean())
    assert label[0] == pytest.approx(rated.label, abs=1e-6)
    # A region's delta: each cell's score above the mean, weighted by the share of the input
    # that is both in the cell and in the region.
    masks = region_masks(to_input(prepared.landmarks, prepared.region, size, SIZE), SIZE)
    step = SIZE // cells.shape[0]
    deltas = {r["name"]: r["delta"] for r in explanation["regions"]}
    assert list(deltas) == list(REGIONS)
    for name in REGIONS:
        share = masks[name].reshape(cells.shape[0], step, cells.shape[1], step).mean(axis=(1, 3))
        want = float((share * cells).sum()) / cells.size
        assert deltas[name] == pytest.approx(want, abs=2e-3), name
    assert sum(deltas.values()) == pytest.approx(0.0, abs=0.01)  # against the input's own mean
    assert any(abs(d) > 1e-3 for d in deltas.values())
    # the heat map: each 16 × 16 cell lies in one map cell (4 × 4 here) and shows its value
    heatmap = np.array(explanation["heatmap"])
    per = MAP_CELLS // cells.shape[0]
    assert np.allclose(heatmap, np.kron(cells, np.ones((per, per))), atol=2e-3)


def test_a_map_too_coarse_for_the_face_parts_is_left_for_occlusion(tmp_path: Path) -> None:
    # At 64 px the map is 2 × 2 cells: eyes and mouth would share one; occlusion says more.
    small = make_model_dir(
        tmp_path / "man", "m", seed=3, input_size=64, crop_size=64, backbone=BACKBONE
    )
    model = RatingModel(small, engine="onnxruntime", threads=1)
    assert model.scorer.has_map and model.scorer.map_side == 2 < MIN_MAP_CELLS
    explanation = model.rate([DATA / "man.png"], explain=True)[0].explanation
    assert explanation is not None and explanation["heatmap_from"] == "regions"


def test_every_engine_serves_the_map(map_model_dir: Path, tmp_path: Path) -> None:
    # OpenVINO fp32 gives ONNX Runtime's map; int8 (NNCF, the export recipe) one whose mean is
    # still its label (how close int8 comes is for export's verification, on a trained model).
    from prettymeter.verification import quantize_int8

    model_dir = tmp_path / "man"
    shutil.copytree(map_model_dir, model_dir)
    calibration = np.random.default_rng(0).normal(0, 1, (8, 3, SIZE, SIZE)).astype(np.float32)
    quantize_int8(model_dir, model_dir / "model.onnx", calibration)
    photos = calibration[:3]
    _, want = Scorer(model_dir, engine="onnxruntime", threads=1).run_map(photos)
    openvino = Scorer(model_dir, engine="openvino", threads=1, gate=False)
    assert openvino.map_side == SIZE // 32
    _, same = openvino.run_map(photos)
    assert np.allclose(same, want, atol=1e-4 * max(1.0, np.abs(want).max()))
    int8 = Scorer(model_dir, engine="openvino-int8", threads=1, gate=False, verify=False)
    labels, close = int8.run_map(photos)
    assert close.shape == want.shape
    assert np.allclose(labels, np.clip(close.mean(axis=(1, 2)), 0, 1), atol=1e-4)
