"""KServe V1 and Open Inference Protocol (V2) routes over HTTP against a live uvicorn, with the
protocols' published JSON shapes (httpx) and a real V2 client (tritonclient[http])."""

from __future__ import annotations

import gzip
import json
import math
import struct
from typing import Any

import httpx
import numpy as np
import pytest

from prettymeter import __version__
from tests.support.photos import b64, no_face_png, photo_bytes

MAN = photo_bytes("man.png")
WOMAN = photo_bytes("woman.jpg")
NOT_A_PHOTO = b"%PDF-1.4 not a photo"
OUTPUT_NAMES = ["score", "rate", "percentile", "uncertainty", "box", "region", "error"]


def rate(url: str, photos: list[bytes], model: str) -> list[dict[str, Any]]:
    """The same photos through /v1/rate: what every protocol here must agree with."""
    body = {"instances": [b64(p) for p in photos], "model": model}
    answer = httpx.post(f"{url}/v1/rate", json=body, timeout=60)
    assert answer.status_code == 200, answer.text
    results: list[dict[str, Any]] = answer.json()["results"]
    return results


def assert_protocol_error(answer: httpx.Response, status: int, *words: str) -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"error"}, body
    assert body["error"] and "\n" not in body["error"]
    for word in words:
        assert word in body["error"], body["error"]


def photo_input(photos: list[str], shape: list[int] | None = None, **extra: Any) -> dict[str, Any]:
    tensor = {"name": "photo", "datatype": "BYTES", "shape": shape or [len(photos)]}
    return {**tensor, "data": photos, **extra}


def infer(url: str, body: object, name: str = "man", **kwargs: Any) -> httpx.Response:
    return httpx.post(f"{url}/v2/models/{name}/infer", json=body, timeout=60, **kwargs)


def outputs_of(answer: httpx.Response) -> dict[str, dict[str, Any]]:
    return {out["name"]: out for out in answer.json()["outputs"]}


def packed(*items: bytes) -> bytes:
    """A BYTES tensor in the binary tensor data extension: length (4 bytes, LE) + bytes."""
    return b"".join(struct.pack("<I", len(item)) + item for item in items)


def binary_infer(url: str, header: dict[str, Any], blob: bytes, length: str | None = None) -> Any:
    head = json.dumps(header).encode()
    headers = {"Inference-Header-Content-Length": length or str(len(head))}
    return httpx.post(
        f"{url}/v2/models/man/infer", content=head + blob, headers=headers, timeout=60
    )


# -- KServe V1 ------------------------------------------------------------------------------------


def test_v1_model_readiness_by_route_or_card_name_next_to_our_model_list(service_url: str) -> None:
    assert httpx.get(f"{service_url}/v1/models/man").json() == {"name": "man", "ready": True}
    by_card = httpx.get(f"{service_url}/v1/models/test-woman")
    assert by_card.status_code == 200 and by_card.json() == {"name": "test-woman", "ready": True}
    assert_protocol_error(httpx.get(f"{service_url}/v1/models/nobody"), 404, "nobody", "man")
    ours = httpx.get(f"{service_url}/v1/models").json()
    assert {m["route"] for m in ours["models"]} == {"man", "woman"}


def test_v1_predict_takes_strings_and_b64_objects_and_answers_what_v1_rate_does(
    service_url: str,
) -> None:
    body = {"instances": [b64(MAN), {"b64": b64(WOMAN)}]}
    answer = httpx.post(f"{service_url}/v1/models/woman:predict", json=body, timeout=60)
    assert answer.status_code == 200, answer.text
    predictions = answer.json()["predictions"]
    expected = rate(service_url, [MAN, WOMAN], "woman")
    assert predictions == [{k: v for k, v in r.items() if k != "index"} for r in expected]
    assert all(p["error"] is None and 0 <= p["score"] <= 10 for p in predictions)
    assert predictions[0]["box"] is not None and predictions[0]["image_size"] == [500, 600]


def test_v1_predict_bad_photos_get_error_codes_and_do_not_fail_the_others(
    service_url: str,
) -> None:
    instances = [
        b64(MAN),
        "not base64!",
        b64(NOT_A_PHOTO),
        b64(no_face_png(120, 90)),
        42,
        {"b64": 5},
    ]
    answer = httpx.post(
        f"{service_url}/v1/models/test-man:predict", json={"instances": instances}, timeout=60
    )
    assert answer.status_code == 200, answer.text
    predictions = answer.json()["predictions"]
    assert predictions[0]["error"] is None and predictions[0]["score"] is not None
    codes = [p["error"]["code"] for p in predictions[1:]]
    assert codes == [
        "invalid_base64",
        "not_an_image",
        "no_face",
        "invalid_base64",
        "invalid_base64",
    ]
    for prediction in predictions[1:]:
        assert prediction["score"] is None and prediction["box"] is None
        assert prediction["error"]["message"] and "\n" not in prediction["error"]["message"]


