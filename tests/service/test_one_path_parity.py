"""One photo, one label on every path: predict, evaluate, the Python API, the original route and v1,
for a model trained on whole photos (detector none) and one trained on person crops (mtcnn).

The model input is also checked against the training evaluation transform of the detect stage's
stored crop: what the model receives is exactly what its card says it was trained on.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import httpx
import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from prettymeter import imaging
from prettymeter.card import load_model_dir
from prettymeter.errors import PrettyMeterError
from prettymeter.inference import InputSpec
from prettymeter.rating_model import Rater
from tests.support.live import LiveServer
from tests.support.paths import DATA
from tests.support.photos import b64
from tests.support.settings import service_settings

ENGINE = "onnxruntime"
TOLERANCE = 1e-4
# Both fixture photos named as one gender, so one normalized table holds both.
PHOTOS = {
    "man.png": "a1b2c3_m_unknown_6.5_50.png",
    "woman.jpg": "d4e5f6_m_unknown_7.2_80.jpg",
}


@pytest.fixture(scope="module", params=["none", "mtcnn"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def model(kind: str, model_dirs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The calibrated test export as an `mtcnn` model, and the same ONNX with a card that says
    it was trained on whole photos (`none`). (The tiny demo model of the test suite answers the
    same label for both real photos, which would make equal labels mean nothing.)"""
    from prettymeter import card as card_module

    path = model_dirs["man"]
    card, _ = load_model_dir(path)
    if kind == "none":
        path = tmp_path_factory.mktemp("whole") / "man"
        shutil.copytree(model_dirs["man"], path)
        card.preprocessing.detector = "none"
        card_module.write_card(path, card)
    assert load_model_dir(path)[0].preprocessing.detector == kind
    return path


