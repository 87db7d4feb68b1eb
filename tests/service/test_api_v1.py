"""v1 over HTTP against a live uvicorn: /v1/rate (multipart, JSON), per-photo errors, models."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from prettymeter.card import load_model_dir
from tests.support.paths import DATA
from tests.support.photos import b64, encode, man_photo, no_face_png, photo_bytes


def rate_files(url: str, files: list[bytes], **fields: str) -> httpx.Response:
    parts = [
        ("files", (f"photo{i}.bin", data, "application/octet-stream"))
        for i, data in enumerate(files)
    ]
    return httpx.post(f"{url}/v1/rate", files=parts, data=fields, timeout=60)


def test_multipart_photos_get_a_score_rate_percentile_and_person_box_each(
    service_url: str, model_dirs: dict[str, Path]
) -> None:
    answer = rate_files(service_url, [photo_bytes("man.png"), photo_bytes("woman.jpg")], gender="m")
    assert answer.status_code == 200
    body = answer.json()
    card, _ = load_model_dir(model_dirs["man"])
    assert body["model"] == card.name and body["demo"] is True
    assert [r["index"] for r in body["results"]] == [0, 1]
    for result, name in zip(body["results"], ("man.png", "woman.jpg"), strict=True):
        assert result["error"] is None
        assert 0 <= result["score"] <= 10 and round(result["score"], 1) == result["score"]
        label = result["score"] / 10
        assert result["rate"] == pytest.approx(card.to_rate(label), abs=0.06)
        assert 0 <= result["percentile"] <= 100
        # One network's own std, 0.05 of the label: 0.5 on the 0-10 score.
        assert result["uncertainty"] == pytest.approx(0.5, abs=0.01)
        width, height = Image.open(DATA / name).size
        assert result["image_size"] == [width, height]
        x1, y1, x2, y2 = result["box"]
        assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height
        assert (x2 - x1) * (y2 - y1) < width * height  # a person box, not the whole photo


def test_json_and_multipart_give_the_same_results(service_url: str) -> None:
    photos = [photo_bytes("man.png"), photo_bytes("woman.jpg")]
    multipart = rate_files(service_url, photos, gender="w")
    json_body = {"instances": [b64(p) for p in photos], "gender": "w"}
    as_json = httpx.post(f"{service_url}/v1/rate", json=json_body, timeout=60)
    assert multipart.status_code == as_json.status_code == 200, (multipart.text, as_json.text)
    results = as_json.json()["results"]
    assert [r["index"] for r in results] == [0, 1]
    assert all(r["error"] is None and r["score"] is not None for r in results), results
    assert as_json.json() == multipart.json()


def test_one_bad_photo_does_not_fail_the_others(service_url: str) -> None:
    truncated = photo_bytes("woman.jpg")[:2000]
    photos = [photo_bytes("man.png"), b"", truncated, no_face_png(), b"%PDF-1.4 not a photo"]
    answer = rate_files(service_url, photos, gender="m")
    assert answer.status_code == 200
    results = answer.json()["results"]
    assert results[0]["error"] is None and results[0]["score"] is not None
    codes = [r["error"]["code"] for r in results[1:]]
    assert codes == ["not_an_image", "not_an_image", "no_face", "not_an_image"]
    for result in results[1:]:
        assert result["score"] is None and result["box"] is None
        assert result["error"]["message"] and "\n" not in result["error"]["message"]


def test_two_people_side_by_side_is_several_faces(service_url: str) -> None:
    man = man_photo()
    woman = Image.open(DATA / "woman.jpg").convert("RGB")
    woman = woman.resize((round(woman.width * man.height / woman.height), man.height))
    both = Image.new("RGB", (man.width + woman.width, man.height))
    both.paste(man, (0, 0))
    both.paste(woman, (man.width, 0))
    answer = rate_files(service_url, [encode(both, "JPEG", quality=92)], gender="m")
    assert answer.json()["results"][0]["error"]["code"] == "several_faces"


def test_bad_base64_in_json_is_a_per_photo_error(service_url: str) -> None:
    body = {"instances": ["@@@", b64(photo_bytes("man.png"))], "gender": "m"}
    results = httpx.post(f"{service_url}/v1/rate", json=body, timeout=60).json()["results"]
    assert results[0]["error"]["code"] == "invalid_base64"
    assert results[1]["error"] is None


def test_a_decompression_bomb_is_too_large_and_cheap(service_url: str) -> None:
    from tests.support.photos import png_bomb

    bomb = png_bomb(30000)
    assert len(bomb) < 64 * 1024
    answer = rate_files(service_url, [bomb, photo_bytes("man.png")], gender="m")
    results = answer.json()["results"]
    assert results[0]["error"]["code"] == "too_large"
    assert "pixels" in results[0]["error"]["message"]
    assert results[1]["error"] is None


def test_a_format_we_do_not_accept_is_unsupported_format(service_url: str) -> None:
    icon = encode(man_photo().resize((64, 64)), "ICO")
    result = rate_files(service_url, [icon], gender="m").json()["results"][0]
    assert result["error"]["code"] == "unsupported_format"


def test_every_image_mode_is_converted_and_scored(service_url: str) -> None:
    from tests.support.photos import mode_variants

    variants = mode_variants(man_photo())
    answer = rate_files(service_url, list(variants.values()), gender="m")
    results = answer.json()["results"]
    for mode, result in zip(variants, results, strict=True):
        assert result["error"] is None, f"{mode}: {result['error']}"
        assert result["score"] is not None


def test_an_exif_rotated_phone_photo_is_turned_upright_first(service_url: str) -> None:
    from tests.support.photos import exif_rotated_jpeg

    upright = man_photo()
    answer = rate_files(
        service_url, [exif_rotated_jpeg(upright), encode(upright, "JPEG", quality=95)], gender="m"
    )
    rotated, plain = answer.json()["results"]
    assert rotated["error"] is None
    assert rotated["image_size"] == list(upright.size)  # not the stored, sideways size
    assert np.allclose(rotated["box"], plain["box"], atol=upright.width * 0.05)


def test_animated_gif_webp_and_heic_are_scored_from_their_first_frame(service_url: str) -> None:
    from tests.support.photos import animated_gif, heic

    photo = man_photo()
    webp = encode(photo, "WEBP", save_all=True, append_images=[Image.new("RGB", photo.size)])
    answer = rate_files(service_url, [animated_gif(photo), webp, heic(photo)], gender="m")
    for result in answer.json()["results"]:
        assert result["error"] is None
        assert result["image_size"] == list(photo.size)


def test_a_model_can_be_chosen_by_route_or_card_name(service_url: str) -> None:
    photo = photo_bytes("woman.jpg")
    by_gender = rate_files(service_url, [photo], gender="w").json()
    by_route = rate_files(service_url, [photo], model="woman").json()
    by_name = rate_files(service_url, [photo], model="test-woman").json()
    assert by_gender == by_route == by_name


@pytest.mark.parametrize("fields", [{"gender": "x"}, {"model": "cat"}])
def test_an_unknown_gender_or_model_is_a_404_listing_what_is_loaded(
    service_url: str, fields: dict[str, str]
) -> None:
    answer = rate_files(service_url, [photo_bytes("man.png")], **fields)
    assert answer.status_code == 404
    assert "'m'" in answer.json()["detail"] or "man (test-man, m)" in answer.json()["detail"]


def test_no_gender_and_no_model_is_a_400(service_url: str) -> None:
    answer = rate_files(service_url, [photo_bytes("man.png")])
    assert answer.status_code == 400


def test_too_many_photos_is_a_413(service_url: str) -> None:
    tiny = encode(Image.new("RGB", (8, 8)), "PNG")
    answer = rate_files(service_url, [tiny] * 17, gender="m")
    assert answer.status_code == 413
    assert "limit is 16" in answer.json()["detail"]
    json_answer = httpx.post(
        f"{service_url}/man/predict", json={"instances": [b64(tiny)] * 17}, timeout=60
    )
    assert json_answer.status_code == 413


def test_more_form_parts_than_the_photo_limit_allows_is_a_413_saying_the_limit(
    service_url: str,
) -> None:
    # past 16 photos + 8 fields the form is not parsed further: the photo limit, like JSON's 413
    tiny = encode(Image.new("RGB", (8, 8)), "PNG")
    answer = rate_files(service_url, [tiny] * 30, gender="m")
    assert answer.status_code == 413, answer.text
    detail = answer.json()["detail"]
    assert "the limit is 16 photos per request" in detail and "send at most 16" in detail
    assert "\n" not in detail


def test_no_files_in_a_multipart_request_is_a_400(service_url: str) -> None:
    answer = httpx.post(
        f"{service_url}/v1/rate", files={"other": ("x.txt", b"x")}, data={"gender": "m"}
    )
    assert answer.status_code == 400
    assert "'files'" in answer.json()["detail"]


def test_a_wrong_content_type_is_a_415(service_url: str) -> None:
    # the original routes answer it with their own 422 (tests/service/test_api_original.py)
    answer = httpx.post(
        f"{service_url}/v1/rate", content=b"hello", headers={"content-type": "text/plain"}
    )
    assert answer.status_code == 415
    assert "text/plain" in answer.json()["detail"]


def test_malformed_json_is_a_400(service_url: str) -> None:
    # the original routes answer it with their own 422 (tests/service/test_api_original.py)
    answer = httpx.post(
        f"{service_url}/v1/rate",
        content=b'{"instances": ["abc"',
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 400
    assert "not valid JSON" in answer.json()["detail"]


def test_a_malformed_multipart_body_is_a_400(service_url: str) -> None:
    answer = httpx.post(
        f"{service_url}/v1/rate",
        content=b"--xyz\r\nno headers here",
        headers={"content-type": "multipart/form-data"},
    )
    assert answer.status_code == 400


def test_models_lists_each_route_with_its_card_and_engine(
    service_url: str, model_dirs: dict[str, Path]
) -> None:
    models = httpx.get(f"{service_url}/v1/models").json()["models"]
    assert [m["route"] for m in models] == ["man", "woman"]
    for entry in models:
        card, _ = load_model_dir(model_dirs[entry["route"]])
        assert entry["gender"] == card.gender
        assert entry["card"]["onnx_sha256"] == card.onnx_sha256
        assert entry["card"]["schema"] == "prettymeter.card/1"
        assert entry["engine"] == "onnxruntime"  # the test models are not verified: it says so
        assert (
            "not verified" in entry["engine_figures"]
            and "pretty-meter verify" in entry["engine_figures"]
        )
