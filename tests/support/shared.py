"""What a test run builds once for all its pytest-xdist workers: one folder per recipe.

A session fixture runs once per worker, so with `-n 2` both workers would train, export or
prepare the same test models. `shared_folder` gives every worker of one run the same folder for
a recipe and holds a file lock while the first one builds it; the others wait and reuse it.
Without xdist it is an ordinary folder of the session's temporary directory.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

BUILT = ".built"


def run_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The temporary folder every worker of this pytest run shares: under xdist the parent of
    the worker's own (pytest-N/popen-gwK), else this session's own."""
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "shared"
    root.mkdir(exist_ok=True)
    return root


def shared_folder(
    tmp_path_factory: pytest.TempPathFactory, recipe: str, build: Callable[[Path], object]
) -> Path:
    """The run's folder for `recipe` (a name that says what is in it and how it was made),
    filled by `build(folder)` the first time any worker asks; a build that failed half way is
    thrown away and started again by the next one to ask."""
    root = run_root(tmp_path_factory)
    folder = root / recipe
    with open(root / f"{recipe}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (folder / BUILT).is_file():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            (folder / BUILT).touch()
    return folder
