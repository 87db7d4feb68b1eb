"""A new user's first run — demo models through the real pipeline, served and scoring."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import httpx
import pytest

from prettymeter.card import load_model_dir
from tests.support.group import group_photo
from tests.support.live import ServiceProcess, v1_rate
from tests.support.photos import encode

pytestmark = pytest.mark.slow


def test_the_demo_prepares_both_models_marked_as_demo(demo_models: dict[str, Path]) -> None:
    for route, gender in (("man", "m"), ("woman", "w")):
        card, _ = load_model_dir(demo_models[route])
        assert card.gender == gender
        assert card.demo is True
        assert "synthetic" in card.notes
        assert card.name == f"demo-{route}"
        # trained on the person crops MTCNN cut from photos of real faces: it scores any face
        assert card.preprocessing.detector == "mtcnn"
        # trained through the real pipeline: k-fold metrics and the label distribution are there
        assert card.cv_metrics and len(card.label_quantiles) > 10


def test_a_second_demo_run_reuses_the_cached_models(demo_models: dict[str, Path]) -> None:
    from prettymeter.demo import TINY, prepare_demo

    out = demo_models["man"].parents[1]
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    again = prepare_demo(out, TINY)
    assert again == demo_models
    after = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    assert after == before


def test_the_demo_refuses_a_folder_it_did_not_make(tmp_path: Path) -> None:
    from prettymeter.demo import TINY, prepare_demo
    from prettymeter.errors import PrettyMeterError

    (tmp_path / "my-photos.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(PrettyMeterError, match="not made by `pretty-meter demo`"):
        prepare_demo(tmp_path, TINY)
    assert (tmp_path / "my-photos.txt").read_text(encoding="utf-8") == "mine"


def test_the_served_demo_scores_a_real_photo_on_the_seed_route_and_v1(
    demo_models: dict[str, Path], man_png: Path, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRETTYMETER_")}
    args = ["--man", str(demo_models["man"]), "--woman", str(demo_models["woman"])]
    service = ServiceProcess(args, env, name="demo", log=tmp_path / "serve.log")
    try:
        service.wait_ready()
        photo = man_png.read_bytes()
        with httpx.Client(base_url=service.url, timeout=60) as client:
            seed = client.post(
                "/man/predict", json={"instances": [base64.b64encode(photo).decode()]}
            )
            assert seed.status_code == 200, seed.text
            (prediction,) = seed.json()["predictions"]
            assert 0.0 <= prediction <= 10.0 and round(prediction, 1) == prediction

            v1 = client.post(
                "/v1/rate", data={"gender": "m"}, files=[("files", ("man.png", photo, "image/png"))]
            )
            assert v1.status_code == 200, v1.text
            answer = v1.json()
            (result,) = answer["results"]
            assert result["error"] is None, result
            assert 0.0 <= result["score"] <= 10.0
            assert 0.0 <= result["percentile"] <= 100.0
            x1, y1, x2, y2 = result["box"]
            assert 0 <= x1 < x2 and 0 <= y1 < y2
            # the same photo, the same model: both APIs agree
            assert result["score"] == prediction

            models = client.get("/v1/models").json()["models"]
            cards = {m["route"]: m["card"] for m in models}
            assert cards["man"]["demo"] is True and "synthetic" in cards["man"]["notes"]
            assert json.dumps(cards["woman"]["gender"]) == '"w"'
    finally:
        service.stop()


def test_the_served_demo_scores_every_face_of_a_group_photo_with_advice_and_explanation(
    demo_models: dict[str, Path], tmp_path: Path
) -> None:
    """What a fresh clone's page shows with "score everyone" on: the demo model is a face-crop
    model, so each face of a group photo gets its own score, quality and explanation."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRETTYMETER_")}
    args = ["--man", str(demo_models["man"]), "--woman", str(demo_models["woman"])]
    service = ServiceProcess(args, env, name="demo-faces", log=tmp_path / "serve.log")
    try:
        service.wait_ready()
        photo, regions = group_photo()
        upload = encode(photo, "JPEG", quality=92)
        answer = v1_rate(service.url, [upload], faces="all", explain=True)
    finally:
        service.stop()
    (result,) = answer["results"]
    assert result["error"]["code"] == "several_faces"  # the one-person rule, as before
    faces = result["faces"]
    assert len(faces) == len(regions)
    *scored, tiny = faces
    assert tiny["error"]["code"] == "face_too_small"
    for face in scored:
        assert face["error"] is None, face["error"]
        assert 0.0 <= face["score"] <= 10.0 and 0.0 <= face["percentile"] <= 100.0
        assert face["quality"] is not None and isinstance(face["quality"]["advice"], list)
        regions_moved = {r["name"] for r in face["explanation"]["regions"]}
        assert {"eyes", "mouth", "background"} <= regions_moved
