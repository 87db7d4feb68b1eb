"""Photo quality: each advice fires on its clearly degraded variants of real photos and stays
quiet on the clean ones (counts printed); roll and yaw on landmarks of known geometry."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from prettymeter.faces import FaceDetector
from prettymeter.faces.quality import (
    ADVICE,
    ADVICE_MESSAGES,
    HEAD_TURNED,
    MAX_YAW,
    QUALITY_SIZE,
    head_pose,
    measure,
    sharpness,
)
from tests.support.quality_variants import (
    Sample,
    clean_variants,
    degraded_variants,
    mild_variants,
    samples,
)

MIN_FIRING = 0.95  # of the clearly degraded variants
MAX_FIRING = 0.05  # of the clean and mildly changed ones


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()


def rate(found: list[Sample], code: str) -> tuple[int, int]:
    return sum(s.quality is not None and code in s.quality.advice for s in found), len(found)


def test_each_advice_fires_on_its_degraded_variants_and_not_on_clean_photos(
    detector: FaceDetector,
) -> None:
    quiet = list(samples(detector, {**clean_variants(), **mild_variants()}))
    assert len(quiet) >= 2 * 4 * 8  # both fixtures at least, every framing, every variant
    degraded = {code: list(samples(detector, v)) for code, v in degraded_variants().items()}
    lines, wrong = [], []
    for code in ADVICE:
        fired_quiet, total_quiet = rate(quiet, code)
        line = f"{code:12s} clean+mild {fired_quiet}/{total_quiet}"
        if fired_quiet > MAX_FIRING * total_quiet:
            wrong.append(f"{code} fires on {fired_quiet}/{total_quiet} clean or mild variants")
        if code in degraded:
            hits, total = rate(degraded[code], code)
            line += f"   degraded {hits}/{total}"
            if hits < MIN_FIRING * total:
                wrong.append(f"{code} fires on only {hits}/{total} degraded variants")
        lines.append(line)
    print("\nadvice firing counts:\n" + "\n".join(lines))
    assert not wrong, wrong


def template(yaw: float, roll: float, pitch: float = 0.0) -> list[tuple[float, float]]:
    """MTCNN's five points of a face (eyes 1 apart, nose tip half an IED ahead of them) turned
    by yaw, pitch and roll (degrees), projected orthographically at 60 px per IED."""
    points = np.array(
        [[-0.5, 0, 0], [0.5, 0, 0], [0, 0.45, 0.5], [-0.4, 0.85, 0.1], [0.4, 0.85, 0.1]]
    )
    a, b, c = (math.radians(v) for v in (yaw, pitch, roll))
    turn = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    nod = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    tilt = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    moved = points @ (tilt @ nod @ turn).T
    return [(200 + 60 * x, 150 + 60 * y) for x, y, _ in moved]


@pytest.mark.parametrize("roll", [-30.0, 0.0, 12.0])
@pytest.mark.parametrize("yaw", [-40.0, -20.0, 0.0, 10.0, 30.0])
def test_roll_and_yaw_from_landmarks_of_known_geometry(yaw: float, roll: float) -> None:
    got_roll, got_yaw, ied = head_pose(template(yaw, roll))
    assert got_roll == pytest.approx(roll, abs=0.5)
    assert got_yaw == pytest.approx(yaw, abs=1.0)
    assert ied == pytest.approx(60 * math.cos(math.radians(yaw)), rel=0.01)


@pytest.mark.parametrize("pitch", [-10.0, 10.0])
@pytest.mark.parametrize("yaw", [-30.0, 0.0, 20.0])
def test_a_nod_moves_roll_and_yaw_a_few_degrees_at_most(yaw: float, pitch: float) -> None:
    # five points cannot tell a nod of a turned head from a tilt: atan(sin pitch · tan yaw)
    got_roll, got_yaw, _ = head_pose(template(yaw, 5.0, pitch))
    assert got_roll == pytest.approx(5.0, abs=6.0)
    assert got_yaw == pytest.approx(yaw, abs=6.0)


@pytest.mark.parametrize("yaw", [0.0, 15.0, -20.0, 35.0, -45.0])
def test_head_turned_fires_past_the_yaw_limit(yaw: float) -> None:
    image = Image.new("RGB", (400, 300), (128, 128, 128))
    q = measure(image, (140, 100, 260, 240), template(yaw, 0.0))
    assert (HEAD_TURNED in q.advice) == (abs(yaw) > MAX_YAW)


def test_sharpness_is_measured_at_the_fixed_size() -> None:
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (300, 300, 3), dtype=np.uint8)
    big = Image.fromarray(noise, "RGB").resize((600, 600), Image.Resampling.NEAREST)
    # the same face box at two resolutions measures alike: both come down to QUALITY_SIZE
    a = measure(big, (0, 0, 600, 600), None).sharpness
    b = measure(big.resize((300, 300)), (0, 0, 300, 300), None).sharpness
    assert a == pytest.approx(b, rel=0.25)
    flat = np.full((QUALITY_SIZE, QUALITY_SIZE), 100.0, dtype=np.float32)
    assert sharpness(flat) == 0.0


def test_every_advice_has_a_one_line_message() -> None:
    assert set(ADVICE) == set(ADVICE_MESSAGES)
    assert all("\n" not in m and m for m in ADVICE_MESSAGES.values())
