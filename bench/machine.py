"""What every benchmark records about its machine, and the loud warning when it was not quiet.

    from machine import Watch
    watch = Watch.start()          # prints CPU, flags, cores, load, busy processes (and waits
                                   # up to --wait-quiet seconds for the machine to calm down)
    ...                            # the benchmark
    verdict = watch.finish()       # how much CPU other processes took while it ran
    print(verdict.mark)            # "" on a quiet machine, else "[NOT QUIET: ...]" for titles

A benchmark's numbers are only worth reading on a quiet machine: its start-up check (1-minute
load average, processes outside the benchmark using a core) and its end check (CPU time spent
by everything outside this process tree while it ran, from /proc/stat, and the hypervisor's
steal time) say whether it was. Linux only (/proc); elsewhere the checks report "unknown".

A quiet load average does not mean the cores run at their usual speed: on a shared VM the
model's bf16 speed was seen to move 2× within a minute while nothing ran beside it. So both
checks also time one convolution through OpenVINO (`matrix_gauge`), in bf16 where the CPU has
it, and name the kernel OpenVINO picked for it, so a table says whether AMX did the work; a
gauge that moved more than GAUGE_DRIFT between start and end makes the run not quiet.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from prettymeter.hardware import usable_cores

LOAD_LIMIT = 0.5  # 1-minute load average at start above this: not quiet
BUSY_PROCESS_SHARE = 0.2  # a process outside the benchmark using more of a core than this
OTHERS_LIMIT = 0.25  # cores used on average by everything else while the benchmark ran
STEAL_LIMIT = 0.05  # share of the CPU time the hypervisor gave to other machines
GAUGE_DRIFT = 0.2  # the gauge's GFLOP/s at the end this far from the start's: not quiet
GAUGE_SECONDS = 0.3  # the gauge runs its convolution for this long (its median run counts)
FLAGS = {
    "avx2": "AVX2",
    "avx512f": "AVX-512",
    "avx512_vnni": "AVX-512 VNNI",
    "avx512_bf16": "AVX-512 BF16",
    "amx_tile": "AMX",
    "amx_bf16": "AMX-BF16",
    "amx_int8": "AMX-INT8",
}
PROC = Path("/proc")
HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass
class Gauge:
    """One 3×3 convolution (4 × 128 channels × 56 × 56: ~3.7 GFLOP) through OpenVINO's CPU
    plugin on every usable core, in bf16 where the CPU has it (the served model's precision)."""

    precision: str  # "bf16" or "f32"
    kernel: str  # OpenVINO's primitive: brgconv_avx512_amx_bf16 uses AMX, brgconv_avx512_bf16 not
    gflops: float  # at the median of the runs in GAUGE_SECONDS

    @property
    def amx(self) -> bool:
        return "amx" in self.kernel

    def describe(self) -> str:
        return f"{self.precision} convolution {self.gflops:.0f} GFLOP/s ({self.kernel})"


@dataclass
class Machine:
    """The CPU and how busy the machine is at one moment."""

    cpu_model: str
    cores: int  # usable by this process
    flags: list[str]  # the FLAGS names this CPU has
    load: tuple[float, float, float]
    busy: list[str] = field(default_factory=list)  # other processes using a core, "pid name %"
    gauge: Gauge | None = None  # None: OpenVINO is not installed

    @property
    def bf16(self) -> bool:
        return "AVX-512 BF16" in self.flags or "AMX-BF16" in self.flags

    @property
    def amx(self) -> bool:
        return "AMX" in self.flags

    @property
    def problems(self) -> list[str]:
        found = []
        if self.load[0] > LOAD_LIMIT:
            found.append(f"1-min load average {self.load[0]:.2f} > {LOAD_LIMIT}")
        if self.busy:
            found.append("busy: " + ", ".join(self.busy[:4]))
        return found

    def describe(self) -> str:
        flags = ", ".join(self.flags) or "none of " + ", ".join(FLAGS.values())
        return (
            f"machine: {self.cpu_model}, {self.cores} cores usable ({platform.machine()}); "
            f"bf16: {'yes' if self.bf16 else 'no'}, AMX: {'yes' if self.amx else 'no'} "
            f"[{flags}]\nload average at start: "
            + " ".join(f"{v:.2f}" for v in self.load)
            + " (1, 5, 15 min)"
            + (f"\nOpenVINO gauge at start: {self.gauge.describe()}" if self.gauge else "")
            + (
                "; the CPU has AMX but OpenVINO does not use it"
                if self.gauge and self.amx and not self.gauge.amx
                else ""
            )
        )


@dataclass
class Verdict:
    """Whether the machine stayed quiet while the benchmark ran."""

    quiet: bool
    problems: list[str]
    others_cores: float | None  # cores used on average by processes outside the benchmark
    steal_share: float | None
    seconds: float
    load_at_start: float
    load_at_end: tuple[float, float, float]
    gauge_at_end: Gauge | None = None

    @property
    def mark(self) -> str:
        """Appended to every table title: empty on a quiet machine."""
        if self.quiet:
            return ""
        others = "" if self.others_cores is None else f", others used {self.others_cores:.2f} cores"
        return f"  [NOT QUIET: load {self.load_at_start:.2f} at start{others}; not comparable]"

    def describe(self) -> str:
        others = "unknown" if self.others_cores is None else f"{self.others_cores:.2f} cores"
        steal = "unknown" if self.steal_share is None else f"{self.steal_share:.0%}"
        text = (
            f"while it ran ({self.seconds:.0f} s): other processes used {others} on average, "
            f"steal {steal}; load average at end " + " ".join(f"{v:.2f}" for v in self.load_at_end)
        )
        if self.gauge_at_end is not None:
            text += f"\nOpenVINO gauge at end: {self.gauge_at_end.describe()}"
        if not self.quiet:
            text += "\n" + warning(self.problems)
        return text


def warning(problems: list[str]) -> str:
    bar = "!" * 78
    return (
        f"{bar}\n!!! THE MACHINE IS NOT QUIET: the numbers below are not comparable with a "
        "quiet run.\n"
        + "".join(f"!!!   {p}\n" for p in problems)
        + "!!! Rerun alone on the machine (stop other jobs; --wait-quiet S waits for it).\n"
        + bar
    )


# -- /proc readers ---------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in (PROC / "cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def cpu_flags() -> list[str]:
    try:
        for line in (PROC / "cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                have = set(line.split(":", 1)[1].split())
                return [name for flag, name in FLAGS.items() if flag in have]
    except OSError:
        pass
    return []


def matrix_gauge(cores: int | None = None) -> Gauge | None:
    """Time the gauge's convolution now (see `Gauge`); None where OpenVINO is not installed."""
    try:
        import numpy as np
        import openvino as ov
        import openvino.opset13 as ops
    except ImportError:
        return None
    flags = cpu_flags()
    precision = "bf16" if "AVX-512 BF16" in flags or "AMX-BF16" in flags else "f32"
    shape, channels, side = [4, 128, 56, 56], 128, 56
    x = ops.parameter(shape, np.float32, name="x")
    weights = np.random.default_rng(0).standard_normal((channels, channels, 3, 3), np.float32)
    y = ops.convolution(x, ops.constant(weights), [1, 1], [1, 1], [1, 1], [1, 1])
    config = {
        "INFERENCE_PRECISION_HINT": precision,
        "INFERENCE_NUM_THREADS": cores or usable_cores(),
        "PERFORMANCE_HINT": "LATENCY",
    }
    compiled = ov.Core().compile_model(ov.Model([y], [x], "gauge"), "CPU", config)
    kernel = next(
        (
            op.get_rt_info()["primitiveType"].astype(str)
            for op in compiled.get_runtime_model().get_ordered_ops()
            if op.get_rt_info()["layerType"].astype(str) == "Convolution"
        ),
        "unknown",
    )
    request = compiled.create_infer_request()
    data = np.random.default_rng(1).standard_normal(shape, np.float32)
    request.infer({0: data})  # the first run prepares the kernel
    runs: list[float] = []
    started = time.perf_counter()
    while time.perf_counter() - started < GAUGE_SECONDS or len(runs) < 3:
        begin = time.perf_counter()
        request.infer({0: data})
        runs.append(time.perf_counter() - begin)
    flop = 2 * shape[0] * channels * side * side * channels * 9
    return Gauge(precision, kernel, flop / statistics.median(runs) / 1e9)


def gauge_problem(start: Gauge | None, end: Gauge | None) -> str | None:
    """Why the run is not quiet by its gauges (None: they agree, or one is missing)."""
    if start is None or end is None:
        return None
    change = end.gflops / start.gflops - 1
    if abs(change) <= GAUGE_DRIFT:
        return None
    return (
        f"the CPU's {start.precision} convolution speed moved {change:+.0%} while it ran "
        f"({start.gflops:.0f} → {end.gflops:.0f} GFLOP/s; > {GAUGE_DRIFT:.0%})"
    )


def _process_table() -> dict[int, tuple[int, int, str]]:
    """pid → (parent pid, CPU ticks used so far, name) for every process we can read."""
    table = {}
    for entry in PROC.iterdir() if PROC.is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        # fields[0] is the state, [1] the parent, [11] utime and [12] stime
        table[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]), name)
    return table