@pytest.fixture(scope="module")
def table(model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture photos through the real ingest → detect (the card's detector and crop size)
    → normalize stages."""
    from prettymeter.data.detect import detect
    from prettymeter.data.ingest import ingest
    from prettymeter.data.normalize import normalize

    card, _ = load_model_dir(model)
    root = tmp_path_factory.mktemp("parity")
    photos = root / "photos"
    photos.mkdir()
    for source, name in PHOTOS.items():
        shutil.copy(DATA / source, photos / name)
    ingest(photos, root / "raw.parquet")
    p = card.preprocessing
    detect(root / "raw.parquet", root / "crops.parquet", detector=p.detector, crop_size=p.crop_size)
    normalize(root / "crops.parquet", root / "m.parquet", "m")
    return root / "m.parquet"


@pytest.fixture(scope="module")
def labels(model: Path, table: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Each photo's label by path, through predict, evaluate and the Python API."""
    from prettymeter.predict import predict
    from prettymeter.training.evaluate import evaluate

    photos = [DATA / name for name in PHOTOS]
    out = tmp_path_factory.mktemp("eval") / "out"
    evaluate(model, table, out, engine=ENGINE)
    with open(out / "predictions.csv", newline="") as handle:
        evaluated = {Path(row["path"]).name: float(row["pred"]) for row in csv.DictReader(handle)}
    by_stored_name = {v: k for k, v in PHOTOS.items()}
    rater = Rater(model, engine=ENGINE)
    return {
        "predict": {
            Path(r["photo"]).name: r["label"] for r in predict(model, photos, engine=ENGINE)
        },
        "evaluate": {by_stored_name[name]: label for name, label in evaluated.items()},
        "rater_paths": {p.name: r.label for p, r in zip(photos, rater.rate(photos), strict=True)},
        "rater_bytes": {
            p.name: r.label
            for p, r in zip(photos, rater.rate([p.read_bytes() for p in photos]), strict=True)
        },
        "rater_images": {
            p.name: r.label
            for p, r in zip(photos, rater.rate([Image.open(p) for p in photos]), strict=True)
        },
    }


def test_predict_evaluate_and_the_python_api_give_the_same_label(labels: dict) -> None:
    reference = labels["predict"]
    assert set(reference) == set(PHOTOS) and all(v is not None for v in reference.values())
    for path, found in labels.items():
        for name in PHOTOS:
            assert found[name] == pytest.approx(reference[name], abs=TOLERANCE), (path, name)
    # and the two photos differ, so equal labels mean something
    assert abs(reference["man.png"] - reference["woman.jpg"]) > 10 * TOLERANCE


def test_the_service_routes_give_the_same_score_and_rate(
    model: Path, labels: dict, kind: str
) -> None:
    from prettymeter.inference import score_of

    card, _ = load_model_dir(model)
    settings = service_settings({"man": model}, engine=ENGINE)
    names = list(PHOTOS)
    payloads = [(DATA / n).read_bytes() for n in names]
    with LiveServer(settings) as server:
        original = httpx.post(
            f"{server.url}/man/predict",
            json={"instances": [b64(p) for p in payloads]},
            timeout=120,
        )
        v1 = httpx.post(
            f"{server.url}/v1/rate",
            files=[("files", (n, p)) for n, p in zip(names, payloads, strict=True)],
            data={"gender": "m"},
            timeout=120,
        )
    assert original.status_code == 200 and v1.status_code == 200, (original.text, v1.text)
    results = v1.json()["results"]
    for index, name in enumerate(names):
        label = labels["predict"][name]
        assert original.json()["predictions"][index] == score_of(label)
        assert results[index]["score"] == score_of(label)
        assert results[index]["rate"] == round(card.to_rate(min(1.0, max(0.0, label))), 2)
        width, height = Image.open(DATA / name).size
        if kind == "none":  # the whole photo was scored; the one-person rule still found a box
            assert results[index]["region"] == [0.0, 0.0, float(width), float(height)]
            assert results[index]["box"] is not None
        else:  # the person crop was scored
            assert results[index]["region"] == results[index]["box"]
            assert results[index]["region"] != [0.0, 0.0, float(width), float(height)]


def test_the_model_input_equals_the_training_evaluation_input(model: Path, table: Path) -> None:
    card, _ = load_model_dir(model)
    rater = Rater(model, engine=ENGINE)
    rows = pq.read_table(table, columns=["path", "crop", "image"]).to_pylist()
    assert len(rows) == len(PHOTOS)
    for row in rows:
        # what training's evaluation transform gives for the detect stage's stored crop
        training = imaging.to_input_array(imaging.decode_crop(row["crop"]), card.input_size)
        prepared = rater.prepare(row["image"])
        assert prepared.array is not None
        np.testing.assert_array_equal(prepared.array, training)  # identical, not just close


def test_a_model_whose_card_says_otherwise_gets_another_input(model: Path, tmp_path: Path) -> None:
    """The card drives the input: change its normalization and the array changes with it."""
    from prettymeter import card as card_module

    card, _ = load_model_dir(model)
    changed = card.model_copy(deep=True)
    changed.preprocessing.mean = [0.0, 0.0, 0.0]
    changed.preprocessing.std = [1.0, 1.0, 1.0]
    photo = imaging.decode_image((DATA / "man.png").read_bytes())
    original = InputSpec.from_card(card).array(photo, None)
    other = InputSpec.from_card(changed).array(photo, None)
    assert not np.allclose(original, other)
    assert other.min() >= 0.0 and other.max() <= 1.0  # plain 0-1 pixels
    # and a card the code cannot honour is refused at load with one line
    for field, value in (("detector", "retinaface"), ("resample", "magic")):
        broken = card.model_copy(deep=True)
        setattr(broken.preprocessing, field, value)
        target = tmp_path / field
        shutil.copytree(model, target)
        card_module.write_card(target, broken)
        with pytest.raises(PrettyMeterError, match=value) as error:
            Rater(target, engine=ENGINE)
        assert "\n" not in str(error.value)
