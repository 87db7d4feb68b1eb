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

FP32_DRIFT = 0.05  # two fp32 runtimes differ by rounding alone


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
    """Every engine that could serve the model, against ONNX Runtime fp32 on the real photos:
    OpenVINO fp32 (a second runtime on every CPU) and each engine export accepted (bf16 where
    the CPU has it, int8 where it kept the scores). On a CPU without bf16 `auto` may pick ONNX
    Runtime itself; the other engines are still compared."""
    photos = [decode_image(photo_bytes(n)) for n in ("man.png", "woman.jpg")]
    for model_dir in demo_models.values():
        reference = Scorer(model_dir, engine="onnxruntime", threads=1)
        card = reference.card
        batch = np.stack(
            [preprocess(p, None, card.preprocessing.crop_size, card.input_size) for p in photos]
        )
        expected = 10 * reference.run(batch)[0]
        assert card.verification is not None
        accepted = [n for n, c in card.verification.engines.items() if c.accepted]
        chosen = Scorer(model_dir, engine="auto", threads=1)
        assert chosen.engine in accepted and chosen.check is not None and chosen.check.accepted
        limits = {"openvino": FP32_DRIFT} | {
            name: LIMITS["max"] for name in accepted if name != "onnxruntime"
        }
        for name, limit in limits.items():
            scorer = Scorer(model_dir, engine=name, threads=1)
            assert scorer.engine == name
            drift = np.abs(10 * scorer.run(batch)[0] - expected).max()
            assert drift <= limit, (model_dir.name, name, drift)
