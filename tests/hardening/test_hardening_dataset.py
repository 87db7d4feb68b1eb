"""A hostile dataset runs through ingest → dedupe → detect → normalize, every problem reported."""

from __future__ import annotations

import csv
import io
import os
import subprocess
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from PIL import Image

from tests.support.paths import CLI

TINY_FILES = 10_000
BIG_BYTES = 100 * 1024 * 1024


def _png(image: Image.Image, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **options)
    return buffer.getvalue()


def _photo(seed: int, side: int = 48) -> bytes:
    rng = np.random.default_rng(seed)
    return _png(Image.fromarray(rng.integers(0, 255, (side, side, 3), dtype=np.uint8), "RGB"))


def hostile_dataset(ds: Path) -> dict[str, str]:
    """Write the dataset; returns the files that must be rejected → a word of their reason."""
    ds.mkdir()
    for i in range(8):  # a few good photos of each gender so every stage has work
        gender = "mw"[i % 2]
        (ds / f"good{i}_{gender}_fr_{3 + i * 0.5:.1f}_60.png").write_bytes(_photo(i))
    good = _photo(99)
    (ds / "broken_m_fr_5.0_60.png").write_bytes(good[: len(good) // 3])
    (ds / "empty_w_fr_5.0_60.png").write_bytes(b"")
    odd = ds / "my phötos ✨ 2024"
    odd.mkdir()
    (odd / "фото 1_w_россия_7.5_80.png").write_bytes(_photo(100))
    (odd / "loop").symlink_to("..", target_is_directory=True)  # a symlink loop
    (ds / "dangling_m_fr_5.0_60.png").symlink_to(ds / "nowhere.png")
    # a 100 MB photo: ~33 megapixels of noise stored without compression
    side = int((BIG_BYTES / 3) ** 0.5) + 1
    noise = np.random.default_rng(7).integers(0, 255, (side, side, 3), dtype=np.uint8)
    (ds / "big_m_fr_6.0_60.png").write_bytes(_png(Image.fromarray(noise, "RGB"), compress_level=0))
    del noise
    tiny = ds / "tiny"
    tiny.mkdir()
    tiny_bytes = _png(Image.new("RGB", (4, 4), (120, 80, 60)))
    for i in range(TINY_FILES):  # 10,000 copies of one tiny photo: one duplicate cluster
        (tiny / f"t{i}_{'mw'[i % 2]}_unknown_{i % 100 / 10:.1f}_{40 + i % 7}.png").write_bytes(
            tiny_bytes
        )
    return {
        "broken_m_fr_5.0_60.png": "not_an_image",
        "empty_w_fr_5.0_60.png": "empty",
        "dangling_m_fr_5.0_60.png": "cannot be read",
        "my phötos ✨ 2024/loop/": "symlinked folder",
    }


def pretty_meter(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # each stage is linear in the photos: a minute is ample, and a quadratic stage runs past it
    done = subprocess.run([CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    return done


def test_a_hostile_dataset_runs_through_with_every_problem_reported_and_no_crash(
    tmp_path: Path,
) -> None:
    ds = tmp_path / "ds"
    expected_rejects = hostile_dataset(ds)
    big = ds / "big_m_fr_6.0_60.png"
    assert big.stat().st_size >= BIG_BYTES

    ingest = pretty_meter("ingest", "--ds", "ds", "--dst", "t/raw.parquet", cwd=tmp_path)
    big.unlink()  # 100 MB of disk for no longer than needed (the table holds its bytes)
    with open(tmp_path / "t" / "raw.rejects.csv", encoding="utf-8") as handle:
        rejects = {row["path"]: row["reason"] for row in csv.DictReader(handle)}
    for name, word in expected_rejects.items():
        assert word in rejects.get(name, ""), (name, rejects.get(name))
        assert name in ingest.stderr
    raw = pq.read_table(tmp_path / "t" / "raw.parquet", columns=["path", "width"])
    paths = set(raw.column("path").to_pylist())
    assert "my phötos ✨ 2024/фото 1_w_россия_7.5_80.png" in paths
    assert "big_m_fr_6.0_60.png" in paths
    assert sum(p.startswith("tiny/") for p in paths) == TINY_FILES
    assert not any("loop/" in p for p in paths)  # the symlink loop is not followed
    assert raw.num_rows == 8 + 1 + 1 + TINY_FILES

    pretty_meter("dedupe", "--src", "t/raw.parquet", "--dst", "t/dedup.parquet", cwd=tmp_path)
    dedup = pq.read_table(tmp_path / "t" / "dedup.parquet", columns=["path", "merged"])
    merged = dict(
        zip(dedup.column("path").to_pylist(), dedup.column("merged").to_pylist(), strict=True)
    )
    assert max(merged.values()) >= TINY_FILES // 2  # the tiny copies collapse (per gender)

    pretty_meter(
        "detect", "--src", "t/dedup.parquet", "--dst", "t/crops.parquet",
        "--detector", "none", "--crop-size", "32", cwd=tmp_path,
    )  # fmt: skip
    assert pq.read_metadata(tmp_path / "t" / "crops.parquet").num_rows == dedup.num_rows
    for gender in "mw":
        pretty_meter(
            "normalize", "--src", "t/crops.parquet", "--dst", f"t/{gender}.parquet",
            "--gender", gender, "--no-plots", cwd=tmp_path,
        )  # fmt: skip
        assert pq.read_metadata(tmp_path / "t" / f"{gender}.parquet").num_rows > 0
    assert os.path.islink(ds / "my phötos ✨ 2024" / "loop")
