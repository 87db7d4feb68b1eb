"""Loading a model directory: the ONNX file's hash is read once per file version per process
(`serve` checks a directory, then loads it), and any change to the file is still refused."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from prettymeter import card as card_module
from prettymeter.errors import PrettyMeterError


def test_a_model_is_hashed_once_and_a_changed_file_is_refused(
    model_dirs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tmp_path / "man"
    shutil.copytree(model_dirs["man"], model)
    hashed: list[Path] = []
    real = card_module.sha256_file

    def counted(path: Path) -> str:
        hashed.append(path)
        return real(path)

    monkeypatch.setattr(card_module, "sha256_file", counted)
    card_module.load_model_dir(model)
    card_module.load_model_dir(model)
    assert len(hashed) == 1

    onnx = model / card_module.ONNX_FILE
    stat = onnx.stat()
    data = bytearray(onnx.read_bytes())
    data[-1] ^= 1  # one bit, same size
    onnx.write_bytes(bytes(data))
    os.utime(onnx, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))  # even on a coarse clock
    with pytest.raises(PrettyMeterError, match="does not match its card"):
        card_module.load_model_dir(model)
    assert len(hashed) == 2
