"""bench/machine.py's gauge: every benchmark names the kernel OpenVINO's bf16 convolutions run
on (AMX or not) and marks a run not quiet when the CPU's convolution speed moved while it ran."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import replace
from types import ModuleType

import pytest

from tests.support.deploy import REPO


@pytest.fixture(scope="module")
def machine() -> Iterator[ModuleType]:
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import machine

        yield machine
    finally:
        sys.path.remove(str(REPO / "bench"))


def test_the_gauge_runs_in_the_served_precision_and_names_its_kernel(machine: ModuleType) -> None:
    gauge = machine.matrix_gauge()
    assert gauge is not None  # OpenVINO is installed with pretty-meter[serve]
    has_bf16 = "AVX-512 BF16" in machine.cpu_flags() or "AMX-BF16" in machine.cpu_flags()
    assert gauge.precision == ("bf16" if has_bf16 else "f32")
    # the primitive OpenVINO picked carries the precision it runs in (brgconv_avx512_bf16, ...)
    assert gauge.precision in gauge.kernel, gauge.kernel
    assert gauge.amx == ("amx" in gauge.kernel)
    assert 1 < gauge.gflops < 1e5


def test_a_gauge_that_moved_makes_the_run_not_quiet(machine: ModuleType) -> None:
    start = machine.Gauge("bf16", "brgconv_avx512_bf16", 300.0)
    assert machine.gauge_problem(start, replace(start, gflops=250.0)) is None  # −17 %
    assert machine.gauge_problem(start, None) is None
    moved = machine.gauge_problem(start, replace(start, gflops=200.0))
    assert moved is not None and "-33%" in moved

    watch = machine.Watch(machine.snapshot(sample_s=0.05))
    measured = machine.matrix_gauge()
    watch.machine.gauge = replace(measured, gflops=measured.gflops * 10)  # as if 10× faster
    verdict = watch.finish()
    assert not verdict.quiet
    assert verdict.gauge_at_end is not None
    assert any("convolution speed moved" in p for p in verdict.problems), verdict.problems
    assert "OpenVINO gauge at end" in verdict.describe()
