"""MTCNN face detection on ONNX Runtime with vectorized numpy glue: no torch at run time.

The three nets are facenet-pytorch 2.5.3's packaged weights exported to ONNX
(`pretty-meter export-detector`); the steps between them follow facenet-pytorch's
`detect_face` so the boxes match it, but every resize is an exact "area" resample computed
from one summed-area table of the photo (the pyramid and every candidate crop in one gather),
and non-maximum suppression works on whole IoU matrices instead of per-box Python loops.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from prettymeter.errors import PrettyMeterError
from prettymeter.faces.person import Face

NETS_DIR = Path(__file__).resolve().parent
NET_FILES = ("pnet.onnx", "rnet.onnx", "onet.onnx")

THRESHOLDS = (0.6, 0.7, 0.7)  # P-, R-, O-Net score thresholds (facenet-pytorch defaults)
FACTOR = 0.709  # pyramid step
MIN_FACE_PX = 20  # the smallest face looked for on small photos (facenet-pytorch's default)
# On bigger photos the smallest face looked for grows with the photo: faces smaller than
# this share of the shorter side cannot matter (a face is too small below 8 %, and a second
# face only counts when it is at least half the main one), and skipping them makes the
# pyramid, and so the detector, much cheaper on large photos.
MIN_FACE_FRACTION = 0.04
# Photos whose shorter side is above this are shrunk before detection (boxes are scaled back):
# the pyramid never looks at their full resolution anyway, and the summed-area table of a
# 40-megapixel photo alone would take ~1 GB. Shrinking stops where the smallest face looked for
# would fall under O-Net's 48-px input, so candidate crops are never blown up.
MAX_SHORT_SIDE = 1200
MIN_SHRUNK_FACE_PX = 48
NMS_MATRIX_LIMIT = 2048  # above this many boxes NMS goes box by box to bound memory


def auto_min_face_size(width: int, height: int) -> float:
    """The smallest face (px) the pyramid looks for on a photo of this size."""
    return max(float(MIN_FACE_PX), MIN_FACE_FRACTION * min(width, height))


class FaceDetector:
    """MTCNN (P-Net → R-Net → O-Net) on ONNX Runtime; thread-safe, one instance per process."""

    def __init__(
        self,
        threads: int = 1,
        min_face_size: int | None = None,
        nets_dir: Path | None = None,
        thresholds: Sequence[float] = THRESHOLDS,
        factor: float = FACTOR,
    ) -> None:
        import onnxruntime as ort

        self.min_face_size = min_face_size
        self.thresholds = tuple(float(t) for t in thresholds)
        self.factor = float(factor)
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, int(threads))
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Spinning threads steal the CPU from the numpy glue between the nets (and from
        # anything else in the process): 71 → 175 ms per photo measured in issue 4.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        folder = Path(nets_dir) if nets_dir is not None else NETS_DIR
        sessions = []
        for name in NET_FILES:
            path = folder / name
            if not path.is_file():
                raise PrettyMeterError(
                    f"the face detector's net {path} is missing; reinstall pretty-meter, or "
                    f"run `pretty-meter export-detector --out {folder}` (needs the [train] extra)"
                )
            sessions.append(
                ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            )
        self._pnet, self._rnet, self._onet = sessions

    def min_face_for(self, width: int, height: int) -> float:
        """The smallest face (px) looked for on a photo of this size."""
        return (
            float(self.min_face_size) if self.min_face_size else auto_min_face_size(width, height)
        )

    def detect(self, image: Image.Image) -> list[Face]:
        """All faces on an RGB photo, most confident first."""
        if image.mode != "RGB":
            image = image.convert("RGB")
        width, height = image.size
        min_face = self.min_face_for(width, height)
        shrink = min(1.0, max(MAX_SHORT_SIDE / min(width, height), MIN_SHRUNK_FACE_PX / min_face))
        if shrink < 1.0:
            size = (max(1, round(width * shrink)), max(1, round(height * shrink)))
            image = image.resize(size, Image.Resampling.BOX, reducing_gap=2.0)
        boxes, points = self.detect_array(np.asarray(image), min_face * shrink)
        if shrink < 1.0:
            scale_x, scale_y = width / image.width, height / image.height
            boxes[:, [0, 2]] *= scale_x
            boxes[:, [1, 3]] *= scale_y
            points[:, :, 0] *= scale_x
            points[:, :, 1] *= scale_y
        return [
            Face(
                box=(float(b[0]), float(b[1]), float(b[2]), float(b[3])),
                confidence=float(b[4]),
                landmarks=tuple((float(x), float(y)) for x, y in p),
            )
            for b, p in zip(boxes, points, strict=True)
        ]

    def detect_array(
        self, pixels: np.ndarray, min_face: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """uint8 (H, W, 3) → boxes (N, 5: x1, y1, x2, y2, score) and landmarks (N, 5, 2).

        Works at the array's full resolution (no shrinking); `min_face` defaults to
        `min_face_for` the array's size.
        """
        height, width = pixels.shape[:2]
        empty = np.zeros((0, 5)), np.zeros((0, 5, 2))
        if min_face is None:
            min_face = self.min_face_for(width, height)
        table = summed_area_table(pixels)

        boxes = self._stage_one(table, height, width, min_face)
        if len(boxes) == 0:
            return empty
        boxes = self._stage_two(table, boxes, height, width)
        if len(boxes) == 0:
            return empty
        return self._stage_three(table, boxes, height, width)

    def _stage_one(self, table: np.ndarray, height: int, width: int, min_face: float) -> np.ndarray:
        """P-Net over the pyramid: candidate boxes (N, 9: box, score, regression)."""
        m = 12.0 / min_face
        scales = []
        shortest = min(height, width) * m
        scale = m
        while shortest >= 12:
            scales.append(scale)
            scale *= self.factor
            shortest *= self.factor
        candidates = []
        for scale in scales:
            out_h, out_w = int(height * scale + 1), int(width * scale + 1)
            level = area_resize(table, height, width, out_h, out_w)
            reg, prob = self._pnet.run(None, {"input": level[None]})
            found = boxes_from_pnet(reg[0], prob[0, 1], scale, self.thresholds[0])
            if len(found):
                candidates.append(found[nms(found[:, :4], found[:, 4], 0.5)])
        if not candidates:
            return np.zeros((0, 9))
        boxes = np.concatenate(candidates)
        boxes = boxes[nms(boxes[:, :4], boxes[:, 4], 0.7)]
        widths = boxes[:, 2] - boxes[:, 0]
        heights = boxes[:, 3] - boxes[:, 1]
        calibrated = np.stack(
            [
                boxes[:, 0] + boxes[:, 5] * widths,
                boxes[:, 1] + boxes[:, 6] * heights,
                boxes[:, 2] + boxes[:, 7] * widths,
                boxes[:, 3] + boxes[:, 8] * heights,
                boxes[:, 4],
            ],
            axis=1,
        )
        return square(calibrated)

    def _stage_two(
        self, table: np.ndarray, boxes: np.ndarray, height: int, width: int
    ) -> np.ndarray:
        """R-Net on 24 × 24 crops of the candidates: refined, squared boxes (N, 5)."""
        crops, boxes = crop_boxes(table, boxes, height, width, 24)
        if len(boxes) == 0:
            return boxes
        reg, prob = self._rnet.run(None, {"input": crops})
        keep = prob[:, 1] > self.thresholds[1]
        boxes = np.concatenate([boxes[keep, :4], prob[keep, 1:2]], axis=1)
        reg = reg[keep]
        pick = nms(boxes[:, :4], boxes[:, 4], 0.7)
        return square(regress(boxes[pick], reg[pick]))

    def _stage_three(
        self, table: np.ndarray, boxes: np.ndarray, height: int, width: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """O-Net on 48 × 48 crops: final boxes (N, 5) and five landmarks each (N, 5, 2)."""
        crops, boxes = crop_boxes(table, boxes, height, width, 48)
        if len(boxes) == 0:
            return np.zeros((0, 5)), np.zeros((0, 5, 2))
        reg, marks, prob = self._onet.run(None, {"input": crops})
        keep = prob[:, 1] > self.thresholds[2]
        boxes = np.concatenate([boxes[keep, :4], prob[keep, 1:2]], axis=1).astype(np.float64)
        reg, marks = reg[keep], marks[keep]
        box_w = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
        box_h = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
        points = np.stack(
            [box_w * marks[:, :5] + boxes[:, :1] - 1, box_h * marks[:, 5:] + boxes[:, 1:2] - 1],
            axis=2,
        )
        boxes = regress(boxes, reg)
        pick = nms(boxes[:, :4], boxes[:, 4], 0.7, mode="min", plus_one=True)
        return boxes[pick], points[pick]


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


def crop_boxes(
    table: np.ndarray, boxes: np.ndarray, height: int, width: int, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Every box's region area-resampled to size × size in one gather: (N, 3, size, size).

    Boxes are clipped to the photo the way facenet-pytorch's `pad` does; boxes left with no
    pixels are dropped (the returned boxes match the crops).
    """
    whole = np.trunc(boxes[:, :4]).astype(np.int64)
    x = np.maximum(whole[:, 0], 1) - 1
    y = np.maximum(whole[:, 1], 1) - 1
    ex = np.minimum(whole[:, 2], width)
    ey = np.minimum(whole[:, 3], height)
    valid = (ey > y) & (ex > x)
    boxes, x, y, ex, ey = boxes[valid], x[valid], y[valid], ex[valid], ey[valid]
    row_lo, row_hi = _area_bounds(y, ey - y, size)  # (N, size)
    col_lo, col_hi = _area_bounds(x, ex - x, size)
    sums = _gather_sums(
        table, row_lo[:, :, None], row_hi[:, :, None], col_lo[:, None, :], col_hi[:, None, :]
    )  # (3, N, size, size)
    counts = (row_hi - row_lo)[:, :, None] * (col_hi - col_lo)[:, None, :]
    crops = _to_net_input(sums, counts[None])
    return np.ascontiguousarray(crops.transpose(1, 0, 2, 3)), boxes


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
