"""--weights imagenet: taken from torchvision's cache, or downloaded there (hash-checked), or one
line saying which file to put where — never a silent random init. No test touches the network:
downloads go to a server on 127.0.0.1 or to a proxy address where nothing listens."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch

from prettymeter.errors import PrettyMeterError
from prettymeter.training import model as model_module
from prettymeter.training.model import build_model_with_source

BACKBONE = "mobilenet_v3_small"
TORCHVISION_FILE = "mobilenet_v3_small-047dcff4.pth"  # torchvision's name: sha256 prefix inside
# The 1000-class layer that our 1-output head replaces.
HEAD = ("classifier.3.weight", "classifier.3.bias")
# Every https request goes through this proxy, where nothing listens: a download attempt fails at
# once with "connection refused" — the offline machine, made certain even where CI has internet.
REFUSED = "http://127.0.0.1:9"
OFFLINE = {"https_proxy": REFUSED, "HTTPS_PROXY": REFUSED}


def _imagenet_like_state(seed: int) -> dict[str, torch.Tensor]:
    """A state dict of torchvision's own mobilenet_v3_small (1000-class head), random values."""
    import torchvision

    torch.manual_seed(seed)
    net = torchvision.models.get_model(BACKBONE, weights=None)
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def _prepared_cache(torch_home: Path, seed: int = 3) -> dict[str, torch.Tensor]:
    """$TORCH_HOME/hub/checkpoints/<torchvision's file name>, as a user (or an earlier run) left it.

    Its content cannot carry the sha256 prefix 047dcff4 of the name; that is fine and is the
    point: like torch.hub, a file already in the cache is used as it is, and the hash is checked
    when the file is downloaded (tested below against a local server)."""
    state = _imagenet_like_state(seed)
    folder = torch_home / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    torch.save(state, folder / TORCHVISION_FILE)
    return state


def _assert_backbone_is(model_state: dict[str, torch.Tensor], state: dict[str, torch.Tensor]):  # type: ignore[no-untyped-def]
    for key, value in model_state.items():
        if key in HEAD:
            assert value.shape[0] != state[key].shape[0], key  # ours, not the 1000 classes
        elif not key.endswith("num_batches_tracked"):
            assert torch.equal(value, state[key]), key


