"""The loaded model: one check of its directory, one detector shared between models, ratings
out; and the one photo result every protocol serializes a rating with."""

from __future__ import annotations

from pathlib import Path

import pytest

from prettymeter import card as card_module
from prettymeter.errors import PrettyMeterError
from prettymeter.inference import Rating
from prettymeter.rating_model import RatingModel
from prettymeter.serve.routes.kserve.schemas import V1Prediction
from prettymeter.serve.schemas import PhotoResult, RateResult
from tests.support.paths import DATA


def test_a_model_directory_is_hash_checked_once_per_process(
    model_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[Path] = []
    real = card_module.sha256_file

    def counted(path: Path) -> str:
        hashed.append(Path(path))
        return real(path)

    monkeypatch.setattr(card_module, "sha256_file", counted)
    monkeypatch.setattr(card_module, "_HASHED", {})  # as in a fresh process
    man = RatingModel(model_dirs["man"], engine="onnxruntime")
    woman = RatingModel(model_dirs["woman"], engine="onnxruntime", detector=man.detector)
    RatingModel(model_dirs["man"], engine="onnxruntime", detector=man.detector)  # a second load
    assert hashed == [model_dirs["man"] / "model.onnx", model_dirs["woman"] / "model.onnx"]
    assert man.detector is not None and woman.detector is man.detector  # one shared detector
    (rated,) = man.rate([DATA / "man.png"])
    assert isinstance(rated, Rating) and rated.error is None and rated.score is not None


def test_a_model_loaded_for_stored_crops_loads_no_detector_and_takes_no_photos(
    model_dirs: dict[str, Path],
) -> None:
    model = RatingModel(model_dirs["man"], engine="onnxruntime", stored_crops=True)
    assert model.detector is None
    with pytest.raises(PrettyMeterError, match="stored crops only"):
        model.prepare(DATA / "man.png")


def test_every_protocol_shows_the_box_only_with_a_score() -> None:
    unscored = Rating(box=(1.0, 2.0, 3.0, 4.0), image_size=(8, 8), error="no_face", message="m")
    scored = Rating(score=5.0, box=(1.0, 2.0, 3.0, 4.0), region=(0.0, 0.0, 8.0, 8.0))
    for r in (unscored, scored):
        v1 = RateResult.from_rating(r, index=3).model_dump()
        kserve = V1Prediction.from_rating(r).model_dump()
        assert list(v1) == ["index", *PhotoResult.model_fields]  # index first on the wire
        assert v1.pop("index") == 3 and v1 == kserve
    assert RateResult.from_rating(unscored, index=0).box is None
    assert V1Prediction.from_rating(scored).box == [1.0, 2.0, 3.0, 4.0]
