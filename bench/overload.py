"""Overload: measure the service's capacity, then offer twice that; prints how it sheds.

    .venv/bin/python bench/overload.py [--seconds 20] [--factor 2]

Capacity is the closed-loop throughput of one-photo requests on the original route at a
concurrency that keeps the model busy (the baseline, measured in the same run); the overload
phase sends requests at `factor` × that rate, open loop, whatever the answers. Expected: only 200
and 429/503 (each with Retry-After), no 5xx, no timeouts, and served latency bounded by the queue.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

import testkit  # noqa: F401 - first: the repository root on the import path

from tests.support.live import model_service
from tests.support.load import closed_loop, open_loop
from tests.support.models import model_dirs
from tests.support.photos import seed_body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="per phase")
    parser.add_argument("--factor", type=float, default=2.0, help="offered load ÷ capacity")
    parser.add_argument("--concurrency", type=int, default=8, help="clients while measuring")
    parser.add_argument("--queue", type=int, default=16, help="batching.queue_size")
    parser.add_argument("--models", type=Path, default=Path(tempfile.gettempdir()) / "pm-bench")
    parser.add_argument(
        "--wait-quiet", type=float, default=0.0, help="seconds to wait for a quiet machine"
    )
    args = parser.parse_args()

    from machine import Watch

    watch = Watch.start(args.wait_quiet)

    models = model_dirs(args.models)
    env = {
        "PRETTYMETER_BATCHING__QUEUE_SIZE": str(args.queue),
        "PRETTYMETER_LIMITS__MAX_INSTANCES": str(args.queue),
    }
    body = seed_body(1)
    with model_service(models, env) as service:
        asyncio.run(closed_loop(service.url, 2, 3.0, body))  # warm up
        base = asyncio.run(closed_loop(service.url, args.concurrency, args.seconds, body))
        capacity = base.ok / base.seconds
        rate = args.factor * capacity
        over = asyncio.run(open_loop(service.url, rate, args.seconds, body, timeout=60))
        alive = service.alive()

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value * 1000:.0f}"

    verdict = watch.finish()
    print(f"\nservice: 1 photo per request, queue {args.queue}{verdict.mark}")
    print(f"{'phase':<22}{'offered/s':>10}{'sent':>7}{'200':>7}{'429/503':>9}{'5xx':>6}"
          f"{'errors':>8}{'served/s':>10}{'p50 ms':>8}{'p99 ms':>8}")  # fmt: skip
    for name, offered, report in (
        (f"baseline c={args.concurrency}", None, base),
        (f"overload {args.factor:g}x", rate, over),
    ):
        print(
            f"{name:<22}{'closed' if offered is None else f'{offered:.1f}':>10}{report.sent:>7}"
            f"{report.ok:>7}{report.shed:>9}{report.server_errors:>6}"
            f"{sum(report.errors.values()):>8}{report.ok / report.seconds:>10.1f}"
            f"{ms(report.percentile(50)):>8}{ms(report.percentile(99)):>8}"
        )
    p99_base, p99_over = base.percentile(99), over.percentile(99)
    ratio = p99_over / p99_base if p99_base and p99_over else float("nan")
    print(f"served throughput ratio overload/baseline: {over.ok / over.seconds / capacity:.2f}")
    print(f"served p99 latency ratio overload/baseline: {ratio:.2f}")
    print(f"shed answers without Retry-After: {over.shed_without_retry_after}; errors: "
          f"{dict(over.errors) or 'none'}; service alive after: {alive}")  # fmt: skip
    print(verdict.describe())
    good = (
        over.server_errors == 0
        and not over.errors
        and over.shed > 0
        and over.shed_without_retry_after == 0
        and alive
    )
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