def test_a_cached_imagenet_file_is_used_and_recorded_by_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = _prepared_cache(tmp_path / "torch")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def no_download(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cached file must not be downloaded again")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    model, source = build_model_with_source(BACKBONE, "imagenet")
    assert source == f"imagenet:{TORCHVISION_FILE}"
    _assert_backbone_is(model.state_dict(), state)


def test_a_run_from_the_cache_records_imagenet_and_its_file_and_starts_from_it(
    synth_table: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A whole training run with the default weights ('imagenet'), cache prepared."""
    from safetensors.torch import load_file

    from prettymeter.training.loop import train
    from tests.support.training import fast_config

    small = tmp_path / "small.parquet"
    pq.write_table(pq.read_table(synth_table).slice(0, 96), small)
    state = _prepared_cache(tmp_path / "torch")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(model_module, "imagenet_url", lambda b: f"{REFUSED}/{TORCHVISION_FILE}")
    config = fast_config(small, tmp_path / "run", weights="imagenet", image_size=32, epochs=1)
    config.folds, config.batch_size = 2, 16
    run = train(config)
    record = json.loads((run / "config.json").read_text())
    assert record["init"] == f"imagenet:{TORCHVISION_FILE}"
    assert record["config"]["weights"] == "imagenet"
    _assert_backbone_is(load_file(str(run / "init.safetensors")), state)


def _env(torch_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "all_proxy")}
    return {**env, **OFFLINE, "TORCH_HOME": str(torch_home), "OMP_NUM_THREADS": "1"}


def test_offline_without_the_file_train_stops_at_once_with_one_line_naming_it(
    tmp_path: Path,
) -> None:
    # Not a table at all: had train decoded anything before checking the weights, it would fail
    # on this file instead.
    table = tmp_path / "w.parquet"
    table.write_bytes(b"not read before the weights are at hand")
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "prettymeter", "train", "--data", str(table), "--out", str(run)]
    cmd += ["--backbone", BACKBONE]
    torch_home = tmp_path / "torch"
    result = subprocess.run(cmd, env=_env(torch_home), capture_output=True, text=True, timeout=120)
    expected = torch_home / "hub" / "checkpoints" / TORCHVISION_FILE
    assert result.returncode == 1, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors == result.stderr.splitlines()[-1:], result.stderr
    assert f"put the file {TORCHVISION_FILE}" in errors[0] and f"at {expected}," in errors[0]
    assert "--weights none" in errors[0]
    assert "Traceback" not in result.stderr
    assert not run.exists()
    assert not expected.exists() and not list(expected.parent.glob("*.partial"))


def test_offline_overwrite_leaves_the_old_run_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prettymeter.training.loop import train
    from tests.support.training import fast_config

    table = tmp_path / "w.parquet"
    table.write_bytes(b"not read before the weights are at hand")
    old = tmp_path / "run"
    old.mkdir()
    (old / "config.json").write_text("{}")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(model_module, "imagenet_url", lambda b: f"{REFUSED}/{TORCHVISION_FILE}")
    with pytest.raises(PrettyMeterError, match=f"put the file {TORCHVISION_FILE}"):
        train(fast_config(table, old, weights="imagenet", overwrite=True))
    assert [p.name for p in old.iterdir()] == ["config.json"]


@pytest.fixture
def weights_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A plain HTTP server on 127.0.0.1 serving the files put in the folder it yields."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", folder
    finally:
        server.shutdown()
        server.server_close()


def _serve(folder: Path, state: dict[str, torch.Tensor], name: str | None = None) -> str:
    """Save `state` in the served folder under `name`, or under torchvision's naming scheme with
    the file's real sha256 prefix; returns the file name."""
    scratch = folder / "scratch.pth"
    torch.save(state, scratch)
    digest = hashlib.sha256(scratch.read_bytes()).hexdigest()
    name = name or f"{BACKBONE}-{digest[:8]}.pth"
    scratch.rename(folder / name)
    return name


def test_an_absent_file_is_downloaded_into_the_cache_hash_checked_and_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, weights_server: tuple[str, Path]
) -> None:
    base, folder = weights_server
    state = _imagenet_like_state(seed=4)
    name = _serve(folder, state)
    # Only the address changes (torchvision's enum points at download.pytorch.org); the download,
    # hash check, cache placement and loading are the real code.
    monkeypatch.setattr(model_module, "imagenet_url", lambda backbone: f"{base}/{name}")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    model, source = build_model_with_source(BACKBONE, "imagenet")
    cached = tmp_path / "torch" / "hub" / "checkpoints" / name
    assert source == f"imagenet:{name}"
    assert cached.read_bytes() == (folder / name).read_bytes()
    _assert_backbone_is(model.state_dict(), state)


def test_a_download_that_does_not_match_the_hash_in_its_name_is_refused_and_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, weights_server: tuple[str, Path]
) -> None:
    base, folder = weights_server
    _serve(folder, _imagenet_like_state(seed=5), TORCHVISION_FILE)  # not torchvision's bytes
    monkeypatch.setattr(model_module, "imagenet_url", lambda backbone: f"{base}/{TORCHVISION_FILE}")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(PrettyMeterError, match="does not match the sha256 prefix 047dcff4"):
        build_model_with_source(BACKBONE, "imagenet")
    assert list((tmp_path / "torch" / "hub" / "checkpoints").iterdir()) == []


@pytest.mark.timeout(60)  # were the timeout lost, fail here instead of hanging
def test_a_download_that_stalls_gives_up_after_the_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    silent = socket.socket()  # accepts connections (kernel backlog) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/{TORCHVISION_FILE}"
        monkeypatch.setattr(model_module, "imagenet_url", lambda backbone: url)
        monkeypatch.setattr(model_module, "DOWNLOAD_TIMEOUT_S", 0.5)
        monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
        with pytest.raises(PrettyMeterError, match=r"cannot download .*\(timed out\)"):
            build_model_with_source(BACKBONE, "imagenet")
    finally:
        silent.close()
    assert socket.getdefaulttimeout() is None  # the process-wide default is restored
