"""A broken model directory is refused at startup with one clear line; never half-loaded."""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from prettymeter import card as card_module
from tests.support.live import free_port
from tests.support.paths import CLI


class Evil:
    """Unpickling this would run a command: the service must never unpickle anything."""

    def __reduce__(self) -> tuple[Callable[..., object], tuple[str]]:
        return (os.system, ("touch /tmp/prettymeter-pwned",))


def _pickle_bytes() -> bytes:
    return pickle.dumps(Evil())


def wrong_hash(model_dir: Path) -> None:
    with open(model_dir / card_module.ONNX_FILE, "r+b") as handle:
        handle.seek(100)
        byte = handle.read(1)
        handle.seek(100)
        handle.write(bytes([byte[0] ^ 0xFF]))


def missing_card(model_dir: Path) -> None:
    (model_dir / card_module.CARD_FILE).unlink()


def other_schema(model_dir: Path) -> None:
    path = model_dir / card_module.CARD_FILE
    raw = json.loads(path.read_text())
    raw["schema"] = "prettymeter.card/2"
    path.write_text(json.dumps(raw))


def pickle_beside(model_dir: Path) -> None:
    (model_dir / "model.pt").write_bytes(_pickle_bytes())


def pickle_as_onnx(model_dir: Path) -> None:
    """A pickle under the ONNX name, with a card whose hash matches it."""
    onnx = model_dir / card_module.ONNX_FILE
    onnx.write_bytes(_pickle_bytes())
    path = model_dir / card_module.CARD_FILE
    raw = json.loads(path.read_text())
    raw["onnx_sha256"] = card_module.sha256_file(onnx)
    path.write_text(json.dumps(raw))


BREAKAGES = {
    "wrong hash": (wrong_hash, "does not match its card"),
    "missing card": (missing_card, "has no card.json"),
    "other schema version": (other_schema, "prettymeter.card/2"),
    "pickle file beside the model": (pickle_beside, "pickled files"),
    "pickle file named model.onnx": (pickle_as_onnx, "cannot be loaded by onnxruntime"),
}


def _serve(man: Path, woman: Path, port: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PRETTYMETER_ENGINE": "onnxruntime", "PRETTYMETER_THREADS": "1"}
    return subprocess.Popen(
        [str(CLI), "serve", "--man", str(man), "--woman", str(woman), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _watch_readiness(process: subprocess.Popen[str], port: int) -> list[int]:
    """Poll /readyz until the process exits; every status seen."""
    seen = []
    deadline = time.monotonic() + 120
    with httpx.Client(timeout=2) as client:
        while process.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                seen.append(client.get(f"http://127.0.0.1:{port}/readyz").status_code)
            time.sleep(0.02)
    if process.poll() is None:
        process.kill()
    process.wait(30)
    return seen


@pytest.mark.parametrize("breakage", list(BREAKAGES), ids=list(BREAKAGES))
def test_a_broken_model_directory_is_refused_at_startup_and_never_ready(
    hardening_models: dict[str, Path], tmp_path: Path, breakage: str
) -> None:
    """The good man model loads first; the broken woman model must stop the service, with
    /readyz never 200 on the way, one 'error:' line, and nothing ever unpickled."""
    if Path("/tmp/prettymeter-pwned").exists():
        Path("/tmp/prettymeter-pwned").unlink()
    break_it, phrase = BREAKAGES[breakage]
    woman = tmp_path / "woman"
    shutil.copytree(hardening_models["woman"], woman)
    break_it(woman)
    port = free_port()
    process = _serve(hardening_models["man"], woman, port)
    seen = _watch_readiness(process, port)
    stderr = process.stderr.read() if process.stderr else ""

    assert process.returncode != 0
    assert 200 not in seen
    last = [line for line in stderr.strip().splitlines() if line.strip()][-1]
    assert "error:" in stderr or "ERROR" in stderr, stderr[-2000:]
    assert phrase in stderr, stderr[-2000:]
    assert "Traceback" not in stderr, stderr[-2000:]  # one line, not a stack
    assert "Traceback" not in last
    assert not Path("/tmp/prettymeter-pwned").exists()
