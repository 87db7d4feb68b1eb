"""Process memory: keep glibc's malloc from holding on to freed memory in a long-lived process,
and release mapped model weights an engine no longer reads (`page_out`).

A server that decodes photos and runs batches on several threads frees large blocks all the
time; by default glibc keeps most of them: it gives each allocating thread its own arena (up
to 8 per core), and after a large block is freed it raises its mmap threshold to that block's
size, so later blocks of that size come from the heap and stay there: resident memory
climbs under load and does not come back. `tune_malloc()` caps the arenas and fixes the
thresholds, so freed photos and batches return to the system.
"""

from __future__ import annotations

import ctypes
import gc
import os
from pathlib import Path

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8  # glibc's mallopt parameters
TUNING = {
    # parameter: (environment variable that overrides it, value)
    M_ARENA_MAX: ("MALLOC_ARENA_MAX", 2),
    # Blocks ≥ 1 MiB: batches, large photos. Not glibc's 128 KiB start: then every photo's
    # decode buffers are mapped and zeroed afresh, which costs more speed than the memory it
    # saves (docs/benchmarks.md, Service).
    M_MMAP_THRESHOLD: ("MALLOC_MMAP_THRESHOLD_", 1 << 20),
    M_TRIM_THRESHOLD: ("MALLOC_TRIM_THRESHOLD_", 4 << 20),
}


def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt  # noqa: B018 - glibc has it; musl and others do not
    except (OSError, AttributeError):
        return None
    return libc


def tune_malloc() -> bool:
    """Two malloc arenas, large blocks from mmap (returned to the OS when freed), and a trim
    threshold; a `MALLOC_*` variable the user set wins. Call it before threads start. Returns
    False where the C library is not glibc (nothing is changed)."""
    libc = _libc()
    if libc is None:
        return False
    for parameter, (variable, value) in TUNING.items():
        if variable not in os.environ:
            libc.mallopt(parameter, value)
    return True


def release_free_memory() -> None:
    """Hand freed heap back to the OS (glibc keeps it otherwise): loading a model and checking
    its engine against a reference session leaves a few hundred MB of free heap behind."""
    gc.collect()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


MADV_PAGEOUT = 21  # Linux ≥ 5.4: reclaim these pages now (file pages are re-read when touched)


def page_out(path: str | Path) -> int:
    """Release this process's resident pages of the memory-mapped file `path`; returns the bytes
    of mapping advised (0 where the kernel or C library cannot, or nothing maps the file).

    An OpenVINO model read from its IR maps the weights file and keeps the mapping, while the
    CPU plugin packs its own copy of the weights on first use: once every batch size has run,
    the mapped pages are never read again, yet they count in the process's resident memory
    (RSS) until the kernel is short of memory. Releasing them is safe: a page touched later is
    read back from the file."""
    libc = _libc()
    target = str(Path(path).resolve())
    if libc is None or not hasattr(libc, "madvise"):
        return 0
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    released = 0
    try:
        maps = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        return 0
    for line in maps:
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and fields[5] == target:
            start, end = (int(v, 16) for v in fields[0].split("-"))
            if libc.madvise(start, end - start, MADV_PAGEOUT) == 0:
                released += end - start
    return released
