"""The seed's API over HTTP against a live uvicorn: /man/predict and /woman/predict, exactly."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
from PIL import Image
from service_helpers import LiveServer, b64, encode, photo_bytes, service_settings

from prettymeter.faces import find_person
from prettymeter.faces.mtcnn import FaceDetector
from prettymeter.imaging import decode_image, preprocess
from prettymeter.scoring import Scorer


def expected_score(model_dir: Path, data: bytes, detect: bool = True) -> float:
    """What the seed route must answer, computed here without HTTP from the shared parts."""
    scorer = Scorer(model_dir, engine="onnxruntime", threads=1)
    image = decode_image(data)
    box = find_person(image, FaceDetector() if detect else None).person_box
    card = scorer.card
    array = preprocess(image, box, card.preprocessing.crop_size, card.input_size)
    label = float(scorer.run(array[None])[0][0])
    return round(min(10.0, max(0.0, 10 * label)), 1)


def test_the_seed_route_answers_one_score_per_instance_in_order_with_one_decimal(
    service_url: str, model_dirs: dict[str, Path]
) -> None:
    man, woman = photo_bytes("man.png"), photo_bytes("woman.jpg")
    answer = httpx.post(f"{service_url}/man/predict", json={"instances": [b64(man), b64(woman)]})
    assert answer.status_code == 200
    predictions = answer.json()["predictions"]
    assert list(answer.json()) == ["predictions"]
    assert predictions == [
        expected_score(model_dirs["man"], man),
        expected_score(model_dirs["man"], woman),
    ]
    assert all(0.0 <= p <= 10.0 and round(p, 1) == p for p in predictions)
    reverse = httpx.post(f"{service_url}/man/predict", json={"instances": [b64(woman), b64(man)]})
    assert reverse.json()["predictions"] == predictions[::-1]


def test_the_woman_route_uses_the_woman_model(
    service_url: str, model_dirs: dict[str, Path]
) -> None:
    woman = photo_bytes("woman.jpg")
    answer = httpx.post(f"{service_url}/woman/predict", json={"instances": [b64(woman)]})
    assert answer.status_code == 200
    assert answer.json()["predictions"] == [expected_score(model_dirs["woman"], woman)]


def test_the_seed_route_scores_the_whole_image_when_no_person_is_found(
    service_url: str, model_dirs: dict[str, Path]
) -> None:
    gradient = np.linspace(0, 255, 200 * 150 * 3).reshape(150, 200, 3).astype(np.uint8)
    no_face = encode(Image.fromarray(gradient, "RGB"), "PNG")
    answer = httpx.post(f"{service_url}/man/predict", json={"instances": [b64(no_face)]})
    assert answer.status_code == 200
    assert answer.json()["predictions"] == [
        expected_score(model_dirs["man"], no_face, detect=False)
    ]


def test_invalid_base64_on_the_seed_route_is_a_400_that_names_the_instance(
    service_url: str,
) -> None:
    answer = httpx.post(
        f"{service_url}/man/predict",
        json={"instances": [b64(photo_bytes("man.png")), "not base64 !!!"]},
    )
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith("instance 1:")
    assert "base64" in answer.json()["detail"]


def test_an_instance_that_is_not_an_image_fails_the_seed_request_with_400(
    service_url: str,
) -> None:
    answer = httpx.post(
        f"{service_url}/woman/predict", json={"instances": [b64(b"hello, I am text")]}
    )
    assert answer.status_code == 400
    assert "instance 0:" in answer.json()["detail"]
    assert "JPEG" in answer.json()["detail"]


def test_an_empty_instances_list_is_a_400_not_a_500(service_url: str) -> None:
    answer = httpx.post(f"{service_url}/man/predict", json={"instances": []})
    assert answer.status_code == 400
    assert "at least one" in answer.json()["detail"]


def test_a_body_without_instances_is_a_422_with_one_line(service_url: str) -> None:
    answer = httpx.post(f"{service_url}/man/predict", json={"images": []})
    assert answer.status_code == 422
    assert isinstance(answer.json()["detail"], str)
    assert "instances" in answer.json()["detail"]


def test_the_seed_routes_work_under_the_api_prefix(model_dirs: dict[str, Path]) -> None:
    settings = service_settings({"man": model_dirs["man"]}, root_path="/api")
    with LiveServer(settings) as server:
        body = {"instances": [b64(photo_bytes("man.png"))]}
        prefixed = httpx.post(f"{server.url}/api/man/predict", json=body)
        stripped = httpx.post(f"{server.url}/man/predict", json=body)  # a proxy removed /api
        assert prefixed.status_code == stripped.status_code == 200
        assert prefixed.json() == stripped.json()
        assert httpx.get(f"{server.url}/api/docs").status_code == 200
        assert httpx.get(f"{server.url}/api/config.json").json()["apiBaseUrl"] == "/api"
        # a route whose model is not configured is a clear 404
        missing = httpx.post(f"{server.url}/api/woman/predict", json=body)
        assert missing.status_code == 404
        assert "no gender 'w'" in missing.json()["detail"]
