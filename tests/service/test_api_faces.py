"""/v1/rate's face answers over a live service: the scored person's face quality (`quality`),
and every face of a photo (`faces=all`)."""

from __future__ import annotations

import math
from pathlib import Path

import httpx
from PIL import Image

from prettymeter.faces import FaceDetector, main_faces
from prettymeter.faces.quality import TOO_DARK, measure
from prettymeter.rating_model import RatingModel
from tests.support.group import group_photo
from tests.support.live import v1_rate
from tests.support.photos import b64, encode, man_photo, photo_bytes
from tests.support.quality_variants import scaled_exposure


def test_a_scored_photo_carries_its_face_quality_as_measured_on_the_detected_face(
    service_url: str,
) -> None:
    photo = man_photo()
    dark = scaled_exposure(photo, 0.25)
    plain, darkened = v1_rate(service_url, [encode(photo, "PNG"), encode(dark, "PNG")])["results"]
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
    (result,) = v1_rate(service_url, [blank])["results"]
    assert result["error"]["code"] == "no_face" and result["quality"] is None


def test_kserve_v1_predictions_carry_the_same_quality(service_url: str) -> None:
    photo = photo_bytes("woman.jpg")
    (ours,) = v1_rate(service_url, [photo])["results"]
    v1 = httpx.post(
        f"{service_url}/v1/models/man:predict", json={"instances": [b64(photo)]}, timeout=60
    ).json()["predictions"][0]
    assert v1["quality"] == ours["quality"] and ours["quality"] is not None


# -- every face (faces=all) -------------------------------------------------------------------


def inside(box: list[float], region: tuple[int, int, int, int]) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return region[0] <= cx <= region[2] and region[1] <= cy <= region[3]


def crop_score(model_dir: Path, image: Image.Image, region: list[float]) -> float | None:
    """That face's crop (the card's crop of its person box) sent to the model alone."""
    model = RatingModel(model_dir, engine="onnxruntime", threads=1, stored_crops=True)
    crop = encode(model.spec.crop(image, region), "PNG")
    (rated,) = model.rate_prepared([model.prepare_crop(crop)])
    return rated.score


def test_a_group_photo_lists_every_face_largest_first_each_scored_as_its_crop_alone(
    service_url: str, model_dirs: dict[str, Path]
) -> None:
    photo, regions = group_photo()
    (result,) = v1_rate(service_url, [encode(photo, "PNG")], faces="all")["results"]
    assert result["error"]["code"] == "several_faces" and result["score"] is None
    faces = result["faces"]
    assert len(faces) == 4, [f["box"] for f in faces]
    for face, region in zip(faces, regions, strict=True):  # the documented order: largest first
        assert inside(face["box"], region), (face["box"], region)
        assert len(face["landmarks"]) == 5 and face["confidence"] > 0.66
        assert face["main"] is False  # several faces: the one-person rule scores none
    sizes = [math.dist(f["box"][:2], f["box"][2:]) for f in faces]
    assert sizes == sorted(sizes, reverse=True)
    *scored, tiny = faces
    assert tiny["error"]["code"] == "face_too_small" and tiny["score"] is None
    assert tiny["region"] is None and tiny["box"] is not None
    scores = []
    for face in scored:
        assert face["error"] is None and face["quality"] is not None
        assert face["score"] == crop_score(model_dirs["man"], photo, face["region"])
        scores.append(face["score"])
    assert len(set(scores)) > 1  # the faces' crops differ, and so do their scores


def test_one_person_with_faces_all_has_one_main_face_scored_like_the_photo(
    service_url: str,
) -> None:
    plain, every = (
        v1_rate(service_url, [photo_bytes("man.png")], **fields)["results"][0]
        for fields in ({}, {"faces": "all"})
    )
    assert plain["faces"] is None
    (face,) = every.pop("faces")
    assert every == {k: v for k, v in plain.items() if k != "faces"}
    assert face["main"] is True and face["score"] == plain["score"]
    assert face["region"] == plain["box"] and face["quality"] == plain["quality"]


def test_faces_all_works_from_a_multipart_form_too(service_url: str) -> None:
    parts = [("files", ("a.png", photo_bytes("man.png"), "image/png"))]
    answer = httpx.post(
        f"{service_url}/v1/rate", files=parts, data={"gender": "m", "faces": "all"}, timeout=60
    )
    assert answer.status_code == 200 and len(answer.json()["results"][0]["faces"]) == 1
    wrong = httpx.post(
        f"{service_url}/v1/rate", files=parts, data={"gender": "m", "faces": "some"}, timeout=60
    )
    assert wrong.status_code == 422 and "faces" in wrong.json()["detail"]
