"""What decoding a large JPEG at reduced size (libjpeg DCT scaling) costs and changes.

Each fixture (and a composite whose face is near the smallest the one-person rule accepts) is
scaled up to a JPEG of 2000-4000 px on the long side and decoded twice: at full size and as
every scoring path decodes it (`imaging.decode_image` with the floor of a 256-px crop). Per
photo: the decode CPU time of each, the decoded size, the faces found and filter reason on each,
how far the person box moves (in the photo's pixels) and how far the model input array moves.

    .venv/bin/python bench/reduced_decode.py [--repeats 5] [--sizes 2000,3000,4000] [--grain 8]
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable
from functools import partial

import testkit  # noqa: F401 - first: the repository root on the import path
from PIL import Image

from tests.support.paths import DATA


def photos() -> dict[str, Image.Image]:
    man = Image.open(DATA / "man.png").convert("RGB")
    woman = Image.open(DATA / "woman.jpg").convert("RGB")
    # the man's face is ~27 % of his photo's width: at 450 px on a 1600×1200 canvas it is ~10 %
    # of the canvas's shorter side, just above the rule's 8 % minimum
    canvas = Image.new("RGB", (1600, 1200), (120, 150, 110))
    canvas.paste(man.resize((450, 540)), (900, 400))
    return {"man": man, "woman": woman, "small face": canvas}


def jpeg(image: Image.Image, long_side: int, grain: float = 0.0) -> bytes:
    """The photo scaled to `long_side` as a JPEG; `grain`: the σ of noise added at that size,
    as a camera's sensor leaves it (a scaled-up photo is smoother, so faster to decode)."""
    import numpy as np

    scale = long_side / max(image.size)
    big = image.resize((round(image.width * scale), round(image.height * scale)))
    if grain:
        noise = np.random.default_rng(0).normal(0.0, grain, (big.height, big.width, 3))
        big = Image.fromarray(np.clip(np.asarray(big) + noise, 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    big.save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def timed(call: Callable[[], Image.Image], repeats: int) -> tuple[float, Image.Image]:
    times, result = [], None
    for _ in range(repeats):
        started = time.process_time()  # decoding is one thread: CPU time, steadier when shared
        result = call()
        times.append(1000 * (time.process_time() - started))
    return statistics.median(times), result  # type: ignore[return-value]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", default="2000,3000,4000", help="long sides, px")
    parser.add_argument("--grain", type=float, default=0.0, help="noise σ added (0-255 scale)")
    args = parser.parse_args()

    import numpy as np

    from prettymeter import imaging
    from prettymeter.faces import FaceDetector, find_person

    detector = FaceDetector()
    crop = imaging.DEFAULT_CROP_SIZE
    floor = imaging.min_side_for(crop)
    print(f"floor: shorter side ≥ {floor} px after reduction (crop {crop} px)")
    header = (
        f"{'photo':<11} {'JPEG px':>10} {'full ms':>8} {'reduced ms':>10} {'decoded':>10} "
        f"{'faces':>6} {'reason':>15} {'box Δpx':>8} {'input Δmax':>10} {'Δmean':>7}"
    )
    print(header)
    for name, image in photos().items():
        for long_side in (int(s) for s in args.sizes.split(",")):
            data = jpeg(image, long_side, args.grain)
            full_ms, full = timed(partial(imaging.decode_image, data, min_side=None), args.repeats)
            reduced_ms, reduced = timed(
                partial(imaging.decode_image, data, min_side=floor), args.repeats
            )
            found = [find_person(im, detector) for im in (full, reduced)]
            faces = "/".join(str(len(p.faces)) for p in found)
            reasons = "/".join(str(p.filter_reason or "ok") for p in found)
            boxes = [p.person_box for p in found]
            box_move, same_box = "-", 0.0
            arrays = [imaging.preprocess(im, None, crop, crop) for im in (full, reduced)]
            if boxes[0] is not None and boxes[1] is not None:
                scaled = imaging.to_full(boxes[1], reduced)
                box_move = f"{max(abs(a - b) for a, b in zip(boxes[0], scaled, strict=True)):.1f}"
                arrays = [
                    imaging.preprocess(full, boxes[0], crop, crop),
                    imaging.preprocess(reduced, boxes[1], crop, crop),
                ]
                factor = reduced.width / full.width  # the full decode's own box, on the reduced
                same = imaging.preprocess(reduced, [v * factor for v in boxes[0]], crop, crop)
                same_box = float(np.abs(arrays[0] - same).max())
            diff = np.abs(arrays[0] - arrays[1])
            size = f"{full.width}×{full.height}"
            print(
                f"{name:<11} {size:>10} {full_ms:>8.1f} {reduced_ms:>10.1f} "
                f"{f'{reduced.width}×{reduced.height}':>10} {faces:>6} {reasons:>15} "
                f"{box_move:>8} {diff.max():>10.3f} {diff.mean():>7.4f} {same_box:>13.3f}"
            )
    print(
        "ms: median CPU ms of a decode; faces / reason: full decode / reduced decode; box Δpx: "
        "the person box's largest move in the photo's pixels; input Δ: the model input array "
        "(normalized units, 1/255 of a channel ≈ 0.017), each decode with its own box; same box: "
        "both with the full decode's box"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
