"""The original service's API over HTTP against a live uvicorn: /man/predict and /woman/predict,
exactly."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from prettymeter.faces import find_person
from prettymeter.faces.mtcnn import FaceDetector
from prettymeter.imaging import decode_image, preprocess
from prettymeter.scoring import Scorer
from tests.support.live import LiveServer
from tests.support.photos import b64, encode, photo_bytes
from tests.support.raw_http import raw_request
from tests.support.settings import service_settings


def expected_score(model_dir: Path, data: bytes, detect: bool = True) -> float:
    """What the original route must answer, computed here without HTTP from the shared parts."""
    scorer = Scorer(model_dir, engine="onnxruntime", threads=1)
    image = decode_image(data)
    box = find_person(image, FaceDetector() if detect else None).person_box
    card = scorer.card
    array = preprocess(image, box, card.preprocessing.crop_size, card.input_size)
    label = float(scorer.run(array[None])[0][0])
    return round(min(10.0, max(0.0, 10 * label)), 1)


def test_the_original_route_answers_one_score_per_instance_in_order_with_one_decimal(
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


def test_the_original_route_scores_the_whole_image_when_no_person_is_found(
    service_url: str, model_dirs: dict[str, Path]
) -> None:
    gradient = np.linspace(0, 255, 200 * 150 * 3).reshape(150, 200, 3).astype(np.uint8)
    no_face = encode(Image.fromarray(gradient, "RGB"), "PNG")
    answer = httpx.post(f"{service_url}/man/predict", json={"instances": [b64(no_face)]})
    assert answer.status_code == 200
    assert answer.json()["predictions"] == [
        expected_score(model_dirs["man"], no_face, detect=False)
    ]


def test_invalid_base64_on_the_original_route_is_a_400_that_names_the_instance(
    service_url: str,
) -> None:
    answer = httpx.post(
        f"{service_url}/man/predict",
        json={"instances": [b64(photo_bytes("man.png")), "not base64 !!!"]},
    )
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith("instance 1:")
    assert "base64" in answer.json()["detail"]


def test_an_instance_that_is_not_an_image_fails_the_original_request_with_400(
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


def post_raw(url: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    """POST exactly these headers (and Content-Length), as the original service's client did."""
    answer = raw_request(url, "POST", path, body, headers)
    return answer.status, answer.json()


def test_a_json_body_with_no_content_type_is_scored_as_the_original_did(
    service_url: str, model_dirs: dict[str, Path]
) -> None:
    man = photo_bytes("man.png")
    body = json.dumps({"instances": [b64(man)]}).encode()
    status, answer = post_raw(service_url, "/man/predict", body, {})  # no Content-Type at all
    assert status == 200, answer
    assert answer == {"predictions": [expected_score(model_dirs["man"], man)]}


ORIGINAL_REFUSALS = {
    "no instances": (b'{"images": []}', {"content-type": "application/json"}, "instances"),
    "instances not strings": (b'{"instances": [1]}', {"content-type": "application/json"}, "str"),
    "not JSON": (b'{"instances": [', {"content-type": "application/json"}, "not valid JSON"),
    "empty body": (b"", {"content-type": "application/json"}, "empty"),
    "empty body, no type": (b"", {}, "empty"),
    "XML": (b"<instances/>", {"content-type": "application/xml"}, "application/json"),
    "form": (b"instances=x", {"content-type": "application/x-www-form-urlencoded"}, "json"),
}


@pytest.mark.parametrize("case", ORIGINAL_REFUSALS, ids=str)
def test_a_body_the_original_refused_is_a_422_in_the_originals_own_shape(
    service_url: str, case: str
) -> None:
    body, headers, hint = ORIGINAL_REFUSALS[case]
    for route in ("/man/predict", "/woman/predict"):
        status, answer = post_raw(service_url, route, body, headers)
        assert status == 422, answer
        assert set(answer) == {"status_code", "message", "data"}, answer
        assert answer["status_code"] == 10422 and answer["data"] is None
        message = answer["message"]
        assert isinstance(message, str) and "\n" not in message and hint in message, message


@pytest.mark.parametrize("case", ORIGINAL_REFUSALS, ids=str)
def test_v1_keeps_its_own_error_format_for_the_same_bodies(service_url: str, case: str) -> None:
    body, headers, _ = ORIGINAL_REFUSALS[case]
    status, answer = post_raw(service_url, "/v1/rate", body, headers)
    assert status in (400, 415, 422), answer
    assert list(answer) == ["detail"] and isinstance(answer["detail"], str)


def test_the_original_routes_document_their_422_shape(service_url: str) -> None:
    schema = httpx.get(f"{service_url}/openapi.json").json()
    original_422 = schema["paths"]["/man/predict"]["post"]["responses"]["422"]
    v1_422 = schema["paths"]["/v1/rate"]["post"]["responses"]["422"]
    original_ref = original_422["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    v1_ref = v1_422["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(schema["components"]["schemas"][original_ref]["properties"]) == {
        "status_code",
        "message",
        "data",
    }
    assert set(schema["components"]["schemas"][v1_ref]["properties"]) == {"detail"}


def test_the_original_routes_work_under_the_api_prefix(model_dirs: dict[str, Path]) -> None:
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
