"""/v1/rate's face answers over a live service: the scored person's face quality (`quality`),
and every face of a photo (`faces=all`)."""

from __future__ import annotations

import httpx
from PIL import Image

from prettymeter.faces import FaceDetector, main_faces
from prettymeter.faces.quality import TOO_DARK, measure
from tests.support.photos import b64, encode, man_photo, photo_bytes
from tests.support.quality_variants import scaled_exposure


def rate(url: str, photos: list[bytes], **fields: object) -> dict:
    body = {"instances": [b64(p) for p in photos], "gender": "m", **fields}
    answer = httpx.post(f"{url}/v1/rate", json=body, timeout=120)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_scored_photo_carries_its_face_quality_as_measured_on_the_detected_face(
    service_url: str,
) -> None:
    photo = man_photo()
    dark = scaled_exposure(photo, 0.25)
    plain, darkened = rate(service_url, [encode(photo, "PNG"), encode(dark, "PNG")])["results"]
    detector = FaceDetector()
    for result, image in ((plain, photo), (darkened, dark)):
        face = main_faces(detector.detect(image))[0]
        expected = measure(image, face.box, face.landmarks).to_dict()
        quality = dict(result["quality"])
        codes = [a["code"] for a in quality.pop("advice")]
        assert codes == expected.pop("advice")
        assert quality == expected
    assert TOO_DARK not in [a["code"] for a in plain["quality"]["advice"]]
    (advice,) = [a for a in darkened["quality"]["advice"] if a["code"] == TOO_DARK]
    assert advice["message"] and "\n" not in advice["message"]


def test_a_photo_without_a_score_has_no_quality(service_url: str) -> None:
    blank = encode(Image.new("RGB", (200, 150), (90, 120, 200)), "PNG")
    (result,) = rate(service_url, [blank])["results"]
    assert result["error"]["code"] == "no_face" and result["quality"] is None


def test_kserve_v1_predictions_carry_the_same_quality(service_url: str) -> None:
    photo = photo_bytes("woman.jpg")
    (ours,) = rate(service_url, [photo])["results"]
    v1 = httpx.post(
        f"{service_url}/v1/models/man:predict", json={"instances": [b64(photo)]}, timeout=60
    ).json()["predictions"][0]
    assert v1["quality"] == ours["quality"] and ours["quality"] is not None
