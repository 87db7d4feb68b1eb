"""What the web page's JPEG quality costs: upload bytes and score drift, against the original 0.99.

The page shrinks every photo to at most 512 px on the long side and encodes it as JPEG before
upload. This prints, per quality, the bytes sent, how far the model's 0-10 score moves (same
person box) and how far the detected person box moves, against the lossless 512-px photo; the
original's quality 0.99 is the baseline the byte ratio is taken against. Pillow's libjpeg stands in
for the browser's encoder (both scale the same IJG quantization tables), so the bytes are close
to, not equal to, Chrome's.

    .venv/bin/python bench/web_jpeg_quality.py [--model DIR] [PHOTO ...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import testkit  # noqa: F401 - first: the repository root on the import path
from PIL import Image

from tests.support.paths import DATA, REPO
from tests.support.photos import PAGE_MAX_SIDE, page_photo, page_upload

QUALITIES = (0.80, 0.85, 0.90, 0.95, 0.99)
BASELINE = 0.99  # the original's quality


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="*", type=Path)
    parser.add_argument("--model", type=Path, help="an exported model directory (card + ONNX)")
    args = parser.parse_args()
    photos = args.photos or [DATA / "man.png", DATA / "woman.jpg"]
    model_dir = args.model
    if model_dir is None and (REPO / "data" / "demo" / "models" / "man" / "card.json").is_file():
        model_dir = REPO / "data" / "demo" / "models" / "man"

    from prettymeter.faces import FaceDetector, find_person
    from prettymeter.imaging import decode_image, preprocess

    scorer = None
    if model_dir is not None:
        from prettymeter.scoring import Scorer

        scorer = Scorer(model_dir, engine="onnxruntime")
    detector = FaceDetector()

    def person_box(image: Image.Image) -> tuple[float, float, float, float] | None:
        box = find_person(image, detector).person_box
        return None if box is None else (box[0], box[1], box[2], box[3])

    def score(image: Image.Image, box: tuple[float, float, float, float]) -> float | None:
        # The same box for every quality, so the column shows what compression alone does.
        if scorer is None:
            return None
        card = scorer.card
        array = preprocess(image, box, card.preprocessing.crop_size, card.input_size)
        labels, _ = scorer.run(array[None])
        return 10.0 * float(labels[0])

    rows: dict[float, dict[str, list[float]]] = {
        q: {"bytes": [], "dscore": [], "dbox": []} for q in QUALITIES
    }
    for path in photos:
        original = decode_image(path.read_bytes())
        small = page_photo(original)
        ref_box = person_box(small)
        ref_score = score(small, ref_box) if ref_box is not None else None
        for quality in QUALITIES:
            data = page_upload(small, quality)
            rows[quality]["bytes"].append(len(data))
            decoded = decode_image(data)
            got_box = person_box(decoded)
            if ref_box is not None and ref_score is not None:
                got_score = score(decoded, ref_box)
                if got_score is not None:
                    rows[quality]["dscore"].append(abs(got_score - ref_score))
            if ref_box is not None and got_box is not None:
                shift = max(abs(a - b) for a, b in zip(ref_box, got_box, strict=True))
                rows[quality]["dbox"].append(shift)

    base = statistics.mean(rows[BASELINE]["bytes"])
    print(f"photos: {', '.join(p.name for p in photos)} (each shrunk to ≤{PAGE_MAX_SIDE} px)")
    print(f"model: {model_dir or 'none (pass --model DIR for the score column)'}")
    print(
        f"{'quality':>7} {'mean bytes':>11} {'vs 0.99':>8} {'max |Δscore|':>13} "
        f"{'max box shift px':>17}"
    )
    for quality in QUALITIES:
        r = rows[quality]
        mean_bytes = statistics.mean(r["bytes"])
        dscore = f"{max(r['dscore']):.3f}" if r["dscore"] else "n/a"
        dbox = f"{max(r['dbox']):.1f}" if r["dbox"] else "n/a"
        print(
            f"{quality:>7.2f} {mean_bytes:>11,.0f} {mean_bytes / base:>7.2f}× "
            f"{dscore:>13} {dbox:>17}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
