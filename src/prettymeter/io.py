"""Safe file writing: atomic replace, never overwriting a user's file unless asked, and the
parts folder of a run that a rerun of the same command resumes."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prettymeter.errors import PrettyMeterError


def ensure_new_output(path: Path, overwrite: bool, flag: str = "--dst") -> None:
    """Refuse to replace an existing output unless the user said --overwrite."""
    if path.exists() and not overwrite:
        raise PrettyMeterError(
            f"{path} already exists; choose another {flag} or pass --overwrite to replace it"
        )
    path.parent.mkdir(parents=True, exist_ok=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists but is not ours (EPERM)
        return True
    return True


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Delete the temporaries `atomic_path` left beside `path` in runs that were killed (-9):
    only files named `.NAME.PID.*.tmp` whose process PID no longer exists."""
    return _remove_stale(path.parent, path.name)


def remove_stale_temporaries_in(folder: Path) -> list[Path]:
    """The same for every output in `folder` (a run directory being resumed)."""
    return _remove_stale(folder, None)


def _remove_stale(folder: Path, only: str | None) -> list[Path]:
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for sibling in folder.iterdir():
        name = sibling.name
        if not (name.startswith(".") and name.endswith(".tmp")) or not sibling.is_file():
            continue
        # .NAME.PID.RANDOM.tmp — NAME may hold dots, mkstemp's RANDOM does not
        parts = name[1 : -len(".tmp")].rsplit(".", 2)
        if len(parts) != 3 or (only is not None and parts[0] != only):
            continue
        pid = parts[1]
        if pid.isdigit() and int(pid) != os.getpid() and not _process_alive(int(pid)):
            sibling.unlink(missing_ok=True)
            removed.append(sibling)
    return removed


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path` in one rename.

    The temporary carries this process's id, so the next run can remove what a killed run left.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        # mkstemp makes the file private (0600); outputs get the usual permissions (umask).
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


MANIFEST = "manifest.json"  # what a resumable run is: its source, model and settings


def read_manifest(work: Path) -> dict[str, Any] | None:
    """The manifest of the run whose parts are in `work`; None when missing or unreadable."""
    try:
        found = json.loads((work / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return found if isinstance(found, dict) else None


def open_parts_folder(work: Path, manifest: dict[str, Any], overwrite: bool, mismatch: str) -> bool:
    """Make `work` for a run's finished parts, or keep it when it holds this very run (same
    manifest): True when kept, to resume. Another run's folder is `mismatch` (one line saying
    what to do), or is removed and made anew with `overwrite`. The folder appears with its
    manifest in it (made beside it, then renamed), so a kill never leaves one without; an empty
    folder without a manifest (left by an older version) holds nothing to keep and is replaced."""
    fresh = work.with_name(work.name + ".new")
    if fresh.exists():  # a kill before the rename: nothing in it but the manifest
        shutil.rmtree(fresh)
    if work.is_dir() and not any(work.iterdir()):  # no manifest, no parts: nothing to keep
        work.rmdir()
    if work.is_dir() and read_manifest(work) != manifest:
        if not overwrite:
            raise PrettyMeterError(mismatch)
        shutil.rmtree(work)
    if work.is_dir():
        return True
    fresh.mkdir(parents=True)
    atomic_write_text(fresh / MANIFEST, json.dumps(manifest, indent=2))
    os.replace(fresh, work)
    return False
