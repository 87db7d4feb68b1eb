"""Score photos from the command line: detect the person, crop, run the exported model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from prettymeter import imaging
from prettymeter.console import out as stdout
from prettymeter.errors import ImageError, PrettyMeterError

REASONS = {
    "no_face": "no face found on this photo",
    "several_faces": "more than one main face on this photo",
    "face_too_small": "the face is too small on this photo",
}


def predict(
    model: Path, photos: list[Path], *, engine: str = "auto", whole: bool = False
) -> list[dict[str, Any]]:
    """One result per photo: score (0-10, one decimal), percentile, rate, or the error."""
    from prettymeter.faces import FaceDetector, find_person
    from prettymeter.scoring import Scorer

    scorer = Scorer(Path(model), engine=engine)
    card = scorer.card
    detector = FaceDetector() if card.preprocessing.detector == "mtcnn" else None
    results: list[dict[str, Any]] = []
    for photo in photos:
        result: dict[str, Any] = {"photo": str(photo), "score": None, "error": None}
        try:
            if not Path(photo).is_file():
                raise ImageError("not_found", f"{photo} does not exist")
            image = imaging.decode_image(Path(photo).read_bytes())
            person = find_person(image, detector)
            box = person.person_box
            if person.filter_reason:
                result["error"] = person.filter_reason
                if not whole:
                    results.append(result)
                    continue
                box = None
            array = imaging.preprocess(image, box, card.preprocessing.crop_size, card.input_size)
            labels, stds = scorer.run(array[np.newaxis])
            label = float(labels[0])
            result.update(
                score=round(10.0 * label, 1),
                label=label,
                percentile=card.percentile(label),
                rate=round(card.to_rate(label), 2),
                uncertainty=round(10.0 * float(stds[0]), 2) if stds is not None else None,
                box=[round(float(v), 1) for v in box] if box is not None else None,
            )
        except ImageError as exc:
            result["error"] = exc.code
            result["message"] = str(exc)
        results.append(result)
    for r in results:
        _print(r)
    if not results:
        raise PrettyMeterError("no photos given; pass one or more photo paths")
    return results


def _print(r: dict[str, Any]) -> None:
    parts = [r["photo"]]
    if r["score"] is not None:
        parts.append(f"score {r['score']:.1f}/10")
        parts.append(f"percentile {r['percentile']:.1f}")
        parts.append(f"rate {r['rate']}")
        if r.get("uncertainty") is not None:
            parts.append(f"± {r['uncertainty']:.2f}")
    if r["error"]:
        reason = r.get("message") or REASONS.get(r["error"], r["error"])
        note = " (whole photo scored)" if r["score"] is not None else ""
        parts.append(f"{r['error']}: {reason}{note}")
    stdout.print("  ".join(parts), markup=False, highlight=False)
