"""Benchmark: ingest + dedupe on synthetic photos against an original-style baseline, same run.

    .venv/bin/python bench/pipeline_bench.py            # 1,000 images of 512 px
    .venv/bin/python bench/pipeline_bench.py --n 300 --size 256

The baseline mirrors the original's load_df / removeDuplicates style: walk the folder, split the
name, decode every photo fully with Pillow, append rows to a pandas DataFrame one by one, then
hash every photo with imagehash and compare every pair in a Python loop. Both sides get the same
files; the table prints images/s for each and the ratio.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def original_style_ingest_dedupe(ds: Path, threshold: int) -> int:
    """The naive pipeline; returns the number of rows left after removing duplicates."""
    import imagehash
    import pandas as pd
    from PIL import Image

    frame = pd.DataFrame(columns=["path", "gender", "country", "rate", "voices", "image"])
    for root, _, names in os.walk(ds):
        for name in names:
            fields = name.rsplit(".", 1)[0].split("_")
            if len(fields) != 5:
                continue
            path = os.path.join(root, name)
            with open(path, "rb") as handle:
                data = handle.read()
            image = Image.open(io.BytesIO(data))
            image.load()
            row = pd.DataFrame(
                [[path, fields[1], fields[2], float(fields[3]), int(fields[4]), data]],
                columns=frame.columns,
            )
            frame = pd.concat([frame, row], ignore_index=True)
    hashes = [imagehash.phash(Image.open(io.BytesIO(b))) for b in frame["image"]]
    duplicate = set()
    for i in range(len(hashes)):
        for j in range(i + 1, len(hashes)):
            if hashes[i] - hashes[j] <= threshold:
                duplicate.add(j)
    return len(frame) - len(duplicate)


def peak_rss_mb(code: str) -> float:
    """Peak resident memory (MB) of a fresh Python process running `code`."""
    # VmHWM, not ru_maxrss: ru_maxrss of a fresh process inherits the parent's peak via fork.
    report = "; print([x for x in open('/proc/self/status') if x.startswith('VmHWM')][0])"
    done = subprocess.run(
        [sys.executable, "-c", code + report], check=True, capture_output=True, text=True
    )
    return int(done.stdout.split()[-2]) / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="images (default 1000)")
    parser.add_argument("--size", type=int, default=512, help="image side, px (default 512)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of ours (best kept)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the slow baseline")
    parser.add_argument(
        "--wait-quiet", type=float, default=0.0, help="seconds to wait for a quiet machine"
    )
    args = parser.parse_args()

    from machine import Watch

    watch = Watch.start(args.wait_quiet)

    from prettymeter.data.dedupe import DEFAULT_THRESHOLD, dedupe
    from prettymeter.data.ingest import ingest
    from prettymeter.data.synth import generate

    with tempfile.TemporaryDirectory(prefix="pm-bench-") as tmp_name:
        tmp = Path(tmp_name)
        ds = tmp / "ds"
        started = time.perf_counter()
        made = generate(ds, args.n, args.seed, size=args.size)
        synth_s = time.perf_counter() - started
        megabytes = sum(p.stat().st_size for p in ds.iterdir()) / 1e6

        ours = []
        for attempt in range(args.repeat):
            raw, dedup = tmp / f"raw{attempt}.parquet", tmp / f"dedup{attempt}.parquet"
            started = time.perf_counter()
            ingest(ds, raw)
            ingest_s = time.perf_counter() - started
            result = dedupe(raw, dedup)
            ours.append((time.perf_counter() - started, ingest_s, result["rows_out"]))
        total_s, ingest_s, rows_out = min(ours)

        base_s, base_rows = float("nan"), -1
        if not args.no_baseline:
            started = time.perf_counter()
            base_rows = original_style_ingest_dedupe(ds, DEFAULT_THRESHOLD)
            base_s = time.perf_counter() - started

        # Streaming: peak memory of ingest alone on the whole set and on a quarter of it.
        quarter = tmp / "quarter"
        quarter.mkdir()
        for path in sorted(ds.iterdir())[: args.n // 4]:
            os.link(path, quarter / path.name)
        code = "from prettymeter.data.ingest import ingest; ingest({!r}, {!r})"
        rss_full = peak_rss_mb(code.format(str(ds), str(tmp / "m1.parquet")))
        rss_quarter = peak_rss_mb(code.format(str(quarter), str(tmp / "m2.parquet")))

    verdict = watch.finish()
    rate = args.n / total_s
    print(
        f"ingest + dedupe, {args.n} synthetic images of {args.size} px ({megabytes:.0f} MB, "
        f"{made['exact_copies']} exact + {made['near_copies']} near copies), "
        f"{os.cpu_count()} CPU cores; synth took {synth_s:.1f} s{verdict.mark}"
    )
    print()
    print(
        f"| {'pipeline':<44} | {'seconds':>7} | {'images/s':>8} | {'rows out':>8} | {'ratio':>6} |"
    )
    print(f"|{'-' * 46}|{'-' * 9}|{'-' * 10}|{'-' * 10}|{'-' * 8}|")
    if not args.no_baseline:
        print(
            f"| {'original-style (pandas append, pairwise loop)':<44} | {base_s:7.2f} | "
            f"{args.n / base_s:8.1f} | {base_rows:8d} | {1.0:6.2f} |"
        )
    ratio = base_s / total_s if not args.no_baseline else float("nan")
    ours_name = f"pretty-meter ingest + dedupe (best of {args.repeat})"
    print(f"| {ours_name:<44} | {total_s:7.2f} | {rate:8.1f} | {rows_out:8d} | {ratio:6.2f} |")
    print(
        f"|   {'of which ingest':<42} | {ingest_s:7.2f} | {args.n / ingest_s:8.1f} | "
        f"{'':>8} | {'':>6} |"
    )
    print()
    print(
        f"peak memory of ingest: {rss_full:.0f} MB for {args.n} images, {rss_quarter:.0f} MB "
        f"for {args.n // 4} (streaming: it should not grow with the count)"
    )
    print("target: ingest + dedupe >= 300 images/s:", "met" if rate >= 300 else "NOT met")
    print(verdict.describe())


if __name__ == "__main__":
    main()
