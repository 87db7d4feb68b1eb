"""The public Python API: `prettymeter.Rater` reads paths, bytes and images, and a bad photo
gets an error without stopping the others."""

from __future__ import annotations

from pathlib import Path

from prettymeter import Rater


def test_a_file_over_the_byte_limit_is_refused_before_it_is_read(
    model_dirs: dict[str, Path], man_png: Path, tmp_path: Path
) -> None:
    rater = Rater(
        model_dirs["man"], engine="onnxruntime", max_file_bytes=man_png.stat().st_size - 1
    )
    big, missing = rater.rate([man_png, tmp_path / "nope.jpg"])
    assert big.error == "too_large" and big.score is None and "above the limit" in str(big.message)
    assert missing.error == "not_found" and "does not exist" in str(missing.message)
    fine = Rater(model_dirs["man"], engine="onnxruntime").rate_one(man_png)
    assert fine.error is None and fine.score is not None and 0.0 <= fine.score <= 10.0
    assert fine.source == str(man_png)