@pytest.mark.parametrize(
    ("path", "content", "headers", "status", "word"),
    [
        ("man:predict", b'{"instances": [', {}, 400, "JSON"),
        ("man:predict", b"", {}, 400, "empty"),
        ("man:predict", b'{"inputs": ["x"]}', {}, 400, "instances"),
        ("man:predict", b'{"instances": []}', {}, 400, "no photos"),
        ("man:predict", json.dumps({"instances": ["x"] * 17}).encode(), {}, 413, "limit is 16"),
        ("nobody:predict", b'{"instances": ["x"]}', {}, 404, "nobody"),
        # mtime=0: the same bytes, so the same test id, on every pytest-xdist worker
        (
            "man:predict",
            gzip.compress(b'{"instances": []}', mtime=0),
            {"content-encoding": "gzip"},
            415,
            "",
        ),
    ],
)
def test_v1_predict_refusals_are_one_line_error_objects(
    service_url: str, path: str, content: bytes, headers: dict[str, str], status: int, word: str
) -> None:
    answer = httpx.post(
        f"{service_url}/v1/models/{path}", content=content, headers=headers, timeout=60
    )
    assert_protocol_error(answer, status, word)


def test_v1_predict_accepts_the_form_content_type_that_curl_d_sends(service_url: str) -> None:
    answer = httpx.post(
        f"{service_url}/v1/models/man:predict",
        content=json.dumps({"instances": [b64(MAN)]}).encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
        timeout=60,
    )
    assert answer.status_code == 200 and answer.json()["predictions"][0]["score"] is not None


# -- Open Inference Protocol (V2), published JSON shapes -----------------------------------------


def test_v2_health_server_metadata_model_metadata_and_readiness(service_url: str) -> None:
    assert httpx.get(f"{service_url}/v2/health/live").json() == {"live": True}
    assert httpx.get(f"{service_url}/v2/health/ready").json() == {"ready": True}
    server = httpx.get(f"{service_url}/v2").json()
    assert server == {
        "name": "pretty-meter",
        "version": __version__,
        "extensions": ["binary_tensor_data"],
    }
    meta = httpx.get(f"{service_url}/v2/models/man").json()
    assert meta["name"] == "man" and meta["versions"] == ["1"] and meta["platform"]
    assert meta["inputs"] == [{"name": "photo", "datatype": "BYTES", "shape": [-1]}]
    shapes = {o["name"]: (o["datatype"], o["shape"]) for o in meta["outputs"]}
    assert list(shapes) == OUTPUT_NAMES
    assert shapes["score"] == ("FP32", [-1]) and shapes["box"] == ("FP32", [-1, 4])
    assert shapes["error"] == ("BYTES", [-1])
    assert httpx.get(f"{service_url}/v2/models/man/versions/1").json() == meta
    ready = httpx.get(f"{service_url}/v2/models/test-woman/versions/1/ready")
    assert ready.json() == {"name": "test-woman", "ready": True}
    assert_protocol_error(httpx.get(f"{service_url}/v2/models/nobody"), 404, "nobody")
    assert_protocol_error(httpx.get(f"{service_url}/v2/models/nobody/ready"), 404, "nobody")
    assert_protocol_error(httpx.get(f"{service_url}/v2/models/man/versions/2"), 404, "version")


def test_v2_json_infer_answers_what_v1_rate_does_with_per_photo_error_codes(
    service_url: str,
) -> None:
    photos = [MAN, WOMAN, NOT_A_PHOTO]
    body = {"id": "req-7", "inputs": [photo_input([b64(p) for p in photos])]}
    answer = infer(service_url, body, name="test-man")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert "inference-header-content-length" not in answer.headers
    whole = answer.json()
    assert whole["model_name"] == "test-man" and whole["id"] == "req-7"
    assert whole["parameters"] == {"model": "test-man", "demo": True}
    outputs = outputs_of(answer)
    assert list(outputs) == OUTPUT_NAMES
    expected = rate(service_url, photos, "man")
    for name in ("score", "rate", "percentile", "uncertainty"):
        assert outputs[name]["datatype"] == "FP32" and outputs[name]["shape"] == [3]
        assert outputs[name]["data"] == [r[name] for r in expected]
    assert outputs["box"]["shape"] == [3, 4]
    assert outputs["box"]["data"][:4] == expected[0]["box"]
    assert outputs["box"]["data"][8:] == [None] * 4
    assert outputs["error"] == {
        "name": "error",
        "datatype": "BYTES",
        "shape": [3],
        "data": ["", "", "not_an_image"],
    }