def _tree(table: dict[int, tuple[int, int, str]], root: int) -> set[int]:
    """`root` and every live descendant of it."""
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in table.items():
        children.setdefault(parent, []).append(pid)
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        found.add(pid)
        todo.extend(children.get(pid, []))
    return found


def _command(pid: int, name: str, width: int = 48) -> str:
    try:
        words = (PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
        text = " ".join(
            Path(w.decode(errors="replace")).name if i == 0 else w.decode(errors="replace")
            for i, w in enumerate(words)
            if w
        )
    except OSError:
        text = ""
    text = text or name
    return text if len(text) <= width else text[: width - 1] + "…"


def busy_processes(sample_s: float = 0.5) -> list[str]:
    """Processes outside this one's tree that used more than BUSY_PROCESS_SHARE of a core."""
    before = _process_table()
    if not before:
        return []
    time.sleep(sample_s)
    after = _process_table()
    ours = _tree(after, os.getpid())
    busy = []
    for pid, (_, ticks, name) in after.items():
        if pid in ours or pid not in before:
            continue
        share = (ticks - before[pid][1]) / HZ / sample_s
        if share > BUSY_PROCESS_SHARE:
            busy.append((share, f"{pid} {_command(pid, name)} {share:.0%}"))
    return [text for _, text in sorted(busy, reverse=True)]


def _cpu_ticks() -> tuple[int, int, int] | None:
    """(busy, steal, total) CPU ticks of the whole machine since boot, from /proc/stat."""
    try:
        first = (PROC / "stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = (int(v) for v in first[1:9])
    busy = user + nice + system + irq + softirq
    return busy, steal, busy + idle + iowait + steal


def _own_cpu_s() -> float:
    """CPU seconds of this process, its waited-for children and its live descendants."""
    times = os.times()
    total = times.user + times.system + times.children_user + times.children_system
    table = _process_table()
    for pid in _tree(table, os.getpid()) - {os.getpid()}:
        total += table[pid][1] / HZ
    return total


def snapshot(sample_s: float = 0.5) -> Machine:
    return Machine(
        cpu_model=cpu_model(),
        cores=usable_cores(),
        flags=cpu_flags(),
        load=os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0),
        busy=busy_processes(sample_s),
    )


# -- the watch a benchmark starts and finishes -----------------------------------------------------


class Watch:
    """Started first thing in a benchmark, finished before its tables are printed."""

    def __init__(self, machine: Machine) -> None:
        self.machine = machine
        self._started = time.perf_counter()
        self._ticks = _cpu_ticks()
        self._own = _own_cpu_s()

    @classmethod
    def start(cls, wait_quiet_s: float = 0.0, quiet_output: bool = False) -> Watch:
        """Describe the machine (print it unless `quiet_output`), after waiting up to
        `wait_quiet_s` seconds for the load to fall under LOAD_LIMIT."""
        machine = snapshot()
        deadline = time.monotonic() + wait_quiet_s
        while machine.problems and time.monotonic() < deadline:
            time.sleep(min(10.0, max(0.0, deadline - time.monotonic())))
            machine = snapshot()
        machine.gauge = matrix_gauge(machine.cores)
        if not quiet_output:
            print(machine.describe(), flush=True)
            if machine.problems:
                print(warning(machine.problems), flush=True)
                print(warning(machine.problems), file=sys.stderr, flush=True)
        return cls(machine)

    def finish(self) -> Verdict:
        seconds = max(1e-9, time.perf_counter() - self._started)
        others = steal = None
        ticks = _cpu_ticks()
        if ticks is not None and self._ticks is not None and seconds >= 1.0:
            busy = (ticks[0] - self._ticks[0]) / HZ
            total = max(1, ticks[2] - self._ticks[2])
            others = max(0.0, (busy - (_own_cpu_s() - self._own)) / seconds)
            steal = (ticks[1] - self._ticks[1]) / total
        problems = list(self.machine.problems)
        if others is not None and others > OTHERS_LIMIT:
            problems.append(
                f"other processes used {others:.2f} cores on average while it ran "
                f"(> {OTHERS_LIMIT})"
            )
        if steal is not None and steal > STEAL_LIMIT:
            problems.append(f"the hypervisor stole {steal:.0%} of the CPU time")
        gauge = matrix_gauge(self.machine.cores) if self.machine.gauge is not None else None
        drift = gauge_problem(self.machine.gauge, gauge)
        if drift is not None:
            problems.append(drift)
        load_at_end = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
        return Verdict(
            not problems,
            problems,
            others,
            steal,
            seconds,
            self.machine.load[0],
            load_at_end,
            gauge,
        )

    def record(self, verdict: Verdict) -> dict[str, Any]:
        """Both checks as one JSON-able dict, for --json outputs."""
        return {"machine": asdict(self.machine), "verdict": asdict(verdict)}


# -- small shared measures -------------------------------------------------------------------------


def _median_ms(
    run: Callable[[], object], repeats: int, warm: int, clock: Callable[[], float]
) -> float:
    """Median ms of one call of `run` by `clock`, after `warm` untimed calls."""
    for _ in range(warm):
        run()
    samples = []
    for _ in range(max(1, repeats)):
        started = clock()
        run()
        samples.append(clock() - started)
    return statistics.median(samples) * 1000


def cpu_ms(run: Callable[[], object], repeats: int, warm: int = 1) -> float:
    """Median CPU ms (every thread of this process) of one call of `run`."""
    return _median_ms(run, repeats, warm, time.process_time)


def wall_ms(run: Callable[[], object], repeats: int, warm: int = 1) -> float:
    """Median wall-clock ms of one call of `run` (the latency one client sees)."""
    return _median_ms(run, repeats, warm, time.perf_counter)


def process_cpu_s(pid: int | str = "self") -> float:
    """CPU seconds a running process has used so far (/proc/PID/stat utime + stime)."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ceiling_img_s(cpu_ms_per_photo: float, cores: int) -> float:
    """Photos per second the machine's cores could process at this CPU cost per photo, if
    nothing else ran and every core were busy with it."""
    return cores * 1000.0 / cpu_ms_per_photo if cpu_ms_per_photo > 0 else float("inf")
