"""synth: deterministic rated images in the dataset format, with copies and low-voice photos."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from prettymeter.data.synth import generate
from prettymeter.errors import PrettyMeterError
from prettymeter.labels import parse_name
from tests.support.pipeline import tree_hashes


def test_the_same_seed_gives_the_same_files_and_another_seed_does_not(tmp_path: Path) -> None:
    generate(tmp_path / "a", 30, seed=5, size=48)
    generate(tmp_path / "b", 30, seed=5, size=48)
    generate(tmp_path / "c", 30, seed=6, size=48)
    assert tree_hashes(tmp_path / "a") == tree_hashes(tmp_path / "b")
    assert tree_hashes(tmp_path / "a") != tree_hashes(tmp_path / "c")


def test_every_file_is_named_in_the_dataset_format_with_the_expected_spread(tmp_path: Path) -> None:
    summary = generate(tmp_path / "ds", 200, seed=1, size=48)
    files = sorted((tmp_path / "ds").iterdir())
    assert len(files) == 200
    labels = [parse_name(p.name) for p in files]
    assert {lab.gender for lab in labels} == {"m", "w"}
    assert 0 < sum(lab.country == "unknown" for lab in labels) < 100
    assert 0 < sum(lab.voices < 40 for lab in labels) < 100
    assert summary["exact_copies"] > 0 and summary["near_copies"] > 0
    rates = np.array([lab.rate for lab in labels])
    assert rates.std() > 0.8  # a real spread to learn


def test_dedupe_finds_the_copies_synth_made(tmp_path: Path) -> None:
    from prettymeter.data.dedupe import dedupe
    from prettymeter.data.ingest import ingest

    summary = generate(tmp_path / "ds", 200, seed=2, size=128)
    ingest(tmp_path / "ds", tmp_path / "raw.parquet")
    result = dedupe(tmp_path / "raw.parquet", tmp_path / "dedup.parquet")
    assert result["rows_merged"] == summary["exact_copies"] + summary["near_copies"]
    assert pq.read_table(tmp_path / "dedup.parquet").num_rows == 200 - result["rows_merged"]


def test_the_drawn_attributes_carry_the_rate(tmp_path: Path) -> None:
    from prettymeter.data.synth import Face, draw, true_rate

    rng = np.random.default_rng(0)
    base = dict(
        size=0.5,
        skin=0.5,
        eyes=0.5,
        hair=0.5,
        symmetry=0.5,
        gender="w",
        cx=0.5,
        cy=0.5,
        background=(0, 0, 0, 0, 0, 0),
        shirt=(0, 0, 0),
        clutter=0,
    )
    dull, bright = Face(**{**base, "skin": 0.0}), Face(**{**base, "skin": 1.0})
    assert true_rate(bright) - true_rate(dull) == pytest.approx(2.0)
    centre = (slice(110, 130), slice(118, 138))
    dark = np.asarray(draw(dull, 256, rng))[centre].mean()
    light = np.asarray(draw(bright, 256, rng))[centre].mean()
    assert light > dark + 60


def test_a_non_empty_folder_is_not_written_into_without_the_flag(tmp_path: Path) -> None:
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "mine.txt").write_text("keep")
    with pytest.raises(PrettyMeterError, match="--overwrite"):
        generate(tmp_path / "ds", 5, seed=1)
    generate(tmp_path / "ds", 5, seed=1, size=48, overwrite=True)
    assert (tmp_path / "ds" / "mine.txt").read_text() == "keep"
    assert len(list((tmp_path / "ds").iterdir())) == 6


def test_the_cli_chain_synth_ingest_dedupe_normalize_works(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "prettymeter", *args],
            capture_output=True,
            text=True,
            check=False,
            cwd=tmp_path,
        )

    assert run("synth", "--out", "ds", "--n", "40", "--seed", "1", "--size", "48").returncode == 0
    assert run("ingest", "--ds", "ds", "--dst", "raw.parquet").returncode == 0
    assert run("dedupe", "--src", "raw.parquet", "--dst", "dedup.parquet").returncode == 0
    done = run(
        "normalize",
        "--src",
        "dedup.parquet",
        "--dst",
        "m.parquet",
        "--gender",
        "m",
        "--min-voices",
        "1",
        "--no-plots",
    )
    assert done.returncode == 0, done.stderr
    assert "lo / med / hi" in done.stdout
    again = run("normalize", "--src", "dedup.parquet", "--dst", "m.parquet", "--gender", "m")
    assert again.returncode == 1
    assert again.stderr.strip() == (
        "error: m.parquet already exists; choose another --dst or pass --overwrite to replace it"
    )
    for verb in ("synth", "ingest", "dedupe", "normalize"):
        assert run(verb, "--help").returncode == 0
