"""Exact "area" resamples from one summed-area table: the pyramid levels and the nets' crops.

Every output cell is the mean of the source pixels it covers, with torch's adaptive-average
bounds, so the levels and crops match facenet-pytorch's `interpolate(mode="area")`; a whole
level or every candidate crop is one numpy gather of four look-ups per cell.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def summed_area_table(pixels: np.ndarray) -> np.ndarray:
    """(3, H+1, W+1) integral image, channels first: any rectangle's sum in four look-ups."""
    height, width = pixels.shape[:2]
    # int32 holds the sum of every pixel up to ~8.4 megapixels; bigger photos need int64.
    dtype = np.int32 if height * width * 255 < 2**31 else np.int64
    table = np.zeros((3, height + 1, width + 1), dtype=dtype)
    table[:, 1:, 1:] = pixels.transpose(2, 0, 1)
    table.cumsum(axis=1, out=table)
    table.cumsum(axis=2, out=table)
    return table


def _area_bounds(start: Any, length: Any, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Source index ranges [lo, hi) of `size` output cells over `length` pixels from `start`.

    The same bounds as torch's adaptive average pooling (interpolate mode="area"):
    lo = floor(i·L/size), hi = ceil((i+1)·L/size).
    """
    i = np.arange(size, dtype=np.int64)
    length = np.asarray(length, dtype=np.int64)[..., None]
    start = np.asarray(start, dtype=np.int64)[..., None]
    lo = (i * length) // size
    hi = ((i + 1) * length + size - 1) // size
    return start + lo, start + hi


def _to_net_input(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Pixel sums over cells → mean pixel values in MTCNN's scaling ((v - 127.5) / 128)."""
    values = sums.astype(np.float32)
    values *= (0.0078125 / counts).astype(np.float32)
    values -= np.float32(127.5 * 0.0078125)
    return values


def _gather_sums(
    table: np.ndarray, row_lo: np.ndarray, row_hi: np.ndarray, col_lo: Any, col_hi: Any
) -> np.ndarray:
    """Sums over the cells [row_lo, row_hi) × [col_lo, col_hi): four flat look-ups per cell.

    Index arrays broadcast against each other; the result is (3, *broadcast shape).
    """
    stride = table.shape[2]
    flat = table.reshape(3, -1)
    top, bottom = row_lo * stride, row_hi * stride
    return (
        np.take(flat, bottom + col_hi, axis=1)
        - np.take(flat, top + col_hi, axis=1)
        - np.take(flat, bottom + col_lo, axis=1)
        + np.take(flat, top + col_lo, axis=1)
    )


def area_resize(table: np.ndarray, height: int, width: int, out_h: int, out_w: int) -> np.ndarray:
    """The whole photo area-resampled to (3, out_h, out_w), scaled for the nets."""
    row_lo, row_hi = _area_bounds(0, height, out_h)
    col_lo, col_hi = _area_bounds(0, width, out_w)
    sums = _gather_sums(table, row_lo[:, None], row_hi[:, None], col_lo[None], col_hi[None])
    counts = (row_hi - row_lo)[:, None] * (col_hi - col_lo)[None, :]
    return _to_net_input(sums, counts)


def _clipped(
    boxes: np.ndarray, height: int, width: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Boxes clipped to the photo the way facenet-pytorch's `pad` does: x, y, end x, end y."""
    whole = np.trunc(boxes[:, :4]).astype(np.int64)
    x = np.maximum(whole[:, 0], 1) - 1
    y = np.maximum(whole[:, 1], 1) - 1
    return x, y, np.minimum(whole[:, 2], width), np.minimum(whole[:, 3], height)


def has_pixels(boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    """Which boxes keep at least one pixel once clipped to the photo."""
    x, y, ex, ey = _clipped(boxes, height, width)
    return (ey > y) & (ex > x)


def crop_boxes(
    table: np.ndarray, boxes: np.ndarray, height: int, width: int, size: int
) -> np.ndarray:
    """Every box's region area-resampled to size × size in one gather: (N, 3, size, size).

    Boxes are clipped to the photo the way facenet-pytorch's `pad` does; each must keep a
    pixel (`has_pixels`).
    """
    x, y, ex, ey = _clipped(boxes, height, width)
    row_lo, row_hi = _area_bounds(y, ey - y, size)  # (N, size)
    col_lo, col_hi = _area_bounds(x, ex - x, size)
    sums = _gather_sums(
        table, row_lo[:, :, None], row_hi[:, :, None], col_lo[:, None, :], col_hi[:, None, :]
    )  # (3, N, size, size)
    counts = (row_hi - row_lo)[:, :, None] * (col_hi - col_lo)[:, None, :]
    crops = _to_net_input(sums, counts[None])
    return np.ascontiguousarray(crops.transpose(1, 0, 2, 3))
