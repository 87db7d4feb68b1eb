"""Batch scoring: `pretty-meter rate` against the live service (`POST /v1/rate`), same photos.

    .venv/bin/python bench/batch_rate.py [--model DIR] [--photos 400] [--clients 1 4]
        [--per-request 4] [--engine onnxruntime] [--work DIR]

Makes --photos JPEGs (the real fixture faces, tests/fixtures, resized, mirrored, padded and
recompressed: every one has a person to find, as in a real collection) in --work, then:

  * `pretty-meter rate FOLDER --model DIR --out ...` in a fresh process: its own images/s
    (photos over the time from the first photo to the last, model load excluded) and the
    wall-clock time of the whole command (model load included);
  * `pretty-meter serve --man DIR`, and for each --clients count that many clients sending
    the photos --per-request at a time as multipart `POST /v1/rate` until all are rated:
    photos over wall-clock seconds (server start excluded).

Both use the same policy (one person per photo) and engine; the service's scores are checked
against the batch table. Also the CPU ms per photo of the `rate` process (its start-up, measured
on one photo, taken off) and of the server process: a cost that moves less than img/s when
other jobs share the machine. The machine, its load and whether it stayed quiet are recorded by
bench/machine.py; client, server and batch share this machine's cores. Read the ratios in one
run, not the absolute values.
"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import testkit  # noqa: F401 - first: the repository root on the import path

from tests.support.collection import face_jpegs
from tests.support.live import ServiceProcess
from tests.support.paths import CLI, REPO

DEMO_MODEL = REPO / "data" / "demo" / "models" / "man"


def run_batch(folder: Path, model: Path, out: Path, engine: str) -> dict[str, Any]:
    """One `pretty-meter rate` process: its own images/s, wall seconds and CPU seconds."""
    command = [CLI, "rate", str(folder), "--model", str(model), "--out", str(out)]
    command += ["--overwrite", "--engine", engine]
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - started
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"pretty-meter rate failed: {done.stderr.strip()[-2000:]}")
    found = re.search(r"images/s\s*\S\s*([\d.]+)", done.stdout)
    cpu_s = used.ru_utime + used.ru_stime - cpu.ru_utime - cpu.ru_stime
    return {"img_s": float(found.group(1)) if found else None, "wall": wall, "cpu_s": cpu_s}


def run_service(
    url: str, photos: list[Path], clients: int, per_request: int
) -> tuple[float, dict[str, float | None]]:
    """All photos rated by `clients` concurrent clients; (seconds, score by photo name)."""
    import httpx

    chunks = [photos[i : i + per_request] for i in range(0, len(photos), per_request)]
    bodies = [[(p.name, p.read_bytes()) for p in chunk] for chunk in chunks]
    scores: dict[str, float | None] = {}

    def client(index: int) -> None:
        with httpx.Client(base_url=url, timeout=600) as http:
            for chunk in bodies[index::clients]:
                files = [("files", (name, data, "image/jpeg")) for name, data in chunk]
                while True:
                    answer = http.post("/v1/rate", files=files, data={"gender": "m"})
                    if answer.status_code not in (429, 503):
                        break
                    time.sleep(float(answer.headers.get("retry-after", "0.2")))
                answer.raise_for_status()
                for (name, _), result in zip(chunk, answer.json()["results"], strict=True):
                    scores[name] = result["score"]

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    return time.perf_counter() - started, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEMO_MODEL, help="exported model folder")
    parser.add_argument("--photos", type=int, default=400)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--per-request", type=int, default=4, help="photos per /v1/rate call")
    parser.add_argument("--engine", default="onnxruntime")
    parser.add_argument("--work", type=Path, default=None, help="folder for photos and tables")
    parser.add_argument("--wait-quiet", type=float, default=0.0, help="seconds to wait for quiet")
    args = parser.parse_args()
    if not (args.model / "card.json").is_file():
        raise SystemExit(
            f"{args.model} is not an exported model; run `pretty-meter demo` or pass --model DIR"
        )
    from machine import Watch, process_cpu_s

    watch = Watch.start(args.wait_quiet)
    work = args.work or Path(tempfile.mkdtemp(prefix="batch-rate-"))
    photos = face_jpegs(work / "photos", args.photos)
    print(f"{len(photos)} photos in {work / 'photos'}; model {args.model}", flush=True)

    # rate: the CPU of start-up (model and detector load) is measured on one photo and taken off
    one = work / "one"
    one.mkdir(exist_ok=True)
    shutil.copy(photos[0], one / photos[0].name)
    startup = run_batch(one, args.model, work / "one.parquet", args.engine)
    batch = run_batch(work / "photos", args.model, work / "ratings.parquet", args.engine)
    batch_cpu_ms = 1000 * (batch["cpu_s"] - startup["cpu_s"]) / max(1, len(photos) - 1)
    rows = [("pretty-meter rate", "-", batch["img_s"], len(photos) / batch["wall"], batch_cpu_ms)]
    print(f"  rate: {batch['img_s']} img/s ({batch['wall']:.1f} s with start-up)", flush=True)

    import pyarrow.parquet as pq

    table = pq.read_table(work / "ratings.parquet", columns=["path", "score"]).to_pylist()
    expected = {row["path"]: row["score"] for row in table}
    server = ServiceProcess(
        ["--man", str(args.model), "--engine", args.engine], ready_timeout_s=300
    )
    with server:
        for clients in args.clients:
            cpu_before = process_cpu_s(server.process.pid)
            seconds, scores = run_service(server.url, photos, clients, args.per_request)
            cpu_ms = 1000 * (process_cpu_s(server.process.pid) - cpu_before) / len(photos)
            differ = sum(scores[name] != expected[name] for name in expected)
            way = f"POST /v1/rate ×{args.per_request}"
            rows.append((way, clients, len(photos) / seconds, None, cpu_ms))
            print(f"  service c={clients}: {len(photos) / seconds:.1f} img/s", flush=True)
            if differ:
                print(f"  warning: {differ} photos scored differently by the service and by rate")
    verdict = watch.finish()

    print(f"\nBatch scoring, {len(photos)} photos, engine {args.engine}{verdict.mark}")
    print(
        f"{'way':<20} {'clients':>7} {'img/s':>7} {'img/s with start-up':>20} "
        f"{'server/rate CPU ms/img':>23} {'img/s / service c=1':>20}"
    )
    service_1 = next((r[2] for r in rows if r[1] == 1), None)
    for way, clients, img_s, with_start, cpu_ms in rows:
        ratio = f"{img_s / service_1:.2f}" if img_s and service_1 else "-"
        shown = f"{img_s:.1f}" if img_s else "-"
        start = f"{with_start:.1f}" if with_start else "-"
        print(f"{way:<20} {clients!s:>7} {shown:>7} {start:>20} {cpu_ms:>23.1f} {ratio:>20}")
    print(verdict.describe())


if __name__ == "__main__":
    main()
