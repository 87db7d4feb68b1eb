"""tune_malloc: a freed large block goes back to the OS, where glibc's defaults keep it;
page_out: a mapped file's resident pages go, its bytes stay."""

from __future__ import annotations

import mmap
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from prettymeter.memory import _libc, page_out

# Allocate and free a 20 MiB block (a batch's worth of activations) twice, on another thread
# as the service's pools do, and print how much resident memory stayed behind. With glibc's
# defaults the first free raises the mmap threshold to 20 MiB (and the trim threshold to 40),
# so the second block comes from the thread's heap and stays there.
CHURN = """
import os, sys, threading
import numpy as np
from prettymeter.memory import tune_malloc
if sys.argv[1] == "tuned":
    tune_malloc()
def rss():
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) for l in status if l.startswith("VmRSS")) / 1024
before = rss()
def churn():
    for _ in range(2):
        block = np.ones(20 << 17)  # 20 MiB of float64, touched
        del block
thread = threading.Thread(target=churn)
thread.start()
thread.join()
print(rss() - before)
"""


def retained_mb(mode: str) -> float:
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("MALLOC_")}
    result = subprocess.run(
        [sys.executable, "-c", CHURN, mode], capture_output=True, text=True, env=env, check=True
    )
    return float(result.stdout.strip())


@pytest.mark.skipif(_libc() is None, reason="the C library is not glibc: nothing to tune")
def test_a_freed_large_block_is_returned_to_the_os_after_tune_malloc() -> None:
    assert retained_mb("default") > 16  # what the service suffered from: glibc keeps it
    assert retained_mb("tuned") < 4


def resident_kb(path: Path) -> int | None:
    """This process's resident kB of its mappings of `path` (None: nothing maps the file)."""
    found, inside = None, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split(maxsplit=1)[0]
        if "-" in head and not head.endswith(":"):  # a mapping's first line: its range
            inside = line.endswith(str(path.resolve()))
            found = (found or 0) if inside else found
        elif inside and head == "Rss:":
            found = (found or 0) + int(line.split()[1])
    return found


@pytest.mark.skipif(_libc() is None, reason="needs glibc")
def test_page_out_drops_a_mapped_files_resident_pages_and_keeps_its_bytes(tmp_path: Path) -> None:
    # What an OpenVINO engine leaves behind once warm: the weights file, mapped and read once.
    data = np.random.default_rng(0).integers(0, 255, 4 << 20, dtype=np.uint8).tobytes()
    path = tmp_path / "model.weights"
    path.write_bytes(data)
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as mapped:
        assert bytes(mapped) == data  # every page read: resident
        assert (resident_kb(path) or 0) >= 4000
        assert page_out(path) >= len(data)
        assert resident_kb(path) == 0
        assert bytes(mapped) == data  # read back from the file when touched again
    assert page_out(tmp_path / "not-mapped") == 0
