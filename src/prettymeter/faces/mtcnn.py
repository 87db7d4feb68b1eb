"""MTCNN face detection on ONNX Runtime with vectorized numpy glue: no torch at run time.

The three nets are facenet-pytorch 2.5.3's packaged weights exported to ONNX
(`pretty-meter export-detector`); the steps between them follow facenet-pytorch's
`detect_face` so the boxes match it, but every resize is an exact "area" resample computed
from one summed-area table of the photo (the pyramid and every candidate crop in one gather:
`faces.area`), and the box steps and non-maximum suppression work on whole arrays instead of
per-box Python loops (`faces.boxes`). This module holds the nets' sessions and the cascade.

What the product needs sets how much of the pyramid runs (docs/data-detect.md, "Detection
sized to the product's rule"): the photo is searched coarse first, on a small working copy,
and the finer pyramid levels (small faces, where most of the cost is) only run when the faces
found so far leave a smaller face that could still change the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from prettymeter.contract import DETECTOR_INPUT_NAME, MAIN_FACE_DIAGONAL_RATIO, MIN_FACE_FRACTION
from prettymeter.errors import PrettyMeterError
from prettymeter.faces.area import area_resize, crop_boxes, has_pixels, summed_area_table
from prettymeter.faces.boxes import boxes_from_pnet, nms, regress, square
from prettymeter.faces.person import Face

NETS_DIR = Path(__file__).resolve().parent
NET_FILES = ("pnet.onnx", "rnet.onnx", "onet.onnx")

THRESHOLDS = (0.6, 0.7, 0.7)  # P-, R-, O-Net score thresholds (facenet-pytorch defaults)
FACTOR = 0.709  # pyramid step
PNET_WINDOW = 12  # P-Net looks at 12 × 12 px: a level at scale s finds faces of ~12 / s px
MIN_FACE_PX = 20  # the smallest face looked for on small photos (facenet-pytorch's default)
# On bigger photos the smallest face looked for grows with the photo. No smaller face can
# change the answer: a main face under MIN_FACE_FRACTION (8 %) of the shorter side is
# `face_too_small`, and a second face only counts when its diagonal is at least half the
# main one's (so 4 %).
SMALLEST_FACE_FRACTION = MIN_FACE_FRACTION * MAIN_FACE_DIAGONAL_RATIO
# The first pass looks for faces of at least this share of the shorter side: a portrait's face
# is 20-60 % of it. It is enough when the largest face it finds is big enough that every face
# that could still count (diagonal ≥ half its diagonal) was within reach of its levels too;
# otherwise a second pass goes down to that size (or to SMALLEST_FACE_FRACTION when the first
# found nothing) over the same working copy, running the nets only on what is new.
COARSE_FACE_FRACTION = 0.2
# A level whose P-Net window is W px finds faces whose box diagonal is down to ~W / 0.93 (the
# fixtures at 28 sizes; the finest window that still found each face was 0.93-1.5 × its
# diagonal). To be sure of a face with diagonal d, the pyramid goes down to 0.75 · d.
WINDOW_PER_DIAGONAL = 0.75
# Each pass works on a copy of the photo reduced by the largest integer factor that keeps the
# smallest face it looks for at this many px or more: P-Net's levels are all below that
# resolution anyway, and R-/O-Net's 24/48-px crops are never blown up from fewer pixels than
# they show. The summed-area table, the level resamples and the crops then cost what they cost
# on a small photo.
WORKING_FACE_PX = 48


def auto_min_face_size(width: int, height: int) -> float:
    """The smallest face (px) the pyramid looks for on a photo of this size."""
    return max(float(MIN_FACE_PX), SMALLEST_FACE_FRACTION * min(width, height))


def pyramid_scales(short_side: int, min_face: float, factor: float = FACTOR) -> list[float]:
    """facenet-pytorch's pyramid: from 12 / min_face down by `factor` while ≥ 12 px remain."""
    scale = PNET_WINDOW / min_face
    shortest = short_side * scale
    scales = []
    while shortest >= PNET_WINDOW:
        scales.append(scale)
        scale *= factor
        shortest *= factor
    return scales


@dataclass
class PassTrace:
    """One pass of the cascade: where it ran and how much it did."""

    working_size: tuple[int, int]  # (width, height) of the photo copy the pass ran on
    smallest_face: float  # px of the photo: the finest level's P-Net window
    levels: list[tuple[int, int]] = field(default_factory=list)  # P-Net inputs (height, width)
    candidates: int = 0  # boxes from P-Net into R-Net
    refined: int = 0  # boxes from R-Net into O-Net
    crops_run: int = 0  # crops R- and O-Net ran on (boxes seen by an earlier pass are not rerun)
    faces: int = 0


@dataclass
class DetectionTrace:
    """What `FaceDetector.trace` did on one photo (for benchmarks and tests)."""

    faces: list[Face]
    passes: list[PassTrace]

    @property
    def levels(self) -> int:
        return sum(len(p.levels) for p in self.passes)

    @property
    def pnet_pixels(self) -> int:
        return sum(h * w for p in self.passes for h, w in p.levels)


