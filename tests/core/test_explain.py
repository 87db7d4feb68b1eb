"""Why this score (prettymeter.explain) on a real exported person-crop model: each region's
delta is the score with that region occluded, recomputed alone; the regions sit where the
landmarks say; the variants of one face go to the engine in one batch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from prettymeter.explain import (
    MAP_CELLS,
    NOTE,
    REGIONS,
    explain,
    grid_masks,
    occluded,
    region_masks,
    to_input,
)
from prettymeter.rating_model import RatingModel
from tests.support.engine_models import engine_batches
from tests.support.paths import DATA

SIZE = 64
# An upright face in a 64 px input: eyes, nose tip, mouth corners.
FACE = np.array([[24.0, 26.0], [40.0, 26.0], [32.0, 34.0], [26.0, 42.0], [38.0, 42.0]])


def covers(mask: np.ndarray, point: np.ndarray) -> bool:
    return bool(mask[int(point[1]), int(point[0])])


def rotated(points: np.ndarray, degrees: float) -> np.ndarray:
    angle = np.radians(degrees)
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    centre = np.array([SIZE / 2, SIZE / 2])
    return (points - centre) @ turn.T + centre


@pytest.mark.parametrize("degrees", [0.0, 25.0, -25.0])
def test_the_regions_fall_where_the_landmarks_say(degrees: float) -> None:
    points = rotated(FACE, degrees)
    masks = region_masks(points, SIZE)
    assert covers(masks["eyes"], points[0]) and covers(masks["eyes"], points[1])
    assert covers(masks["nose"], points[2])
    assert covers(masks["mouth"], points[3]) and covers(masks["mouth"], points[4])
    brow = points[0] + (points[0] - points[1]) @ np.array([[0, 1], [-1, 0]]) * 0.3  # above
    assert covers(masks["brows"], brow)
    forehead = (points[0] + points[1]) / 2 + (points[0] - points[1]) @ np.array(
        [[0, 1], [-1, 0]]
    ) * 1.0
    assert covers(masks["forehead_and_hair"], forehead)
    assert masks["cheeks_and_jaw"].any() and not covers(masks["background"], points[2])
    assert all(masks["background"][y, x] for y, x in ((0, 0), (0, 63), (63, 0), (63, 63)))
    total = sum(m.astype(int) for m in masks.values())
    assert (total == 1).all()  # every pixel in exactly one region


def test_landmarks_map_into_the_crop_as_the_card_pads_and_resizes() -> None:
    # a 100×50 region (wider than tall) pads to a 100 px square centred: 25 px above
    points = to_input([(10.0, 0.0), (60.0, 50.0)], (0, 0, 100, 50), (200, 200), 50)
    assert np.allclose(points, [[5.0, 12.5], [30.0, 37.5]])


def test_the_grid_cells_tile_the_input() -> None:
    cells = grid_masks(SIZE, 4)
    assert len(cells) == 16 and (sum(c.astype(int) for c in cells) == 1).all()


@pytest.fixture(scope="module")
def model(model_dirs: dict[str, Path]) -> RatingModel:
    return RatingModel(model_dirs["man"], engine="onnxruntime", threads=1)


def test_each_delta_equals_the_score_recomputed_with_that_region_occluded(
    model: RatingModel,
) -> None:
    rated = model.rate([DATA / "man.png"], explain=True)[0]
    explanation = rated.explanation
    assert explanation is not None and explanation["note"] == NOTE
    prepared = model.prepare(DATA / "man.png")
    array, size = prepared.array, prepared.image_size
    assert array is not None and size is not None and prepared.landmarks is not None
    points = to_input(prepared.landmarks, prepared.region, size, array.shape[-1])
    masks = region_masks(points, array.shape[-1])
    (base, _), *_ = model.score_arrays([array])
    deltas = {r["name"]: r["delta"] for r in explanation["regions"]}
    assert list(deltas) == list(REGIONS)
    for name in REGIONS:
        assert masks[name].any(), name
        (label, _), *_ = model.score_arrays([occluded(array, masks[name])])
        assert deltas[name] == pytest.approx(10 * (base - label), abs=2e-3), name
    assert any(abs(d) > 1e-3 for d in deltas.values())  # the model reacts to something
    # the heat map paints each region's delta over its pixels, averaged into cells
    assert explanation["heatmap_from"] == "regions" and explanation["grid"] == MAP_CELLS
    heatmap = np.array(explanation["heatmap"])
    assert heatmap.shape == (MAP_CELLS, MAP_CELLS)
    assert heatmap[0, 0] == pytest.approx(deltas["background"], abs=2e-3)  # a corner: background
    by_area = sum(deltas[name] * masks[name].mean() for name in REGIONS)
    assert heatmap.mean() == pytest.approx(by_area, abs=2e-3)
    assert heatmap.std() > 0  # not one flat colour


def test_an_occlusion_grid_gives_each_cell_its_own_occluded_score(model: RatingModel) -> None:
    prepared = model.prepare(DATA / "man.png")
    array, size = prepared.array, prepared.image_size
    assert array is not None and size is not None and prepared.landmarks is not None
    points = to_input(prepared.landmarks, prepared.region, size, array.shape[-1])
    labels_of = lambda batch: model.scorer.run(batch)[0]  # noqa: E731
    explanation = explain(array, points, labels_of, grid=4)
    assert explanation["heatmap_from"] == "occluded_cells" and explanation["grid"] == 4
    heatmap = np.array(explanation["heatmap"])
    (base, _), *_ = model.score_arrays([array])
    cell = grid_masks(array.shape[-1], 4)[4 + 1]  # row 1, column 1
    (label, _), *_ = model.score_arrays([occluded(array, cell)])
    assert heatmap[1, 1] == pytest.approx(10 * (base - label), abs=2e-3)


def test_one_engine_call_per_face_and_none_without_explain(
    model: RatingModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches = engine_batches(model, monkeypatch)
    plain = model.rate([DATA / "man.png"], faces="all")[0]
    assert plain.explanation is None and plain.faces is not None
    assert all(f.rating.explanation is None for f in plain.faces)
    batches.clear()
    rated = model.rate([DATA / "man.png"], faces="all", explain=True)[0]
    variants = len(REGIONS)  # the original's label is the rating's
    # the photo (its one face shares its input), then one call for the photo and that face
    assert batches == [1, variants]
    assert rated.faces is not None and rated.faces[0].rating.explanation is not None
    assert rated.faces[0].rating.explanation["regions"] == rated.explanation["regions"]
