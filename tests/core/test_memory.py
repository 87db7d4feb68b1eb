"""tune_malloc: a freed large block goes back to the OS, where glibc's defaults keep it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from prettymeter.memory import _libc

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
