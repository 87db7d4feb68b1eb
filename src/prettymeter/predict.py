"""Score photos from the command line: detect the person, crop, run the exported model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prettymeter.console import out as stdout
from prettymeter.errors import PrettyMeterError
from prettymeter.inference import rating

REASONS = {
    "no_face": "no face found on this photo",
    "several_faces": "more than one main face on this photo",
    "face_too_small": "the face is too small on this photo",
}


def predict(
    model: Path, photos: list[Path], *, engine: str = "auto", whole: bool = False
) -> list[dict[str, Any]]:
    """One result per photo through the model card's photo path (`inference.Rater`): score
    (0-10, one decimal), percentile, rate, uncertainty, box, or the error."""
    from prettymeter.inference import Rater

    if not photos:
        raise PrettyMeterError("no photos given; pass one or more photo paths")
    rater = Rater(Path(model), engine=engine)
    results = []
    for photo in photos:
        prepared = rater.prepare(photo, strict=not whole)
        ((label, std),) = rater.score([prepared])
        result = rating(rater.card, prepared, label, std, str(photo)).to_dict()
        result["photo"] = result.pop("source")
        results.append(result)
        _print(result)
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
