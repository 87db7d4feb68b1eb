"""The service's input array equals the training evaluation transform's for the same photo."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import numpy as np
import pyarrow.parquet as pq
import pytest
from service_helpers import DATA

from prettymeter.card import load_model_dir
from prettymeter.faces.mtcnn import FaceDetector
from prettymeter.imaging import decode_crop, to_input_array
from prettymeter.scoring import Scorer
from prettymeter.serve.pipeline import Preparer

PHOTOS = {
    "man.png": "a1b2c3_m_unknown_6.5_50.png",
    "woman.jpg": "d4e5f6_w_unknown_7.2_80.jpg",
}


@pytest.fixture(scope="module")
def detect_table(tmp_path_factory: pytest.TempPathFactory, model_dirs: dict[str, Path]) -> Path:
    """The real ingest and detect stages on the fixture photos, at the model's crop size."""
    from prettymeter.detect import detect
    from prettymeter.ingest import ingest

    root = tmp_path_factory.mktemp("parity")
    dataset = root / "photos"
    dataset.mkdir()
    for source, name in PHOTOS.items():
        shutil.copy(DATA / source, dataset / name)
    card, _ = load_model_dir(model_dirs["man"])
    ingest(dataset, root / "raw.parquet")
    detect(root / "raw.parquet", root / "crops.parquet", crop_size=card.preprocessing.crop_size)
    return root / "crops.parquet"


def test_the_service_input_equals_the_training_evaluation_transform(
    detect_table: Path, model_dirs: dict[str, Path], service_url: str
) -> None:
    card, _ = load_model_dir(model_dirs["man"])
    rows = pq.read_table(detect_table).to_pylist()
    assert len(rows) == len(PHOTOS)
    preparer = Preparer(FaceDetector(), max_pixels=40_000_000)
    scorer = Scorer(model_dirs["man"], engine="onnxruntime", threads=1)
    for row in rows:
        assert row["filter_reason"] is None and row["person_box"] is not None
        training = to_input_array(decode_crop(row["crop"]), card.input_size)
        served = preparer.prepare(row["image"], card.preprocessing.crop_size, card.input_size, True)
        assert served.array is not None
        np.testing.assert_array_equal(served.array, training)  # identical, not just close
        assert served.box == pytest.approx(row["person_box"], abs=0.05)
        # and what the live service answers is the model's score of exactly that array
        answer = httpx.post(
            f"{service_url}/v1/rate",
            files=[("files", ("photo", row["image"]))],
            data={"model": "man"},
            timeout=60,
        ).json()["results"][0]
        label = float(scorer.run(training[None])[0][0])
        assert answer["score"] == round(10 * label, 1)
