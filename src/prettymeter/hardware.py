"""What this CPU can do, read once from /proc/cpuinfo: shared by the engines and training."""

from __future__ import annotations

import functools
import os
from pathlib import Path

BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU feature flags from /proc/cpuinfo (empty where it cannot be read)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def cpu_has_amx() -> bool:
    return "amx_bf16" in cpu_flags()


def cpu_has_bf16() -> bool:
    """Native bf16 matrix instructions (AVX-512 BF16 or AMX): bf16 inference and autocast pay
    off there."""
    return bool(cpu_flags() & BF16_CPU_FLAGS)


def usable_cores() -> int:
    """The cores this process may run on (taskset, container cpusets), else every core."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