class FaceDetector:
    """MTCNN (P-Net → R-Net → O-Net) on ONNX Runtime; thread-safe, one instance per process.

    `working_face_px=None, coarse_first=False` is the reference path: facenet-pytorch's
    `detect_face` on the photo's full resolution with the whole pyramid in one pass (its
    summed-area table of a 40-megapixel photo alone takes ~1 GB). The defaults give the same
    main faces and filter reasons, and boxes within MTCNN's own jitter across photo sizes
    (tests/faces/test_sized_detection.py), for a fraction of the CPU.
    """

    def __init__(
        self,
        threads: int = 1,
        min_face_size: int | None = None,
        nets_dir: Path | None = None,
        thresholds: Sequence[float] = THRESHOLDS,
        factor: float = FACTOR,
        working_face_px: int | None = WORKING_FACE_PX,
        coarse_first: bool = True,
    ) -> None:
        import onnxruntime as ort

        self.min_face_size = min_face_size
        self.thresholds = tuple(float(t) for t in thresholds)
        self.factor = float(factor)
        self.working_face_px = working_face_px
        self.coarse_first = coarse_first
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, int(threads))
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Spinning threads steal the CPU from the numpy glue between the nets (and from
        # anything else in the process).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        # No arena: it keeps the largest pyramid level's buffers for good; without it the
        # CPU per photo is the same.
        options.enable_cpu_mem_arena = False
        options.enable_mem_pattern = False
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

    @classmethod
    def reference(cls, threads: int = 1, min_face_size: int | None = None) -> FaceDetector:
        """The full-resolution, whole-pyramid path the defaults are checked against."""
        return cls(threads, min_face_size, working_face_px=None, coarse_first=False)

    def min_face_for(self, width: int, height: int) -> float:
        """The smallest face (px) looked for on a photo of this size."""
        return (
            float(self.min_face_size) if self.min_face_size else auto_min_face_size(width, height)
        )

    def detect(self, image: Image.Image) -> list[Face]:
        """All faces on an RGB photo that can matter to the main-face rule, most confident first.

        The reference path returns every face down to `min_face_for` the photo; the default
        path may leave out faces smaller than half the largest one found, which the rule
        ignores anyway.
        """
        return self.trace(image).faces

    def trace(self, image: Image.Image) -> DetectionTrace:
        """`detect`, with the passes, pyramid levels and candidate counts it took."""
        if image.mode != "RGB":
            image = image.convert("RGB")
        width, height = image.size
        min_face = self.min_face_for(width, height)
        scales = pyramid_scales(min(width, height), min_face, self.factor)
        passes: list[PassTrace] = []
        if not scales:
            return DetectionTrace(faces=[], passes=passes)
        floor = min_face
        if self.coarse_first:
            floor = max(min_face, COARSE_FACE_FRACTION * min(width, height))
        first = self._first_level(scales, floor)
        work = _Working.of(image, self._step(PNET_WINDOW / scales[first]))
        faces, candidates = self._pass(work, scales, first, len(scales), None, passes)
        if first > 0:
            largest = max((f.diagonal for f in faces), default=0.0)
            # the P-Net window that reaches the smallest face that could still be a main face
            needed = WINDOW_PER_DIAGONAL * MAIN_FACE_DIAGONAL_RATIO * largest
            if needed < PNET_WINDOW / scales[first]:
                finer = self._first_level(scales, max(min_face, needed))
                step = self._step(PNET_WINDOW / scales[finer])
                if step == work.step:
                    # same copy: only the new levels, and the nets only on what is new
                    faces, _ = self._pass(work, scales, finer, first, candidates, passes)
                else:
                    # a finer copy: every level again on it, as the reference would see them
                    finer_work = _Working.of(image, step)
                    faces, _ = self._pass(finer_work, scales, finer, len(scales), None, passes)
        return DetectionTrace(faces=faces, passes=passes)

    def _step(self, smallest_face: float) -> int:
        """The working copy's reduction factor for a pass down to `smallest_face` px."""
        if self.working_face_px is None:
            return 1
        return max(1, int(smallest_face / self.working_face_px))

    @staticmethod
    def _first_level(scales: list[float], floor: float) -> int:
        """The finest pyramid level to run for faces ≥ `floor` px: the first one at or below it."""
        return max([i for i, s in enumerate(scales) if PNET_WINDOW / s <= floor], default=0)

    def _pass(
        self,
        work: _Working,
        scales: list[float],
        start: int,
        stop: int,
        earlier: np.ndarray | None,
        passes: list[PassTrace],
    ) -> tuple[list[Face], np.ndarray]:
        """P-Net on the pyramid levels [start, stop), then R- and O-Net on its candidates and
        the `earlier` pass's (photo pixels) as one cascade; the faces and all candidates."""
        step = work.step
        trace = PassTrace(working_size=work.size, smallest_face=PNET_WINDOW / scales[start])
        passes.append(trace)
        level_scales = [s * step for s in scales[start:stop]]
        found = self._pnet_levels(work, level_scales, trace)
        found[:, :4] *= step
        candidates = found if earlier is None else np.concatenate([earlier, found])
        working = candidates.copy()
        working[:, :4] /= step
        boxes, points = self._refine(work, working, trace)
        boxes[:, :4] *= step
        points *= step
        trace.faces = len(boxes)
        faces = [
            Face(
                box=(float(b[0]), float(b[1]), float(b[2]), float(b[3])),
                confidence=float(b[4]),
                landmarks=tuple((float(x), float(y)) for x, y in p),
            )
            for b, p in zip(boxes, points, strict=True)
        ]
        return faces, candidates

    def _refine(
        self, work: _Working, candidates: np.ndarray, trace: PassTrace | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """P-Net's candidates of every level → final boxes (N, 5) and landmarks (N, 5, 2)."""
        empty = np.zeros((0, 5)), np.zeros((0, 5, 2))
        if len(candidates) == 0:
            return empty
        boxes = self._stage_one(candidates)
        if trace is not None:
            trace.candidates = len(boxes)
        boxes = self._stage_two(work, boxes, trace)
        if trace is not None:
            trace.refined = len(boxes)
        if len(boxes) == 0:
            return empty
        return self._stage_three(work, boxes, trace)

    def _pnet_levels(
        self, work: _Working, scales: list[float], trace: PassTrace | None
    ) -> np.ndarray:
        """P-Net on each pyramid level: its boxes (N, 9: box, score, regression), NMS per level."""
        candidates = [np.zeros((0, 9))]
        for scale in scales:
            out_h, out_w = int(work.height * scale + 1), int(work.width * scale + 1)
            if trace is not None:
                trace.levels.append((out_h, out_w))
            level = area_resize(work.table, work.height, work.width, out_h, out_w)
            reg, prob = self._pnet.run(None, {DETECTOR_INPUT_NAME: level[None]})
            found = boxes_from_pnet(reg[0], prob[0, 1], scale, self.thresholds[0])
            if len(found):
                candidates.append(found[nms(found[:, :4], found[:, 4], 0.5)])
        return np.concatenate(candidates)

    def _stage_one(self, boxes: np.ndarray) -> np.ndarray:
        """NMS across the levels, P-Net's regression, squared: the boxes R-Net looks at (N, 5)."""
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

    @staticmethod
    def _run_on_crops(
        net: Any, work: _Working, boxes: np.ndarray, size: int, trace: PassTrace | None
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """`net` on size × size crops of the boxes that hold pixels: those boxes and the net's
        outputs. Boxes answered before on the same working copy are taken from its memo."""
        table, height, width, memo = work.table, work.height, work.width, work.memo
        boxes = boxes[has_pixels(boxes, height, width)]
        keys = [(size, row.tobytes()) for row in boxes[:, :4]]
        missing = [i for i, key in enumerate(keys) if key not in memo]
        if trace is not None:
            trace.crops_run += len(missing)
        if missing:
            crops = crop_boxes(table, boxes[missing], height, width, size)
            answers = net.run(None, {DETECTOR_INPUT_NAME: crops})
            for j, i in enumerate(missing):
                memo[keys[i]] = [a[j] for a in answers]
        outputs = len(net.get_outputs())
        return boxes, [np.stack([memo[key][k] for key in keys]) for k in range(outputs)]

    def _stage_two(self, work: _Working, boxes: np.ndarray, trace: PassTrace | None) -> np.ndarray:
        """R-Net on 24 × 24 crops of the candidates: refined, squared boxes (N, 5)."""
        boxes, (reg, prob) = self._run_on_crops(self._rnet, work, boxes, 24, trace)
        if len(boxes) == 0:
            return boxes
        keep = prob[:, 1] > self.thresholds[1]
        boxes = np.concatenate([boxes[keep, :4], prob[keep, 1:2]], axis=1)
        reg = reg[keep]
        pick = nms(boxes[:, :4], boxes[:, 4], 0.7)
        return square(regress(boxes[pick], reg[pick]))

    def _stage_three(
        self, work: _Working, boxes: np.ndarray, trace: PassTrace | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """O-Net on 48 × 48 crops: final boxes (N, 5) and five landmarks each (N, 5, 2)."""
        boxes, (reg, marks, prob) = self._run_on_crops(self._onet, work, boxes, 48, trace)
        if len(boxes) == 0:
            return np.zeros((0, 5)), np.zeros((0, 5, 2))
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


# The nets' answers on one working copy, by (crop size, box): a second pass over the same copy
# runs R- and O-Net only on the boxes the first did not see.
Memo = dict[tuple[int, bytes], list[np.ndarray]]


class _Working:
    """The photo reduced by an integer `step` (an exact block mean, so area resamples from it
    stay close to those from the photo), its summed-area table and the nets' answers on it
    (`memo`)."""

    def __init__(self, pixels: np.ndarray, step: int, memo: Memo) -> None:
        self.step = step
        self.height, self.width = pixels.shape[:2]
        self.size = (self.width, self.height)
        self.table = summed_area_table(pixels)
        self.memo = memo

    @classmethod
    def of(cls, image: Image.Image, step: int) -> _Working:
        return cls(np.asarray(image.reduce(step) if step > 1 else image), step, {})
