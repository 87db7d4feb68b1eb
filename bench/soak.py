"""Soak: c clients for N minutes on loopback; RSS at start and end, errors, latency drift.

    .venv/bin/python bench/soak.py [--minutes 10] [--concurrency 32]

The service runs in its own process (its RSS is read from /proc). The baseline is the first
minute after a warm-up, measured in the same run; the table gives the last minute's ratio to it.
Pass: RSS growth < 10 %, no errors and no 5xx (429s would be deliberate shedding).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import testkit  # noqa: F401 - first: the repository root on the import path

from tests.support.live import model_service
from tests.support.load import LoadReport, closed_loop
from tests.support.models import model_dirs
from tests.support.photos import seed_body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--warmup", type=float, default=30.0, help="seconds before RSS at start")
    parser.add_argument("--models", type=Path, default=Path(tempfile.gettempdir()) / "pm-bench")
    parser.add_argument(
        "--wait-quiet", type=float, default=0.0, help="seconds to wait for a quiet machine"
    )
    args = parser.parse_args()

    from machine import Watch

    watch = Watch.start(args.wait_quiet)

    models = model_dirs(args.models)
    body = seed_body(1)
    slices: list[tuple[float, LoadReport, float]] = []  # (minute end, report, rss after)
    total = LoadReport()
    with model_service(models) as service:
        asyncio.run(closed_loop(service.url, args.concurrency, args.warmup, body))
        rss_start = service.rss_mb()
        started = time.perf_counter()
        remaining = args.minutes * 60
        while remaining > 0:
            piece = min(60.0, remaining)
            report = asyncio.run(closed_loop(service.url, args.concurrency, piece, body))
            remaining -= piece
            total.merge(report)
            total.seconds += report.seconds
            slices.append((time.perf_counter() - started, report, service.rss_mb()))
            print(
                f"{slices[-1][0] / 60:5.1f} min: {report.ok / report.seconds:6.1f} req/s, "
                f"p99 {1000 * (report.percentile(99) or 0):6.0f} ms, RSS {slices[-1][2]:7.1f} MB, "
                f"statuses {dict(report.statuses)}, errors {dict(report.errors) or 0}",
                flush=True,
            )
        rss_end = service.rss_mb()
        alive = service.alive()

    verdict = watch.finish()
    first, last = slices[0][1], slices[-1][1]
    growth = (rss_end - rss_start) / rss_start * 100
    print(f"\nsoak: {args.minutes:g} min at c={args.concurrency}, 1 photo per request, loopback"
          f"{verdict.mark}")  # fmt: skip
    print(f"{'':<26}{'first minute':>14}{'last minute':>14}{'ratio':>8}")
    for name, a, b in (
        ("served req/s", first.ok / first.seconds, last.ok / last.seconds),
        ("p50 latency ms", 1000 * (first.percentile(50) or 0), 1000 * (last.percentile(50) or 0)),
        ("p99 latency ms", 1000 * (first.percentile(99) or 0), 1000 * (last.percentile(99) or 0)),
    ):
        print(f"{name:<26}{a:>14.1f}{b:>14.1f}{b / a if a else float('nan'):>8.2f}")
    print(
        f"{'RSS MB (start, end)':<26}{rss_start:>14.1f}{rss_end:>14.1f}{rss_end / rss_start:>8.2f}"
    )
    errors = dict(total.errors) or 0
    print(f"requests: {total.sent}, statuses: {dict(total.statuses)}, errors: {errors}, "
          f"RSS growth {growth:+.1f} %, alive after: {alive}")  # fmt: skip
    print(verdict.describe())
    bad = total.server_errors or total.errors or set(total.statuses) - {200, 429}
    return 0 if not bad and growth < 10 and alive else 1


if __name__ == "__main__":
    sys.exit(main())