def test_v2_json_infer_takes_nested_data_and_returns_only_the_outputs_asked(
    service_url: str,
) -> None:
    body = {
        "inputs": [photo_input([[b64(MAN)], ["%%%"]], shape=[2, 1])],
        "outputs": [{"name": "error"}, {"name": "score"}],
    }
    answer = infer(service_url, body, name="woman")
    assert answer.status_code == 200, answer.text
    outputs = answer.json()["outputs"]
    assert [o["name"] for o in outputs] == ["error", "score"]
    assert outputs[0]["data"] == ["", "invalid_base64"]
    assert outputs[1]["data"] == [rate(service_url, [MAN], "woman")[0]["score"], None]


def test_v2_binary_extension_by_hand_raw_files_in_and_binary_outputs_out(
    service_url: str,
) -> None:
    blob = packed(MAN, NOT_A_PHOTO)
    tensor = {"name": "photo", "datatype": "BYTES", "shape": [2]}
    header = {
        "inputs": [{**tensor, "parameters": {"binary_data_size": len(blob)}}],
        "outputs": [
            {"name": "score", "parameters": {"binary_data": True}},
            {"name": "error", "parameters": {"binary_data": True}},
            {"name": "rate"},
        ],
    }
    answer = binary_infer(service_url, header, blob)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/octet-stream"
    length = int(answer.headers["inference-header-content-length"])
    head = json.loads(answer.content[:length])
    tail = answer.content[length:]
    score, error, rate_out = head["outputs"]
    assert score["parameters"] == {"binary_data_size": 8} and "data" not in score
    scores = np.frombuffer(tail[:8], dtype="<f4")
    expected = rate(service_url, [MAN], "man")[0]
    assert scores[0] == pytest.approx(expected["score"]) and math.isnan(scores[1])
    assert tail[8:] == packed(b"", b"not_an_image")
    assert error["parameters"] == {"binary_data_size": len(packed(b"", b"not_an_image"))}
    assert rate_out["data"] == [expected["rate"], None]


@pytest.mark.parametrize(
    ("case", "status", "word"),
    [
        ("not json", 400, "JSON"),
        ("no inputs", 400, "inputs"),
        ("two inputs", 400, "one"),
        ("input named image", 400, "image"),
        ("FP32 input", 400, "BYTES"),
        ("shape says 2, one photo", 400, "shape"),
        ("no data", 400, "data"),
        ("unknown output", 400, "unknown"),
        ("17 photos", 413, "limit is 16"),
        ("unknown model", 404, "nobody"),
        ("version 2", 404, "version"),
        ("gzip body", 415, "uncompressed"),
        ("header length not a number", 400, "Inference-Header-Content-Length"),
        ("header length past the body", 400, "Inference-Header-Content-Length"),
        ("binary size past the body", 400, "binary_data_size"),
        ("element longer than the data", 400, "element"),
        ("bytes nobody claims", 400, "bytes after"),
        ("data and binary both", 400, "both"),
    ],
)
def test_v2_malformed_requests_get_one_line_error_objects(
    service_url: str, case: str, status: int, word: str
) -> None:
    one = photo_input([b64(MAN)])
    url = service_url
    if case == "not json":
        answer = httpx.post(f"{url}/v2/models/man/infer", content=b"{inputs", timeout=60)
    elif case == "no inputs":
        answer = infer(url, {"id": "1"})
    elif case == "two inputs":
        answer = infer(url, {"inputs": [one, one]})
    elif case == "input named image":
        answer = infer(url, {"inputs": [{**one, "name": "image"}]})
    elif case == "FP32 input":
        answer = infer(url, {"inputs": [{**one, "datatype": "FP32", "data": [1.0]}]})
    elif case == "shape says 2, one photo":
        answer = infer(url, {"inputs": [{**one, "shape": [2]}]})
    elif case == "no data":
        answer = infer(url, {"inputs": [{k: v for k, v in one.items() if k != "data"}]})
    elif case == "unknown output":
        answer = infer(url, {"inputs": [one], "outputs": [{"name": "beauty"}]})
    elif case == "17 photos":
        answer = infer(url, {"inputs": [photo_input(["eA=="] * 17)]})
    elif case == "unknown model":
        answer = infer(url, {"inputs": [one]}, name="nobody")
    elif case == "version 2":
        answer = infer(url, {"inputs": [one]}, name="man/versions/2")
    elif case == "gzip body":
        content = gzip.compress(json.dumps({"inputs": [one]}).encode())
        answer = httpx.post(
            f"{url}/v2/models/man/infer",
            content=content,
            headers={"content-encoding": "gzip"},
            timeout=60,
        )
    else:
        blob = packed(MAN)
        tensor = {"name": "photo", "datatype": "BYTES", "shape": [1]}
        header = {"inputs": [{**tensor, "parameters": {"binary_data_size": len(blob)}}]}
        if case == "header length not a number":
            answer = binary_infer(url, header, blob, length="twelve")
        elif case == "header length past the body":
            answer = binary_infer(url, header, blob, length=str(10**6))
        elif case == "binary size past the body":
            answer = binary_infer(url, header, blob[:-1])
        elif case == "element longer than the data":
            short_blob = struct.pack("<I", len(MAN) + 1) + MAN
            header["inputs"][0]["parameters"]["binary_data_size"] = len(short_blob)
            answer = binary_infer(url, header, short_blob)
        elif case == "bytes nobody claims":
            answer = binary_infer(url, header, blob + b"xx")
        else:
            header["inputs"][0]["data"] = [b64(MAN)]
            answer = binary_infer(url, header, blob)
    assert_protocol_error(answer, status, word)


