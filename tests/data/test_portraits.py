"""The demo's photos (data/portraits.py): real faces the detector finds, a rate the face carries."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from prettymeter import imaging
from prettymeter.data.portraits import (
    Look,
    Scenes,
    generate_portraits,
    load_portraits,
    load_textures,
    paint,
    true_rate,
)
from prettymeter.faces import FaceDetector, find_person
from prettymeter.labels import parse_name
from tests.support.pipeline import tree_hashes


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector(threads=1)


@pytest.fixture(scope="module")
def scenes(detector: FaceDetector) -> Scenes:
    return Scenes(load_portraits(detector), load_textures(), 192)


def test_each_installed_portrait_gives_one_face_with_its_landmarks_and_a_mirror(
    detector: FaceDetector,
) -> None:
    portraits = load_portraits(detector)
    names = Counter(p.name.removesuffix(" (mirrored)") for p in portraits)
    assert names["grace_hopper.jpg"] == 2  # matplotlib comes with the [data] extra
    if importlib.util.find_spec("skimage") is not None:
        assert names["astronaut.png"] == 2 and names["camera.png"] == 2
    for portrait in portraits:
        x1, y1, x2, y2 = portrait.face
        assert 0 <= x1 < x2 <= portrait.image.width and 0 <= y1 < y2 <= portrait.image.height
        assert len(portrait.landmarks) == 5
        for x, y in portrait.landmarks:
            assert x1 <= x <= x2 and y1 <= y <= y2
        (ex_l, _), (ex_r, _) = portrait.landmarks[:2]
        assert ex_l < ex_r  # image-left eye first, mirrored ones too


def test_the_look_is_painted_where_the_landmarks_say_and_sets_the_rate(
    detector: FaceDetector,
) -> None:
    portrait = next(p for p in load_portraits(detector) if p.name == "grace_hopper.jpg")
    plain, _ = paint(portrait, Look(0.5, 0.0, 0.0), 1.0)
    red_lips, _ = paint(portrait, Look(0.5, 1.0, 0.0), 1.0)
    shadowed, _ = paint(portrait, Look(0.5, 0.0, 1.0), 1.0)
    warm, _ = paint(portrait, Look(1.0, 0.0, 0.0), 1.0)
    cool, _ = paint(portrait, Look(0.0, 0.0, 0.0), 1.0)

    def around(image: Image.Image, point: tuple[float, float]) -> np.ndarray:
        x, y = round(point[0]), round(point[1])
        return np.asarray(image, dtype=np.float32)[y - 2 : y + 3, x - 2 : x + 3].mean(axis=(0, 1))

    eye_l, _, nose, mouth_l, mouth_r = portrait.landmarks
    mouth = ((mouth_l[0] + mouth_r[0]) / 2, (mouth_l[1] + mouth_r[1]) / 2)
    r, g, _ = around(red_lips, mouth) - around(plain, mouth)
    assert r - g > 40  # the lips turned red
    assert np.abs(around(shadowed, eye_l) - around(plain, eye_l)).sum() > 60
    redness = around(warm, nose) - around(cool, nose)
    assert redness[0] - redness[2] > 40
    corner = (3.0, 3.0)  # far from the face: untouched by any look
    assert np.array_equal(around(red_lips, corner), around(plain, corner))
    assert true_rate(Look(0.0, 0.0, 0.0)) == pytest.approx(1.0)
    assert true_rate(Look(1.0, 1.0, 1.0)) == pytest.approx(9.0)
    assert true_rate(Look(0.5, 1.0, 0.0)) > true_rate(Look(0.5, 0.0, 0.0))


def test_the_same_seed_gives_the_same_photos_and_every_name_is_in_the_dataset_format(
    tmp_path: Path,
) -> None:
    summary = generate_portraits(tmp_path / "a", 12, seed=3, size=128)
    generate_portraits(tmp_path / "b", 12, seed=3, size=128)
    generate_portraits(tmp_path / "c", 12, seed=4, size=128)
    assert tree_hashes(tmp_path / "a") == tree_hashes(tmp_path / "b")
    assert tree_hashes(tmp_path / "a") != tree_hashes(tmp_path / "c")
    files = sorted((tmp_path / "a").iterdir())
    assert len(files) == 12 and summary["images"] == 12
    assert all(0.0 <= parse_name(p.name).rate <= 10.0 for p in files)
    assert "grace_hopper.jpg" in summary["portraits"]
    assert max(Image.open(p).size for p in files) == (128, 128)  # near copies are smaller


def test_the_detector_finds_the_one_person_and_filters_two_large_ones(
    scenes: Scenes, detector: FaceDetector
) -> None:
    rng = np.random.default_rng(11)
    made = [scenes(rng) for _ in range(80)]
    found = [(m.people, find_person(m.image, detector).filter_reason) for m in made]
    alone = [reason for people, reason in found if people == 1]
    pairs = Counter(reason for people, reason in found if people == 2)
    print("one person:", Counter(alone), "two people:", pairs)
    assert sum(reason is None for reason in alone) >= 0.9 * len(alone)
    assert pairs["several_faces"] >= 1  # a second person as large: two main faces
    assert pairs[None] >= 1  # a small one in the back: still one main face


def test_the_rate_can_be_learned_from_the_person_crops_alone(
    scenes: Scenes, detector: FaceDetector
) -> None:
    """A ridge fit on the detect stage's 16 × 16 px person crops predicts held-out rates: the
    look survives the crop (a drawn signal outside the crop, or none, would give PC ≈ 0)."""
    rng = np.random.default_rng(5)
    pixels, rates = [], []
    for _ in range(200):
        made = scenes(rng)
        person = find_person(made.image, detector)
        if person.person_box is None:
            continue
        crop = imaging.square_crop(made.image, person.person_box, 16)
        pixels.append(np.asarray(crop, dtype=np.float64).ravel() / 255.0)
        rates.append(made.rate)
    x, y = np.stack(pixels), np.array(rates)
    held = np.arange(len(y)) % 4 == 0
    mean_x, mean_y = x[~held].mean(axis=0), y[~held].mean()
    a = x[~held] - mean_x
    weights = np.linalg.solve(a.T @ a + 10.0 * np.eye(a.shape[1]), a.T @ (y[~held] - mean_y))
    predicted = (x[held] - mean_x) @ weights + mean_y
    pc = float(np.corrcoef(predicted, y[held])[0, 1])
    print(f"held-out PC of a ridge on 16 px crops: {pc:.2f} ({held.sum()} rows)")
    assert pc > 0.5


def test_the_ready_group_photo_has_every_portrait_as_a_face_big_enough_to_score(
    detector: FaceDetector,
) -> None:
    from prettymeter.data.portraits import group_photo
    from prettymeter.faces.person import every_person

    portraits = load_portraits(detector)
    photo = group_photo(portraits)
    person, faces = every_person(detector.detect(photo), photo.width, photo.height, 10)
    assert len(faces) == len(portraits) // 2  # each portrait once (the mirrors are left out)
    assert all(face.person_box is not None for face in faces)
    assert person.filter_reason == ("several_faces" if len(faces) > 1 else None)


def test_the_cli_writes_the_faces_recipe_and_names_a_wrong_recipe_in_one_line(
    tmp_path: Path,
) -> None:
    import subprocess
    import sys

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "prettymeter", "synth", "--n", "6", "--size", "128"]
        return subprocess.run(
            [*command, *args], capture_output=True, text=True, check=False, cwd=tmp_path
        )

    done = run("--out", "faces", "--recipe", "faces")
    assert done.returncode == 0, done.stderr
    assert "grace_hopper.jpg" in done.stdout  # the summary names the portraits it used
    assert len(list((tmp_path / "faces").iterdir())) == 6
    wrong = run("--out", "other", "--recipe", "cartoon")
    assert wrong.returncode == 1
    assert wrong.stderr.strip() == "error: unknown --recipe 'cartoon'; use drawn or faces"
    assert not (tmp_path / "other").exists()
