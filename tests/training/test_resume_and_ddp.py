"""A killed run resumes to the same folds and result; 2-process CPU torchrun ranks agree."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from prettymeter.training.checkpoint import ROW_RECORDS
from tests.support.training import fast_config

pytestmark = pytest.mark.slow

SMALL = {"image_size": 32, "epochs": 3, "folds": 2, "batch_size": 16, "schedule": "constant"}
CLI_SMALL = [
    "--backbone", "mobilenet_v3_small", "--weights", "none", "--image-size", "32",
    "--epochs", "3", "--folds", "2", "--batch-size", "16", "--lr", "0.002",
    "--aug-jitter", "0", "--device", "cpu", "--log-every", "1", "--precision", "fp32",
]  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _epochs_done(run: Path, member: str) -> int:
    try:
        return int(json.loads((run / member / "state.json").read_text())["epochs_done"])
    except (OSError, ValueError, KeyError):
        return 0


def test_a_run_killed_mid_epoch_resumes_to_the_same_folds_and_result(
    synth_table: Path, tmp_path: Path
) -> None:
    from prettymeter.training.loop import train

    run = tmp_path / "killed"
    cmd = [sys.executable, "-m", "prettymeter", "train", "--data", str(synth_table)]
    cmd += ["--out", str(run), "--threads", "1", *CLI_SMALL]
    process = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while _epochs_done(run, "fold_1") < 1 and process.poll() is None:
            assert time.monotonic() < deadline, "the run never reached its first checkpoint"
            time.sleep(0.05)
        time.sleep(0.5)  # into fold_1's second epoch
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
    folds_before = (run / "folds.csv").read_bytes()
    assert not (run / "run.json").exists()
    assert _epochs_done(run, "fold_1") < 3

    train(fast_config(synth_table, run, resume=True))
    assert (run / "folds.csv").read_bytes() == folds_before
    assert json.loads((run / "run.json").read_text())["done"] is True
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    refit_epochs = json.loads((run / "run.json").read_text())["refit_epochs"]  # the default final
    assert sorted((r["member"], r["epoch"]) for r in rows) == [
        (f"fold_{f}", e) for f in range(2) for e in range(1, 4)
    ] + [("refit", e) for e in range(1, refit_epochs + 1)]

    # Nothing lost: the resumed run ends where an uninterrupted run with the same settings ends.
    fresh = train(
        fast_config(synth_table, tmp_path / "fresh", threads=1, **SMALL, lr=0.002, final="refit")
    )
    assert json.loads((fresh / "run.json").read_text())["std_scales"] == pytest.approx(
        json.loads((run / "run.json").read_text())["std_scales"], abs=1e-4
    )
    for name in ("folds.csv",):
        assert (fresh / name).read_bytes() == (run / name).read_bytes()
    for fold in range(2):
        a = json.loads((run / f"fold_{fold}" / "state.json").read_text())
        b = json.loads((fresh / f"fold_{fold}" / "state.json").read_text())
        assert a["best_epoch"] == b["best_epoch"]  # the same choice, on the same inner rows
        np.testing.assert_allclose(a["outer_pred"], b["outer_pred"], atol=1e-4)
        np.testing.assert_allclose(a["outer_std"], b["outer_std"], atol=1e-4)
        for name in ROW_RECORDS.values():
            assert (
                np.load(run / f"fold_{fold}" / name) == np.load(fresh / f"fold_{fold}" / name)
            ).all()


def test_torchrun_with_two_cpu_processes_ends_with_identical_weights_on_both_ranks(
    synth_table: Path, tmp_path: Path
) -> None:
    run = tmp_path / "ddp"
    torchrun = Path(sys.executable).with_name("torchrun")
    cmd = [str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "prettymeter", "train"]
    cmd += ["--data", str(synth_table), "--out", str(run), "--threads", "1", *CLI_SMALL]
    cmd[cmd.index("--epochs") + 1] = "2"
    result = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((run / "run.json").read_text())["done"] is True
    for fold in range(2):
        state = json.loads((run / f"fold_{fold}" / "state.json").read_text())
        digests = state["rank_weights_sha256"]
        assert len(digests) == 2 and digests[0] == digests[1]
    assert "batch 16×2" in result.stderr
    # Both ranks' batches are on record, and no rank's choice or training touched scored rows.
    with open(run / "folds.csv", newline="") as handle:
        folds = np.array([int(r["fold"]) for r in csv.DictReader(handle)])
    for fold in range(2):
        used = {k: np.load(run / f"fold_{fold}" / name) for k, name in ROW_RECORDS.items()}
        assert (used["outer"] == (folds == fold)).all()
        assert not (used["inner"] & used["outer"]).any()
        assert not (used["train"] & (used["inner"] | used["outer"])).any()
        assert used["train"].sum() > 0.9 * ((folds != fold).sum() - used["inner"].sum())
