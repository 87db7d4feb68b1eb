"""The service on the demo models made by the real pipeline (synth → ... → export)."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np

from prettymeter.card import load_model_dir
from prettymeter.imaging import decode_image, preprocess
from prettymeter.scoring import Scorer
from prettymeter.verification import LIMITS
from tests.support.live import LiveServer
from tests.support.photos import b64, photo_bytes
from tests.support.settings import service_settings


def test_the_service_serves_the_exported_demo_models_with_ensemble_uncertainty(
    demo_models: dict[str, Path],
) -> None:
    settings = service_settings(dict(demo_models), engine="auto")
    photos = [photo_bytes("man.png"), photo_bytes("woman.jpg")]
    with LiveServer(settings) as server:
        rated = httpx.post(
            f"{server.url}/v1/rate",
            files=[("files", (f"p{i}", data)) for i, data in enumerate(photos)],
            data={"gender": "w"},
            timeout=60,
        ).json()
        original = httpx.post(
            f"{server.url}/man/predict", json={"instances": [b64(p) for p in photos]}, timeout=60
        )
        models = httpx.get(f"{server.url}/v1/models").json()["models"]
    card, _ = load_model_dir(demo_models["woman"])
    assert rated["model"] == card.name and rated["demo"] is card.demo
    for result in rated["results"]:
        assert result["error"] is None and 0 <= result["score"] <= 10
        if "label_std" in card.outputs:
            assert result["uncertainty"] is not None and result["uncertainty"] >= 0
    assert original.status_code == 200 and len(original.json()["predictions"]) == 2
    assert {m["route"] for m in models} == set(demo_models)
    for model in models:  # export verified the engines: the served one shows its figures
        assert model["card"]["verification"] is not None
        assert model["engine"] in model["engine_figures"]
        assert "not verified" not in model["engine_figures"]


def test_the_auto_engine_serves_an_accepted_engine_within_its_limit_on_photos(
    demo_models: dict[str, Path],
) -> None:
    for model_dir in demo_models.values():
        reference = Scorer(model_dir, engine="onnxruntime", threads=1)
        chosen = Scorer(model_dir, engine="auto", threads=1)
        assert chosen.check is not None and chosen.check.accepted
        card = reference.card
        photos = [decode_image(photo_bytes(n)) for n in ("man.png", "woman.jpg")]
        batch = np.stack(
            [preprocess(p, None, card.preprocessing.crop_size, card.input_size) for p in photos]
        )
        drift = np.abs(10 * chosen.run(batch)[0] - 10 * reference.run(batch)[0]).max()
        assert drift <= LIMITS["max"]
