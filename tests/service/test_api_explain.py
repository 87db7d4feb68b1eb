"""/v1/rate explain=true over a live service: the explanation of the photo and of each face
equals the one the loaded model computes in-process, and a plain answer carries none."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest

from prettymeter.explain import MAP_CELLS, NOTE, REGIONS
from prettymeter.rating_model import RatingModel
from tests.support.live import v1_rate
from tests.support.photos import photo_bytes


def test_explain_true_gives_the_deltas_the_model_computes(
    service_url: str, model_dirs: dict[str, Path]
) -> None:
    photo = photo_bytes("man.png")
    result = v1_rate(service_url, [photo], explain=True, faces="all")["results"][0]
    model = RatingModel(model_dirs["man"], engine="onnxruntime", threads=1)
    expected = model.rate([photo], faces="all", explain=True)[0]
    assert expected.explanation is not None
    explanation = result["explanation"]
    assert explanation["note"] == NOTE and explanation["grid"] == MAP_CELLS
    assert [r["name"] for r in explanation["regions"]] == list(REGIONS)
    for got, want in zip(explanation["regions"], expected.explanation["regions"], strict=True):
        assert got["delta"] == pytest.approx(want["delta"], abs=5e-3)
    assert np.allclose(explanation["heatmap"], expected.explanation["heatmap"], atol=5e-3)
    face = result["faces"][0]
    assert face["score"] is not None and face["explanation"]["regions"] is not None


def test_a_plain_answer_carries_no_explanation(service_url: str) -> None:
    result = v1_rate(service_url, [photo_bytes("man.png")], faces="all")["results"][0]
    assert result["score"] is not None and result["explanation"] is None
    assert all(face["explanation"] is None for face in result["faces"])


def test_explain_works_from_a_multipart_form_and_refuses_other_words(service_url: str) -> None:
    files = {"files": ("man.png", photo_bytes("man.png"), "image/png")}
    answer = httpx.post(
        f"{service_url}/v1/rate", files=files, data={"gender": "m", "explain": "true"}, timeout=120
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["results"][0]["explanation"]["note"] == NOTE
    answer = httpx.post(
        f"{service_url}/v1/rate", files=files, data={"gender": "m", "explain": "yes"}, timeout=120
    )
    assert answer.status_code == 422 and "explain" in answer.text
