"""Where the photo-quality advice thresholds come from: the measures on real photos' variants.

Every source photo (the fixtures, the portraits installed packages ship) × 4 framings is
measured clean, with mild changes and clearly degraded (tests/support/quality_variants.py).
Prints each measure's range on the clean + mild variants and on the degraded ones, then how
often each advice fires on each group. The thresholds in prettymeter.faces.quality sit between
the two ranges; docs/api.md ("Photo quality") records the numbers.

    .venv/bin/python bench/quality_thresholds.py
"""

from __future__ import annotations

import testkit  # noqa: F401 - first: the repository root on the import path

from prettymeter.faces import FaceDetector
from prettymeter.faces.quality import ADVICE, Quality
from tests.support.quality_variants import (
    Sample,
    clean_variants,
    degraded_variants,
    mild_variants,
    samples,
)

MEASURES = ("sharpness", "brightness", "dark_share", "bright_share", "eye_distance", "roll", "yaw")


def summary(group: str, found: list[Sample]) -> None:
    measured = [s.quality for s in found if s.quality is not None]
    missed = len(found) - len(measured)
    on_base = sum(s.located_on_base for s in found)
    print(
        f"\n{group}: {len(found)} variants, {missed} without a face, "
        f"{on_base} measured where the detector found the face on the base"
    )
    for name in MEASURES:
        values = sorted(
            abs(v) if name in ("roll", "yaw") else v
            for q in measured
            if (v := getattr(q, name)) is not None
        )
        if values:
            print(
                f"  {name:13s} min {values[0]:8.3f}  max {values[-1]:8.3f}  "
                f"(|x| for angles; {len(values)} values)"
            )


def fired(found: list[Sample], code: str) -> str:
    measured: list[Quality] = [s.quality for s in found if s.quality is not None]
    hits = sum(code in q.advice for q in measured)
    return f"{hits}/{len(found)}"


def main() -> None:
    detector = FaceDetector()
    quiet = list(samples(detector, {**clean_variants(), **mild_variants()}))
    summary("clean + mild", quiet)
    degraded = {code: list(samples(detector, v)) for code, v in degraded_variants().items()}
    for code, found in degraded.items():
        summary(f"degraded for {code}", found)
        for s in found:
            if s.quality is None or code not in s.quality.advice:
                print(f"    missed: {s.source} {s.base} {s.variant} {s.quality}")
    print("\nadvice fires on (a variant without a detected face counts as not fired):")
    for code in ADVICE:
        on_degraded = fired(degraded[code], code) if code in degraded else "n/a (landmark test)"
        print(f"  {code:12s} degraded {on_degraded:>8s}   clean+mild {fired(quiet, code):>8s}")
    for s in quiet:
        if s.quality is not None and s.quality.advice:
            print(f"    fired on clean/mild: {s.source} {s.base} {s.variant} {s.quality.advice}")


if __name__ == "__main__":
    main()
