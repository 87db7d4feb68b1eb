"""Every face of a photo (`faces="all"`) on the loaded model: the faces the rule lists and in
which order, one batched engine call for the photo and its faces (the main face once), and a
whole-photo model's per-photo refusal."""

from __future__ import annotations

from pathlib import Path

import pytest

from prettymeter.contract import MIN_CONFIDENCE
from prettymeter.errors import PrettyMeterError
from prettymeter.every_face import MAX_FACES, WHOLE_PHOTO_MODEL
from prettymeter.faces.person import Face, every_person
from prettymeter.rating_model import Rater, RatingModel
from tests.support.engine_models import engine_batches
from tests.support.models import whole_photo_model
from tests.support.paths import DATA


def face(x: float, side: float, confidence: float = 0.99) -> Face:
    return Face(box=(x, 100.0, x + side, 100.0 + side), confidence=confidence)


def test_every_confident_face_largest_first_up_to_the_limit() -> None:
    faces = [face(20.0 * i, 30.0 + 5 * i) for i in range(12)] + [face(900, 400, MIN_CONFIDENCE)]
    person, people = every_person(faces, 2000, 1000, MAX_FACES)
    assert person.filter_reason == "several_faces"
    assert len(people) == MAX_FACES == 10
    sides = [p.face.box[2] - p.face.box[0] for p in people]
    assert sides == sorted(sides, reverse=True) and sides[0] == 30.0 + 5 * 11
    assert not any(p.main for p in people)  # not a single clear person: no main face
    # 8 % of the shorter side (80 px) is the smallest face that gets a crop
    assert all((p.person_box is None) == (s < 80) for p, s in zip(people, sides, strict=True))


def test_one_clear_face_among_small_ones_is_the_main_face() -> None:
    faces = [face(500, 300), face(100, 60), face(1500, 100)]
    person, people = every_person(faces, 2000, 1000, MAX_FACES)
    assert person.person_box is not None
    assert [p.main for p in people] == [True, False, False]
    assert people[0].person_box == person.person_box


def test_the_photo_and_its_faces_go_to_the_engine_in_one_batch_the_main_face_once(
    model_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    model = RatingModel(model_dirs["man"], engine="onnxruntime", threads=1)
    batches = engine_batches(model, monkeypatch)
    rated = model.rate([DATA / "man.png", DATA / "woman.jpg"], faces="all")
    assert batches == [2]  # two photos, each one clear face: its crop is the photo's input
    for r in rated:
        (only,) = r.faces or ()
        assert only.main and only.rating.score == r.score and only.rating.region == r.box


def test_a_model_trained_on_whole_photos_refuses_faces_all_per_photo(
    model_dirs: dict[str, Path], tmp_path: Path
) -> None:
    whole = whole_photo_model(model_dirs["man"], tmp_path / "whole")
    rater = Rater(whole, engine="onnxruntime", threads=1)
    refused = rater.rate_one(DATA / "man.png", faces="all")
    assert refused.error == WHOLE_PHOTO_MODEL and refused.score is None and refused.faces is None
    assert "whole photos" in (refused.message or "") and "\n" not in (refused.message or "")
    assert rater.rate_one(DATA / "man.png").score is not None  # the plain request still works
    with pytest.raises(PrettyMeterError, match="'one' or 'all'"):
        rater.rate_one(DATA / "man.png", faces="every")
