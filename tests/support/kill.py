"""A process dying at one exact step of writing its output, for the resume tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from prettymeter import parts


@contextlib.contextmanager
def dies_when_renaming_to(at: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The parts folder's rename onto `at` raises KeyboardInterrupt, as a kill -9 right there
    would stop the run; the block must end with that interrupt."""
    real_replace = parts.os.replace

    def replace_then_die(src: object, dst: object) -> None:
        if Path(str(dst)) == at:
            raise KeyboardInterrupt  # the process dies right here, as under kill -9
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(parts.os, "replace", replace_then_die)
    with pytest.raises(KeyboardInterrupt):
        yield
    monkeypatch.setattr(parts.os, "replace", real_replace)
