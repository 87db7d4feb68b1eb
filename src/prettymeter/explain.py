"""Why this score: how much each region of a face moves it, found by occluding the region.

One scored input (a face's crop, or the photo's main person) and its 5 landmarks give a set of
variants: the original and each face region filled with the card's mean colour (zeros after
the card's normalization, so the model sees a flat, neutral patch). All variants go to the
engine in one batch; a region's `delta` is score(original) − score(occluded) on the 0-10 scale.
The heat map paints each region's delta over its pixels, averaged into MAP_CELLS × MAP_CELLS
cells; with `grid` > 0 it is instead made of grid × grid occluded cells, one more input each.
A model whose graph has a label map (backbones that pool their last feature map straight into
the head) is explained from that map instead, at the cost of one input (`from_label_map`).
It shows what the model reacts to, not what is beautiful. No gradients are needed, so both work
on every engine (docs/decisions.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

NOTE = "what the model reacts to, not what is beautiful"
# The regions alone are 7 inputs per scored face; an occlusion grid adds its square (a 4×4 grid
# makes 23), and on a CPU a batch costs nearly its size in single inputs (docs/decisions.md).
DEFAULT_GRID = 0
MAP_CELLS = 16
# A label map coarser than this (a small input: 2 × 2 cells at 64 px) cannot tell the eyes from
# the mouth; such a model is explained by occlusion.
MIN_MAP_CELLS = 4
REGIONS = (
    "eyes",
    "brows",
    "nose",
    "mouth",
    "forehead_and_hair",
    "cheeks_and_jaw",
    "background",
)
Points = Sequence[Sequence[float]]
LabelsOf = Callable[[np.ndarray], np.ndarray]


def to_input(
    points: Points, region: Sequence[float], image_size: Sequence[int], size: int
) -> np.ndarray:
    """Landmarks in the photo's pixels → the model input's pixels, as the card's crop maps
    them: the region clipped to the photo, padded to a centred square, resized to `size`."""
    width, height = image_size
    left, top = max(0.0, region[0]), max(0.0, region[1])
    right, bottom = min(float(width), region[2]), min(float(height), region[3])
    w, h = right - left, bottom - top
    side = max(w, h, 1e-6)
    offset = np.array([left - (side - w) / 2, top - (side - h) / 2])
    return (np.asarray(points, dtype=np.float64) - offset) * (size / side)


def region_masks(points: np.ndarray, size: int) -> dict[str, np.ndarray]:
    """Boolean (size, size) masks of the face regions, in a frame set by the landmarks (left
    eye, right eye, nose, left and right mouth corner, in input pixels): the origin between
    the eyes, u along the eye line (so a tilted head tilts the regions), v towards the mouth,
    both in units of the inter-eye distance. The regions do not overlap: each pixel belongs
    to the first region in REGIONS that claims it; background is everything outside the head
    (an ellipse around face and hair)."""
    left_eye, right_eye, nose, mouth_l, mouth_r = points[:5]
    origin = (left_eye + right_eye) / 2
    axis = right_eye - left_eye
    distance = max(float(np.hypot(*axis)), 1.0)
    u_axis = axis / distance
    v_axis = np.array([-u_axis[1], u_axis[0]])
    ys, xs = np.mgrid[0:size, 0:size] + 0.5  # pixel centres
    dx, dy = xs - origin[0], ys - origin[1]
    u = (dx * u_axis[0] + dy * u_axis[1]) / distance
    v = (dx * v_axis[0] + dy * v_axis[1]) / distance

    def frame(p: np.ndarray) -> tuple[float, float]:
        d = p - origin
        return float(d @ u_axis) / distance, float(d @ v_axis) / distance

    nose_u, nose_v = frame(nose)
    (mouth_lu, mouth_lv), (mouth_ru, mouth_rv) = frame(mouth_l), frame(mouth_r)
    mouth_v = (mouth_lv + mouth_rv) / 2
    near_eye = (np.abs(np.abs(u) - 0.5) < 0.3) & (np.abs(v) < 0.2)
    brows = (np.abs(np.abs(u) - 0.5) < 0.35) & (v >= -0.5) & (v < -0.2)
    nose_mask = (np.abs(u - nose_u) < 0.25) & (v >= 0.2) & (v < nose_v + 0.15)
    low, high = min(mouth_lu, mouth_ru) - 0.15, max(mouth_lu, mouth_ru) + 0.15
    mouth = (u > low) & (u < high) & (np.abs(v - mouth_v) < 0.25)
    # The head: wide enough for the hair at the sides, from above the hairline to the chin.
    centre_v, half_v = (mouth_v - 1.7) / 2 + 0.25, (mouth_v + 1.7) / 2 + 0.45
    head = (u / 1.35) ** 2 + ((v - centre_v) / half_v) ** 2 <= 1.0
    claims = {
        "eyes": near_eye,
        "brows": brows,
        "nose": nose_mask,
        "mouth": mouth,
        "forehead_and_hair": head & (v < -0.2),
        "cheeks_and_jaw": head,
        "background": ~head,
    }
    masks: dict[str, np.ndarray] = {}
    taken = np.zeros((size, size), dtype=bool)
    for name in REGIONS:
        masks[name] = claims[name] & ~taken
        taken |= masks[name]
    return masks


def grid_masks(size: int, grid: int) -> list[np.ndarray]:
    """The grid's cells, row by row, as boolean (size, size) masks."""
    edges = np.linspace(0, size, grid + 1).round().astype(int)
    cells = []
    for row in range(grid):
        for col in range(grid):
            mask = np.zeros((size, size), dtype=bool)
            mask[edges[row] : edges[row + 1], edges[col] : edges[col + 1]] = True
            cells.append(mask)
    return cells


