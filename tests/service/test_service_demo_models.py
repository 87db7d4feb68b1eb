"""The service on the demo models made by the real pipeline (synth → ... → export)."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np

from prettymeter.card import load_model_dir
from prettymeter.imaging import decode_image, preprocess
from prettymeter.scoring import MAX_ENGINE_DRIFT, Scorer
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
        seed = httpx.post(
            f"{server.url}/man/predict", json={"instances": [b64(p) for p in photos]}, timeout=60
        )
        models = httpx.get(f"{server.url}/v1/models").json()["models"]
    card, _ = load_model_dir(demo_models["woman"])
    assert rated["model"] == card.name and rated["demo"] is card.demo
    for result in rated["results"]:
        assert result["error"] is None and 0 <= result["score"] <= 10
        if "label_std" in card.outputs:
            assert result["uncertainty"] is not None and result["uncertainty"] >= 0
    assert seed.status_code == 200 and len(seed.json()["predictions"]) == 2
    assert {m["route"] for m in models} == set(demo_models)


def test_the_auto_engine_keeps_the_demo_models_scores_within_0_05(
    demo_models: dict[str, Path],
) -> None:
    for model_dir in demo_models.values():
        reference = Scorer(model_dir, engine="onnxruntime", threads=1)
        chosen = Scorer(model_dir, engine="auto", threads=1)
        card = reference.card
        photos = [decode_image(photo_bytes(n)) for n in ("man.png", "woman.jpg")]
        batch = np.stack(
            [preprocess(p, None, card.preprocessing.crop_size, card.input_size) for p in photos]
        )
        drift = np.abs(10 * chosen.run(batch)[0] - 10 * reference.run(batch)[0]).max()
        assert drift <= MAX_ENGINE_DRIFT
