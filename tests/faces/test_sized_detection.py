"""Detection sized to the product's rule: the fast path against the full-resolution reference."""

from __future__ import annotations

import pytest

from prettymeter.faces import find_person
from prettymeter.faces.mtcnn import (
    WORKING_FACE_PX,
    FaceDetector,
    auto_min_face_size,
    pyramid_scales,
)
from tests.support.faces import fit, landscape, load, on_canvas, parity_photos

# MTCNN's own boxes move by up to ~4 % of the face's side when the same photo is resized
# (measured: man.png at 400-2000 px, reference path); the fast path must stay within that.
BOX_TOLERANCE = 0.05

PHOTOS = parity_photos(load("man.png"), load("woman.jpg"))


@pytest.fixture(scope="module")
def fast() -> FaceDetector:
    return FaceDetector(threads=1)


@pytest.fixture(scope="module")
def reference() -> FaceDetector:
    return FaceDetector.reference(threads=1)


@pytest.mark.parametrize("name", list(PHOTOS))
def test_the_fast_path_finds_the_same_people_as_the_full_resolution_reference(
    name, fast, reference
):
    photo = PHOTOS[name]
    want = find_person(photo, reference)
    got = find_person(photo, fast)
    assert (got.main_faces, got.filter_reason) == (want.main_faces, want.filter_reason)
    if want.face_box is None:
        assert got.face_box is None
        return
    assert got.face_box is not None and got.confidence is not None
    x1, y1, x2, y2 = want.face_box
    side = min(x2 - x1, y2 - y1)
    for a, b in zip(got.face_box, want.face_box, strict=True):
        assert abs(a - b) <= BOX_TOLERANCE * side, (got.face_box, want.face_box)
    assert got.confidence == pytest.approx(want.confidence, abs=0.02)


def test_a_portrait_runs_only_the_coarse_pyramid_levels_in_one_pass(fast, reference):
    photo = fit(load("man.png"), 512)
    quick, full = fast.trace(photo), reference.trace(photo)
    assert len(quick.passes) == 1 and len(full.passes) == 1
    assert quick.levels < full.levels
    # the levels left out are the big ones: P-Net sees a small share of the pixels
    assert quick.pnet_pixels < 0.2 * full.pnet_pixels
    assert quick.passes[0].candidates < 0.5 * full.passes[0].candidates


def test_a_large_photo_is_detected_on_a_small_working_copy(fast, reference):
    photo = fit(load("man.png"), 2000)
    quick = fast.trace(photo)
    assert reference.trace(photo).passes[0].working_size == photo.size
    (single,) = quick.passes
    assert max(single.working_size) <= 700
    assert single.smallest_face / (photo.width / single.working_size[0]) >= WORKING_FACE_PX
    (face,) = quick.faces
    assert face.box[2] - face.box[0] > 400  # boxes come back in the photo's pixels


def test_without_a_big_face_the_search_goes_down_to_the_smallest_face_that_matters(fast):
    # a small photo: both passes share one working copy, so no level runs twice
    photo = landscape()
    found = fast.trace(photo)
    smallest = auto_min_face_size(*photo.size)
    assert [p.working_size for p in found.passes] == [photo.size, photo.size]
    assert found.passes[-1].smallest_face == pytest.approx(smallest)
    assert found.levels == len(pyramid_scales(min(photo.size), smallest))
    # a large one: the second pass needs a finer copy and runs the whole pyramid on it
    photo = on_canvas((1200, 1200), [(load("woman.jpg"), 0.2, 0.5, 0.5)])
    found = fast.trace(photo)
    smallest = auto_min_face_size(*photo.size)
    assert len(found.passes) == 2 and found.passes[-1].working_size == photo.size
    assert found.passes[-1].smallest_face == pytest.approx(smallest)
    assert len(found.passes[-1].levels) == len(pyramid_scales(min(photo.size), smallest))
    assert find_person(photo, fast).filter_reason == "face_too_small"


def test_a_second_pass_on_the_same_copy_redoes_no_level_and_reuses_the_nets_answers(
    fast, reference
):
    photo = on_canvas((512, 512), [(load("man.png"), 0.6, 0.5, 0.5)])  # face ~20 % of the side
    quick, full = fast.trace(photo), reference.trace(photo)
    first, second = quick.passes
    assert first.working_size == second.working_size == photo.size
    assert quick.levels < full.levels
    # R- and O-Net ran only on the boxes the first pass had not seen
    assert second.crops_run < second.candidates + second.refined
    assert first.crops_run + second.crops_run < full.passes[0].crops_run
    (got,), (want,) = quick.faces, full.faces
    assert got.box == pytest.approx(want.box, abs=1e-3)


def test_a_second_face_the_first_pass_missed_is_found_by_the_second(fast, reference):
    man, woman = load("man.png"), load("woman.jpg")
    # the main face is ~7 % of the shorter side, the second's diagonal 58 % of it
    group = on_canvas((1800, 1200), [(man, 0.3, 0.1, 0.5), (woman, 0.125, 0.9, 0.3)])
    assert find_person(group, reference).filter_reason == "several_faces"
    found = fast.trace(group)
    assert found.passes[0].faces == 1, "the first pass should miss the second face here"
    assert len(found.passes) == 2
    person = find_person(group, fast)
    assert person.filter_reason == "several_faces" and person.main_faces == 2
