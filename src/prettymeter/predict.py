"""Score photos from the command line: detect the person, crop, run the exported model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prettymeter.console import out as stdout
from prettymeter.errors import PrettyMeterError


def predict(
    model: Path, photos: list[Path], *, engine: str = "auto", whole: bool = False
) -> list[dict[str, Any]]:
    """One result per photo through the loaded model (`rating_model.RatingModel`, the one photo
    path): score (0-10, one decimal), percentile, rate, uncertainty, box, or the error."""
    from prettymeter.rating_model import RatingModel

    if not photos:
        raise PrettyMeterError("no photos given; pass one or more photo paths")
    loaded = RatingModel(Path(model), engine=engine)
    results = []
    for photo in photos:
        (rated,) = loaded.rate([photo], strict=not whole)
        result = rated.to_dict()
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
        reason = r.get("message") or r["error"]
        note = " (whole photo scored)" if r["score"] is not None else ""
        parts.append(f"{r['error']}: {reason}{note}")
    stdout.print("  ".join(parts), markup=False, highlight=False)