def occluded(array: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The model input with the masked pixels set to the card's mean colour (zero)."""
    variant = array.copy()
    variant[:, mask] = 0.0
    return variant


def variants(
    array: np.ndarray, points: np.ndarray, grid: int = DEFAULT_GRID, original: bool = True
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The batch one explanation scores: the original (unless its label is known), each region
    occluded (REGIONS order), then each grid cell occluded (row by row); and the region masks."""
    size = array.shape[-1]
    masks = region_masks(points, size)
    batch = [array] if original else []
    batch += [occluded(array, masks[n]) for n in REGIONS]
    batch += [occluded(array, m) for m in grid_masks(size, grid)]
    return np.stack(batch), masks


def painted(masks: dict[str, np.ndarray], deltas: Sequence[float], cells: int) -> np.ndarray:
    """Each pixel takes its region's delta; the (size, size) picture averaged into cells × cells
    blocks (a cell on a border mixes its regions by area)."""
    size = next(iter(masks.values())).shape[0]
    picture = np.zeros((size, size))
    for name, delta in zip(REGIONS, deltas, strict=True):
        picture[masks[name]] = delta
    return blocks(picture, cells)


def blocks(picture: np.ndarray, cells: int) -> np.ndarray:
    """A square picture averaged into cells × cells blocks."""
    edges = np.linspace(0, picture.shape[0], cells + 1).round().astype(int)
    rows = np.add.reduceat(picture, edges[:-1], axis=0) / np.diff(edges)[:, None]
    return np.add.reduceat(rows, edges[:-1], axis=1) / np.diff(edges)[None, :]


def from_label_map(label_map: np.ndarray, points_in_input: np.ndarray, size: int) -> dict[str, Any]:
    """One input's explanation from its label map (the label at each cell of the last feature
    map, whose mean is the label: Scorer.run_map), with no further engine call. Each pixel
    takes 10 × (its cell's label − the mean): how far the model scores that spot above or below
    the input as a whole. A region's delta is its pixels' share of that, in score points:
    what the region adds to the score against an average spot (the deltas sum to zero)."""
    cells = np.asarray(label_map, dtype=np.float64)
    at = [np.minimum(np.arange(size) * n // size, n - 1) for n in cells.shape]
    picture = 10.0 * (cells - cells.mean())[np.ix_(at[0], at[1])]
    masks = region_masks(points_in_input, size)
    deltas = [float(picture[masks[n]].sum()) / size**2 for n in REGIONS]
    return _answer(deltas, blocks(picture, MAP_CELLS), MAP_CELLS, "label_map")


def _answer(deltas: Sequence[float], cells: np.ndarray, side: int, source: str) -> dict[str, Any]:
    heatmap = [[round(float(c), 3) for c in row] for row in np.reshape(cells, (side, side))]
    return {
        "regions": [
            {"name": n, "delta": round(float(d), 3)} for n, d in zip(REGIONS, deltas, strict=True)
        ],
        "heatmap": heatmap,
        "grid": side,
        "heatmap_from": source,
        "note": NOTE,
    }


def explain(
    array: np.ndarray,
    points_in_input: np.ndarray,
    labels_of: LabelsOf,
    grid: int = DEFAULT_GRID,
    label: float | None = None,
) -> dict[str, Any]:
    """One input's explanation: `labels_of` runs the engine once on the whole batch of
    variants; `label`, the input's own label when it was just scored, keeps the original out of
    that batch. Deltas and heat map cells are score(original) − score(occluded), 0-10 scale."""
    batch, masks = variants(array, points_in_input, grid, original=label is None)
    labels = np.asarray(labels_of(batch), dtype=np.float64) * 10.0
    if label is not None:
        labels = np.concatenate([[10.0 * label], labels])
    base = labels[0]
    deltas = base - labels[1 : 1 + len(REGIONS)]
    if grid > 0:
        cells, side, source = base - labels[1 + len(REGIONS) :], grid, "occluded_cells"
    else:
        cells, side, source = painted(masks, deltas, MAP_CELLS), MAP_CELLS, "regions"
    return _answer(deltas, cells, side, source)
