"""What this CPU can do, read once from /proc/cpuinfo: shared by the engines and training."""

from __future__ import annotations

import functools
import math
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
    """The cores this process may use: its CPU affinity (taskset, container cpusets), capped by
    a cgroup v2 CPU quota (a Kubernetes or Docker CPU limit, rounded up), else every core."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cores = os.cpu_count() or 1
    quota = cgroup_cpu_quota()
    return max(1, min(cores, math.ceil(quota))) if quota is not None else cores


def cgroup_cpu_quota(path: Path = Path("/sys/fs/cgroup/cpu.max")) -> float | None:
    """CPUs allowed by this cgroup's quota (`cpu.max`: "<quota> <period>", or "max" for none)."""
    try:
        quota, period = path.read_text(encoding="utf-8").split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError, ZeroDivisionError):
        return None