# -- a real Open Inference Protocol client ------------------------------------------------------


@pytest.fixture(scope="module")
def triton(service_url: str) -> Any:
    import tritonclient.http as http  # in the dev extras: a missing client fails, never skips

    client = http.InferenceServerClient(service_url.removeprefix("http://"), network_timeout=60)
    yield client
    client.close()


def test_tritonclient_health_and_metadata(triton: Any) -> None:
    assert triton.is_server_live() and triton.is_server_ready()
    assert triton.is_model_ready("woman") and triton.is_model_ready("man", "1")
    assert not triton.is_model_ready("nobody") and not triton.is_model_ready("man", "2")
    assert triton.get_server_metadata()["extensions"] == ["binary_tensor_data"]
    meta = triton.get_model_metadata("test-man", "1")
    assert meta["inputs"][0] == {"name": "photo", "datatype": "BYTES", "shape": [-1]}


def test_tritonclient_default_binary_infer_scores_like_v1_rate(
    triton: Any, service_url: str
) -> None:
    from tritonclient.http import InferInput

    photos = [WOMAN, NOT_A_PHOTO, MAN]
    photo = InferInput("photo", [3], "BYTES")
    photo.set_data_from_numpy(np.array(photos, dtype=np.object_))  # binary by default
    result = triton.infer("man", [photo], request_id="r1")
    expected = rate(service_url, photos, "man")
    assert result.get_response()["id"] == "r1"
    scores = result.as_numpy("score")
    assert scores.dtype == np.float32 and scores.shape == (3,)
    assert scores[[0, 2]].tolist() == pytest.approx([expected[0]["score"], expected[2]["score"]])
    assert math.isnan(scores[1])
    assert result.as_numpy("error").tolist() == [b"", b"not_an_image", b""]
    boxes = result.as_numpy("box")
    assert boxes.shape == (3, 4) and np.isnan(boxes[1]).all()
    assert boxes[0].tolist() == pytest.approx(expected[0]["box"])
    assert result.as_numpy("percentile")[0] == pytest.approx(expected[0]["percentile"])


def test_tritonclient_json_infer_with_chosen_outputs(triton: Any, service_url: str) -> None:
    from tritonclient.http import InferInput, InferRequestedOutput

    photo = InferInput("photo", [2], "BYTES")
    photo.set_data_from_numpy(np.array([b64(MAN), "%%%"], dtype=np.object_), binary_data=False)
    outputs = [
        InferRequestedOutput("score", binary_data=False),
        InferRequestedOutput("error", binary_data=True),
    ]
    result = triton.infer("woman", [photo], outputs=outputs)
    response = result.get_response()
    assert [o["name"] for o in response["outputs"]] == ["score", "error"]
    assert response["outputs"][0]["data"][0] == rate(service_url, [MAN], "woman")[0]["score"]
    assert math.isnan(result.as_numpy("score")[1])
    assert result.as_numpy("error").tolist() == [b"", b"invalid_base64"]


def test_tritonclient_gets_our_error_messages(triton: Any) -> None:
    from tritonclient.http import InferInput
    from tritonclient.utils import InferenceServerException

    photo = InferInput("photo", [1], "BYTES")
    photo.set_data_from_numpy(np.array([MAN], dtype=np.object_))
    with pytest.raises(InferenceServerException, match="nobody") as unknown:
        triton.infer("nobody", [photo])
    assert unknown.value.status() == "404"
    numbers = InferInput("photo", [1], "FP32")
    numbers.set_data_from_numpy(np.zeros(1, dtype=np.float32))
    with pytest.raises(InferenceServerException, match="send BYTES") as wrong:
        triton.infer("man", [numbers])
    assert wrong.value.status() == "400"
