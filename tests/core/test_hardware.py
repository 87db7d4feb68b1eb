"""usable_cores: the CPU affinity, capped by a container's cgroup CPU quota."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from prettymeter import hardware


@pytest.mark.parametrize(
    ("text", "cpus"),
    [("150000 100000\n", 1.5), ("200000 100000\n", 2.0), ("max 100000\n", None), ("", None)],
)
def test_the_cgroup_quota_is_read_from_cpu_max(tmp_path: Path, text: str, cpus: float) -> None:
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text(text)
    assert hardware.cgroup_cpu_quota(cpu_max) == cpus
    assert hardware.cgroup_cpu_quota(tmp_path / "missing") is None


def test_a_cpu_limit_caps_the_usable_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    affinity = len(os.sched_getaffinity(0))
    monkeypatch.setattr(hardware, "cgroup_cpu_quota", lambda: None)
    assert hardware.usable_cores() == affinity
    monkeypatch.setattr(hardware, "cgroup_cpu_quota", lambda: 0.5)  # half a core: one thread
    assert hardware.usable_cores() == 1
    monkeypatch.setattr(hardware, "cgroup_cpu_quota", lambda: affinity + 8.0)  # affinity wins
    assert hardware.usable_cores() == affinity
