"""bench/gpu_check.sh --dry-run: every step of the GPU check runs on CPU and prints its row."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.deploy import REPO

pytestmark = pytest.mark.slow

ROWS = (
    "train step fp32",
    "train step bf16 autocast + channels-last",
    "bf16 + channels-last against fp32",
    "export (fp32 ONNX + card)",
    "fp16 against fp32 export",
    "service --device cpu",
)


def test_the_dry_run_prints_every_row_of_the_table() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRETTYMETER_")}
    run = subprocess.run(
        ["bash", str(REPO / "bench" / "gpu_check.sh"), "--dry-run"],
        env={**env, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=300,  # the dry run is short; the margin is for a machine shared with other tests
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    lines = run.stdout.splitlines()
    table = lines[lines.index(next(x for x in lines if x.startswith("CPU dry run"))) :]
    for row in ROWS:
        line = next((x for x in table if x.startswith(row)), None)
        assert line is not None, f"no row {row!r} in:\n" + "\n".join(table)
        assert "failed" not in line
    assert "img/s" in next(x for x in table if x.startswith("service"))
    assert "|Δscore| p50" in next(x for x in table if x.startswith("fp16"))
