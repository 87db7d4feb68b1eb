"""MTCNN's box math on whole arrays: P-Net's score map to boxes, regression, squaring, NMS.

Each step follows facenet-pytorch's (`generateBoundingBox`, `bbreg`, `rerec`, `batched_nms`)
so the boxes match it; non-maximum suppression works on whole IoU matrices instead of per-box
Python loops (box by box above NMS_MATRIX_LIMIT boxes, to bound memory).
"""

from __future__ import annotations

import numpy as np

NMS_MATRIX_LIMIT = 2048  # above this many boxes NMS goes box by box to bound memory


def boxes_from_pnet(
    reg: np.ndarray, prob: np.ndarray, scale: float, threshold: float
) -> np.ndarray:
    """P-Net's score map → boxes in photo pixels (N, 9: x1, y1, x2, y2, score, 4 regressions)."""
    ys, xs = np.nonzero(prob >= threshold)
    if len(ys) == 0:
        return np.zeros((0, 9))
    cells = np.stack([xs, ys], axis=1).astype(np.float32)
    scale32 = np.float32(scale)
    top_left = np.floor((2 * cells + 1) / scale32)
    bottom_right = np.floor((2 * cells + 12) / scale32)
    return np.concatenate(
        [top_left, bottom_right, prob[ys, xs][:, None], reg[:, ys, xs].T], axis=1
    ).astype(np.float64)


def square(boxes: np.ndarray) -> np.ndarray:
    """Boxes made square around their centre (facenet-pytorch's rerec)."""
    boxes = boxes.copy()
    heights = boxes[:, 3] - boxes[:, 1]
    widths = boxes[:, 2] - boxes[:, 0]
    side = np.maximum(widths, heights)
    boxes[:, 0] += widths * 0.5 - side * 0.5
    boxes[:, 1] += heights * 0.5 - side * 0.5
    boxes[:, 2] = boxes[:, 0] + side
    boxes[:, 3] = boxes[:, 1] + side
    return boxes


def regress(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    """Apply the nets' box regression (facenet-pytorch's bbreg)."""
    boxes = boxes.astype(np.float64)
    widths = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
    heights = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
    sizes = np.concatenate([widths, heights, widths, heights], axis=1)
    boxes[:, :4] = boxes[:, :4] + reg[:, :4] * sizes
    return boxes


def nms(
    boxes: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    mode: str = "union",
    plus_one: bool = False,
) -> np.ndarray:
    """Greedy non-maximum suppression; indices of the kept boxes, best first.

    "union" without +1 is torchvision's `nms`; "min" with +1 is facenet-pytorch's last step.
    """
    order = np.argsort(-scores, kind="stable")
    if len(order) > NMS_MATRIX_LIMIT:
        return _nms_iterative(boxes, order, threshold, mode, plus_one)
    b = boxes[order]
    extra = 1.0 if plus_one else 0.0
    area = (b[:, 2] - b[:, 0] + extra) * (b[:, 3] - b[:, 1] + extra)
    inter_w = np.minimum(b[:, None, 2], b[None, :, 2]) - np.maximum(b[:, None, 0], b[None, :, 0])
    inter_h = np.minimum(b[:, None, 3], b[None, :, 3]) - np.maximum(b[:, None, 1], b[None, :, 1])
    inter = np.maximum(inter_w + extra, 0) * np.maximum(inter_h + extra, 0)
    if mode == "min":
        overlap = inter / np.minimum(area[:, None], area[None, :])
    else:
        overlap = inter / (area[:, None] + area[None, :] - inter)
    suppressed = overlap > threshold
    keep = np.ones(len(order), dtype=bool)
    for i in range(len(order)):
        if keep[i]:
            keep[i + 1 :] &= ~suppressed[i, i + 1 :]
    return order[keep]


def _nms_iterative(
    boxes: np.ndarray, order: np.ndarray, threshold: float, mode: str, plus_one: bool
) -> np.ndarray:
    extra = 1.0 if plus_one else 0.0
    x1, y1, x2, y2 = (boxes[:, k] for k in range(4))
    area = (x2 - x1 + extra) * (y2 - y1 + extra)
    kept = []
    while len(order):
        i, rest = order[0], order[1:]
        kept.append(i)
        w = np.maximum(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + extra, 0)
        h = np.maximum(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + extra, 0)
        inter = w * h
        if mode == "min":
            overlap = inter / np.minimum(area[i], area[rest])
        else:
            overlap = inter / (area[i] + area[rest] - inter)
        order = rest[overlap <= threshold]
    return np.asarray(kept, dtype=np.int64)
