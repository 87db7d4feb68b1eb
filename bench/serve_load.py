"""Service load test: our service against an original-like baseline, same weights, same payloads.

    .venv/bin/python bench/serve_load.py [--seconds 6] [--work DIR] [--skip-engines]
                                         [--wait-quiet S] [--parallel P] [--payload jpeg|png]
                                         [--max-batch-size B]

Serves the trained bench model (bench/bench_model.py: an EfficientNetV2-S at 256 px, made once
and cached in --work): ONNX + card for our service (both routes, `man` and `woman`, so two
models are loaded) and its weights as a torchvision state dict for the baseline
(bench/original_baseline_server.py: torch eager inside `async def`, per-request batch,
PIL/torchvision transforms, no detection). Then:

  * engines: ms/photo at batch 1 and 8 and the score drift against ONNX Runtime fp32 on real
    photos (14 variants of the 2 fixture photos), for every engine this CPU has and for torch
    eager (the baseline's numerics); `--drift-model DIR` adds any exported model (e.g. a
    trained demo);
  * load: each server in turn (the baseline, ours with person detection on, ours with it off,
    the baseline again: its ratios are against the mean of its two runs, so a machine that
    speeds up or slows down during the run biases them less) under c = 1, 4, 16 concurrent
    clients sending 1-photo and 4-photo original-route requests
    (`POST /man/predict`, a 512-px JPEG, or with `--payload png` the 500x600 fixture PNG as-is)
    for --seconds each, while another process probes `GET /healthz` every 50 ms and reads the
    server's RSS; prints img/s, latency p50/p95/p99, errors, /healthz p99, the server's RSS
    (after the window, and median–max during the load), its and the load client's CPU per
    photo, and our/baseline ratios; under the table, each row's errors by kind (HTTP status or
    client exception, e.g. "429×34"; `error_kinds` in --json). Each window starts once every
    client has had one answer (at most 30 s), so img/s is the steady rate; requests still
    running when it ends are cut and not counted (this favours the slower server), and the next
    window starts once the server has worked them off (ours: no photo in flight in its
    /metrics; the baseline: a fast /healthz). Before the windows, each server gets a short
    burst on `/woman/predict` too, so the RSS columns are with both models loaded and both run
    under load (peak RSS is the server's VmHWM at the end);
  * ceiling: after the load, the CPU cost per photo of each stage of our service (JSON +
    base64 + decode, person detection, crop + resize, the model at each mean batch size the
    service reached, from its /metrics) measured in this process, and from them the img/s this
    machine's cores could reach at best; each of our rows gets the share of it reached.

The machine (CPU, bf16/AMX flags, cores, load, busy processes) is described at the start and
checked at the end (bench/machine.py); every table is marked NOT QUIET when it was not.
`--parallel P` runs our servers with batching.parallel = P (P batches of a model at once, each
on usable cores // P engine threads; docs/configuration.md); the load table's title says it.
`--max-batch-size B` sets our servers' batching.max_batch_size (default: the service's own).

Client, servers and everything else share this machine's cores, and other people's jobs run on
it too: the numbers move between runs. Read the ratios (measured in the same run), not the
absolute values.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import http.client
import json
import math
import multiprocessing as mp
import os
import signal
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import testkit  # noqa: F401 - first: the repository root on the import path
from PIL import Image

from tests.support.live import ServiceProcess, peak_rss_mb, rss_mb
from tests.support.load import closed_loop
from tests.support.paths import CLI, DATA, REPO
from tests.support.photos import page_upload

SIZE = 256


# -- weights, exported both ways -----------------------------------------------------------------


def build_models(work: Path) -> tuple[dict[str, Path], Path]:
    """The trained bench model (bench/bench_model.py: made once, cached in `work`) for both
    routes, and its weights as the baseline's state dict (the mean output alone, as the original's
    one-output head)."""
    from bench_model import as_woman, prepare

    made = prepare(work / "bench-model")
    man = made["model"]
    weights = work / "baseline.safetensors"
    baseline_weights(made["weights"], weights)
    return {"man": man, "woman": as_woman(man)}, weights


def baseline_weights(trained: Path, out: Path) -> None:
    """Our checkpoint → a torchvision efficientnet_v2_s(num_classes=1) state dict: the head's
    first output is the label (the second, where present, the log-variance of the spread)."""
    from safetensors.torch import load_file, save_file

    state = load_file(str(trained))
    head = max(k for k in state if k.startswith("classifier.") and k.endswith(".weight"))
    bias = head.removesuffix("weight") + "bias"
    state[head], state[bias] = state[head][:1].contiguous(), state[bias][:1].contiguous()
    save_file(state, str(out))


PAYLOADS = {
    "jpeg": "the page's upload: man.png shrunk to 512 px on the long side, JPEG q90",
    "png": "the fixture photo as-is: man.png, 500x600 PNG (the original client sends files as-is)",
}


def payload_bytes(kind: str) -> bytes:
    """The photo each request carries (`PAYLOADS`)."""
    if kind == "png":
        return (DATA / "man.png").read_bytes()
    with Image.open(DATA / "man.png") as image:
        return page_upload(image.convert("RGB"))


# -- engines -------------------------------------------------------------------------------------


def torch_row(weights: Path, arrays: np.ndarray, reference: Any) -> dict[str, Any]:
    """Torch eager (the baseline's runtime) on the same weights and arrays; the label as our
    exported graph computes it (clamped to 0-1), so the drift column compares like with like."""
    import torch
    import torchvision
    from safetensors.torch import load_file

    net = torchvision.models.efficientnet_v2_s(weights=None, num_classes=1)
    net.load_state_dict(load_file(str(weights)))
    net.eval()
    timing = {}
    with torch.no_grad():
        scores = 10 * net(torch.from_numpy(arrays)).clamp(0.0, 1.0).reshape(-1).numpy()
        for batch in (1, 8):
            x = torch.from_numpy(np.repeat(arrays[:1], batch, axis=0))
            net(x)
            times = []
            for _ in range(max(3, 24 // batch)):
                started = time.perf_counter()
                net(x)
                times.append(time.perf_counter() - started)
            timing[batch] = 1000 * statistics.median(times) / batch
    return {
        "engine": f"torch eager ({torch.get_num_threads()} threads)",
        "ms_b1": timing[1],
        "ms_b8": timing[8],
        "drift": float(np.abs(scores - reference).max()),
        "score_range": None,
        "model": "torch",
    }


def engine_table(model_dir: Path, torch_weights: Path | None = None) -> list[dict[str, Any]]:
    from prettymeter.card import load_model_dir
    from prettymeter.hardware import cpu_has_bf16
    from prettymeter.imaging import preprocess
    from prettymeter.scoring import Scorer
    from tests.support.photos import fixture_variants

    card, _ = load_model_dir(model_dir)
    crop, size = card.preprocessing.crop_size, card.input_size
    arrays = np.stack([preprocess(p, None, crop, size) for p in fixture_variants()])
    engines = ["onnxruntime", "openvino"] + (["openvino-bf16"] if cpu_has_bf16() else [])
    rows = []
    reference = None
    for engine in engines:
        scorer = Scorer(model_dir, engine=engine, verify=False, gate=False)  # measure each
        scores = 10 * scorer.run_chunked(arrays)
        if reference is None:
            reference = scores
        timing = {}
        for batch in (1, 8):
            x = np.repeat(arrays[:1], batch, axis=0)
            scorer.run(x)
            times = []
            for _ in range(max(3, 24 // batch)):
                started = time.perf_counter()
                scorer.run(x)
                times.append(time.perf_counter() - started)
            timing[batch] = 1000 * statistics.median(times) / batch
        rows.append(
            {
                "engine": engine,
                "ms_b1": timing[1],
                "ms_b8": timing[8],
                "drift": float(np.abs(scores - reference).max()),
                "score_range": float(np.ptp(reference)),
                "model": model_dir.name,
            }
        )
    if torch_weights is not None:
        rows.append(torch_row(torch_weights, arrays, reference))
    auto = Scorer(model_dir, engine="auto")
    rows.append(
        {
            "engine": f"auto → {auto.describe()}",
            "ms_b1": None,
            "ms_b8": None,
            "drift": float(np.abs(10 * auto.run_chunked(arrays) - reference).max()),
            "score_range": None,
        }
    )
    return rows


# -- servers -------------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    command: list[str]  # without --port: ServiceProcess adds a free one
    ready_path: str
    env: dict[str, str] = field(default_factory=dict)


# -- load ----------------------------------------------------------------------------------------


def probe_healthz(port: int, pid: int, stop: Any, out: Any) -> None:
    """Another process: GET /healthz every 50 ms and read the server's RSS (MB); sends back
    (latencies in s, RSS samples)."""
    latencies, rss = [], []
    while not stop.is_set():
        rss.append(rss_mb(pid))
        started = time.perf_counter()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            conn.close()
            latencies.append(time.perf_counter() - started)
        except OSError:
            latencies.append(30.0)
        time.sleep(0.05)
    out.put((latencies, rss))


def load(
    url: str,
    body: bytes,
    concurrency: int,
    seconds: float,
    route: str = "/man/predict",
    on_window: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """`concurrency` clients send `body` back to back; the steady window of `seconds` after
    every client had one answer (tests/support/load.py, closed_loop(steady=True))."""
    report = asyncio.run(
        closed_loop(url, concurrency, seconds, body, route, 600, steady=True, on_window=on_window)
    )
    per_request = len(json.loads(body)["instances"])
    latencies = report.latencies_ok
    q = np.percentile(latencies, [50, 95, 99]) * 1000 if latencies else [np.nan] * 3
    return {
        "img_s": report.ok * per_request / report.seconds,
        "photos": report.ok * per_request,
        "p50": q[0],
        "p95": q[1],
        "p99": q[2],
        "errors": report.sent - report.ok,
        "error_kinds": error_kinds(report),
    }


def _cpu_per_photo(cpu: tuple[float, float], photos: int) -> dict[str, float | None]:
    server, client = (1000 * seconds / photos if photos else None for seconds in cpu)
    return {"server_cpu_ms": server, "client_cpu_ms": client}


def error_kinds(report: Any) -> dict[str, int]:
    """What the window's errors were: HTTP status codes other than 200 ("429") and client-side
    exception names ("ReadTimeout", "RemoteProtocolError"), with their counts."""
    kinds = {str(status): n for status, n in sorted(report.statuses.items()) if status != 200}
    kinds.update(sorted(report.errors.items()))
    return {k: n for k, n in kinds.items() if n}


def describe_kinds(kinds: dict[str, int]) -> str:
    return ", ".join(f"{kind}×{n}" for kind, n in kinds.items())


def server_metrics(port: int) -> dict[str, float] | None:
    """The server's /metrics summed over labels (name → value); None when it has none."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/metrics")
        answer = conn.getresponse()
        text = answer.read().decode()
        conn.close()
    except OSError:
        return None
    if answer.status != 200:
        return None
    totals: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name = line.split("{", 1)[0].split(" ", 1)[0]
        try:
            totals[name] = totals.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
        except ValueError:
            continue
    return totals


def batch_totals(port: int) -> tuple[float, float] | None:
    """(photos, model calls) so far from the server's /metrics; None when it has none."""
    totals = server_metrics(port)
    if totals is None:
        return None
    return (
        totals.get("prettymeter_batch_size_sum", 0.0),
        totals.get("prettymeter_batch_size_count", 0.0),
    )


IN_FLIGHT = "prettymeter_images_in_flight"


def drain(port: int, limit: float = 150.0) -> None:
    """Wait until the server has worked off the requests cut at the end of a window.

    Our service keeps scoring a request whose client went away, and those photos keep their
    place in its admission queue (batching.queue_size): a window started before they are done
    gets 429 "queue full" at once. Its /healthz stays fast while it works (by design), so for
    our service wait until /metrics says no photo is in flight; a server without that gauge
    (the baseline, whose event loop blocks while it scores) is idle once /healthz answers in
    < 0.5 s."""
    deadline = time.monotonic() + limit
    idle = 0  # two readings of 0 in a row: a request still being parsed is not admitted yet
    while time.monotonic() < deadline:
        totals = server_metrics(port)
        if totals is not None and IN_FLIGHT in totals:
            idle = idle + 1 if totals[IN_FLIGHT] == 0 else 0
            if idle >= 2:
                return
            time.sleep(0.1)
            continue
        started = time.perf_counter()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=limit)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            conn.close()
        except OSError:
            pass
        if time.perf_counter() - started < 0.5:
            return
        time.sleep(0.2)
    print(f"  (the server was still busy after {limit:.0f} s of waiting)", flush=True)


def run_server(
    server: Server, body_by_n: dict[int, bytes], seconds: float, levels: list[int]
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    from machine import process_cpu_s

    service = ServiceProcess(
        name=server.name,
        command=server.command,
        ready_path=server.ready_path,
        env=server.env,
        ready_timeout_s=300,
        stop_signal=signal.SIGINT,
    )
    port, pid = service.port, service.process.pid
    rows = []
    with service:
        # Both models run under load once before the windows (which use /man/predict), so every
        # RSS reading below is with both loaded and both warmed at the batch sizes load brings.
        biggest = body_by_n[max(body_by_n)]
        load(service.url, biggest, max(levels), min(seconds, 3.0), "/woman/predict")
        drain(port)
        warm_rss = rss_mb(pid)
        for concurrency in levels:
            for n, body in body_by_n.items():
                stop = mp.Event()
                out: Any = mp.Queue()
                prober = mp.Process(target=probe_healthz, args=(port, pid, stop, out), daemon=True)
                prober.start()
                before = batch_totals(port)
                marks: list[tuple[float, float]] = []

                def mark(marks: list[tuple[float, float]] = marks) -> None:
                    marks.append((process_cpu_s(pid), time.process_time()))

                result = load(service.url, body, concurrency, seconds, on_window=mark)
                cpu = (marks[1][0] - marks[0][0], marks[1][1] - marks[0][1])
                after = batch_totals(port)
                stop.set()
                drain(port)
                mean_batch = None
                if before is not None and after is not None and after[1] > before[1]:
                    mean_batch = (after[0] - before[0]) / (after[1] - before[1])
                probes, rss_samples = out.get(timeout=60)
                prober.join()
                result.update(
                    server=server.name,
                    c=concurrency,
                    n=n,
                    healthz_p99=float(np.percentile(probes, 99)) * 1000 if probes else None,
                    rss=rss_mb(pid),
                    # while the load ran (ramp and window), every 50 ms
                    rss_load=(float(np.median(rss_samples)), max(rss_samples))
                    if rss_samples
                    else None,
                    mean_batch=mean_batch,
                    # CPU ms per photo answered in the window, the server's and this load
                    # client's: where the cores went
                    **_cpu_per_photo(cpu, result["photos"]),
                )
                rows.append(result)
                kinds = describe_kinds(result["error_kinds"])
                print(
                    f"  {server.name:<22} c={concurrency:<3} n={n}  {result['img_s']:7.1f} img/s"
                    f"  p50 {result['p50']:7.0f} ms  errors {result['errors']}"
                    + (f" ({kinds})" if kinds else ""),
                    flush=True,
                )
        peak = {"both_warm": warm_rss, "peak": peak_rss_mb(pid)}
    return rows, peak


# -- ceiling -------------------------------------------------------------------------------------


def stage_costs(
    model_dir: Path, payload: bytes, batches: list[int], repeats: int = 10
) -> dict[str, Any]:
    """CPU ms per photo of each stage of our service, in this process: JSON + base64 + decode,
    detection (the person rule), crop + resize (with the person box, and of the whole photo as
    with detection off), and the model (engine "auto", as the service) at each batch size."""
    from machine import cpu_ms

    from prettymeter.card import load_model_dir
    from prettymeter.faces import FaceDetector, find_person
    from prettymeter.imaging import decode_image, preprocess
    from prettymeter.scoring import Scorer
    from prettymeter.serve.routes.common import decode_base64, parse_json

    card, _ = load_model_dir(model_dir)
    crop, size = card.preprocessing.crop_size, card.input_size
    body = json.dumps({"instances": [base64.b64encode(payload).decode()]}).encode()
    image = decode_image(payload)
    detector = FaceDetector()
    box = find_person(image, detector).person_box
    scorer = Scorer(model_dir, engine="auto")
    scorer.warmup(max(batches))  # as the service does: no batch size's first run is timed
    array = preprocess(image, box, crop, size)[None]
    costs: dict[str, Any] = {
        "decode": cpu_ms(
            lambda: decode_image(decode_base64(parse_json(body, "")["instances"][0])), repeats
        ),
        "detect": cpu_ms(lambda: find_person(image, detector), repeats),
        "crop": cpu_ms(lambda: preprocess(image, box, crop, size), repeats),
        "crop_whole": cpu_ms(lambda: preprocess(image, None, crop, size), repeats),
        "engine": scorer.engine,
        "model": {},
    }
    for batch in sorted(set(batches)):
        x = np.repeat(array, batch, axis=0)
        costs["model"][batch] = cpu_ms(lambda x=x: scorer.run(x), max(3, repeats // batch)) / batch
    return costs


def add_ceilings(rows: list[dict[str, Any]], costs: dict[str, Any], cores: int) -> None:
    """Each of our rows: its CPU ms per photo at the batch size it reached, the img/s ceiling
    of this machine's cores at that cost, and the share of it the service reached."""
    from machine import ceiling_img_s

    for r in rows:
        if r.get("mean_batch") is None:
            continue
        batch = max(1, round(r["mean_batch"]))
        detect = r["server"].endswith("detection on")
        cost = costs["decode"] + costs["model"][batch]
        cost += costs["detect"] + costs["crop"] if detect else costs["crop_whole"]
        r["cpu_ms_photo"] = cost
        r["ceiling"] = ceiling_img_s(cost, cores)
        r["share"] = r["img_s"] / r["ceiling"]


# -- report --------------------------------------------------------------------------------------


BASELINES = ("baseline (original-like)", "baseline, again")


def baseline_means(rows: list[dict[str, Any]]) -> dict[tuple[int, int], dict[str, float]]:
    """Per (c, n): the baseline's img/s and p50, the mean over its runs (first and last)."""
    means: dict[tuple[int, int], dict[str, float]] = {}
    runs = [r for r in rows if r["server"] in BASELINES]
    for key in sorted({(r["c"], r["n"]) for r in runs}):
        same = [r for r in runs if (r["c"], r["n"]) == key]
        for k in ("img_s", "p50"):
            measured = [r[k] for r in same if np.isfinite(r[k])]
            means.setdefault(key, {})[k] = float(np.mean(measured)) if measured else math.nan
    return means


def print_tables(
    engines: list[dict[str, Any]],
    rows: list[dict[str, Any]],
    peaks: dict[str, dict[str, float]],
    costs: dict[str, Any] | None,
    mark: str,
    parallel: int = 1,
    payload: str = PAYLOADS["jpeg"],
) -> None:
    cores = os.cpu_count()
    if engines:
        print(
            f"\nEngines, EfficientNetV2-S {SIZE} px, {cores} cores (drift: max |Δscore| on the"
            f" 0-10 scale vs ONNX Runtime fp32, 14 variants of the 2 real photos){mark}"
        )
        print(f"{'engine':<28} {'ms/img b1':>10} {'ms/img b8':>10} {'drift':>8}")
        for e in engines:
            b1 = f"{e['ms_b1']:.1f}" if e["ms_b1"] is not None else "-"
            b8 = f"{e['ms_b8']:.1f}" if e["ms_b8"] is not None else "-"
            drift = f"{e['drift']:.3f}" if e["drift"] is not None else "-"
            print(f"{e['engine']:<28} {b1:>10} {b8:>10} {drift:>8}")
        ranges = {e["model"]: e["score_range"] for e in engines if e.get("score_range") is not None}
        print(
            "(score range over those photos on fp32, per model: "
            + ", ".join(f"{k} {v:.3f}" for k, v in ranges.items())
            + ")"
        )
    if costs is not None:
        print(f"\nCPU ms per photo of each stage of our service, measured in this run{mark}")
        print(
            f"  JSON + base64 + decode {costs['decode']:.1f}, detection {costs['detect']:.1f}, "
            f"crop + resize {costs['crop']:.1f} (whole photo {costs['crop_whole']:.1f}), model "
            f"({costs['engine']}) "
            + ", ".join(f"{v:.1f} at batch {b}" for b, v in costs["model"].items())
        )
        print(
            "  ceiling = cores × 1000 / (sum of the stages at the row's mean batch): the img/s if "
            "every core did only this; HTTP, the event loop and the load client are not in it"
        )
        print(
            "  CPU ms/img in the load table: the server process's + this load client's, per "
            "photo answered in the window"
        )
    print(
        f"\nLoad, POST /man/predict with {payload}, ours with batching.parallel {parallel},"
        f" {cores} cores shared by client, server and other jobs{mark}"
    )
    header = (
        f"{'server':<22} {'c':>3} {'n':>2} {'img/s':>7} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8} {'err':>4} {'/healthz p99':>13} {'RSS MB':>15} {'× base img/s':>13}"
        f" {'× base p50':>11} {'batch':>6} {'ceiling':>8} {'share':>6} {'CPU ms/img':>15}"
    )
    print(header)
    base = baseline_means(rows)
    for r in rows:
        b = base.get((r["c"], r["n"]))
        ratio = f"{r['img_s'] / b['img_s']:.2f}×" if b and b["img_s"] else "-"
        measured = b is not None and np.isfinite(b["p50"]) and np.isfinite(r["p50"])
        p50_ratio = f"{r['p50'] / b['p50']:.2f}×" if measured else "-"
        health = f"{r['healthz_p99']:.0f}" if r["healthz_p99"] is not None else "-"
        batch = f"{r['mean_batch']:.1f}" if r.get("mean_batch") is not None else "-"
        ceiling = f"{r['ceiling']:.1f}" if r.get("ceiling") is not None else "-"
        share = f"{r['share']:.0%}" if r.get("share") is not None else "-"
        rss = f"{r['rss']:.0f}"
        if r.get("rss_load"):
            rss += " ({:.0f}–{:.0f})".format(*r["rss_load"])
        spent = "-"
        if r.get("server_cpu_ms") is not None:
            spent = f"{r['server_cpu_ms']:.1f} + {r['client_cpu_ms']:.1f}"
        print(
            f"{r['server']:<22} {r['c']:>3} {r['n']:>2} {r['img_s']:>7.1f} {r['p50']:>8.0f} "
            f"{r['p95']:>8.0f} {r['p99']:>8.0f} {r['errors']:>4} {health:>13} "
            f"{rss:>15} {ratio:>13} {p50_ratio:>11} {batch:>6} {ceiling:>8} {share:>6} "
            f"{spent:>15}"
        )
    if len({r["server"] for r in rows if r["server"] in BASELINES}) == 2:
        print(
            "× base: against the mean of the baseline's two runs, first and last (their own × "
            "show how far the machine moved between them)"
        )
    failed = [r for r in rows if r.get("error_kinds")]
    if failed:
        print("Errors by kind (HTTP status or client exception × count):")
        for r in failed:
            print(f"  {r['server']}, c={r['c']}, n={r['n']}: {describe_kinds(r['error_kinds'])}")
    else:
        print("Errors by kind: none in any window")
    print(
        "RSS MB in the load table: after the window once drained (median–max every 50 ms while "
        "the load ran)"
    )
    print(
        "RSS (MB, both models loaded; after a burst on /woman/predict, then the windows on "
        "/man/predict): "
        + "; ".join(
            f"{k}: {v['both_warm']:.0f} after both warmed, peak {v['peak']:.0f}"
            for k, v in peaks.items()
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="load time per setting")
    parser.add_argument(
        "--work",
        type=Path,
        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        / "pretty-meter"
        / "bench-serve",
    )
    parser.add_argument("--levels", default="1,4,16", help="concurrency levels")
    parser.add_argument("--skip-engines", action="store_true")
    parser.add_argument(
        "--drift-model",
        type=Path,
        action="append",
        default=[],
        help="also measure the engines on this exported model dir (e.g. a trained demo model)",
    )
    parser.add_argument("--only", default="", help="comma list: on,off,baseline (default all)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument(
        "--wait-quiet", type=float, default=0.0, help="seconds to wait for a quiet machine"
    )
    parser.add_argument(
        "--payload", choices=sorted(PAYLOADS), default="jpeg", help="the photo each request sends"
    )
    parser.add_argument(
        "--parallel",
        type=int,
        default=1,
        help="our servers' batching.parallel: batches of one model running at once",
    )
    parser.add_argument(
        "--max-batch-size",
        type=int,
        default=None,
        help="our servers' batching.max_batch_size (default: the service's own)",
    )
    args = parser.parse_args()
    levels = [int(v) for v in args.levels.split(",")]

    from machine import Watch

    watch = Watch.start(args.wait_quiet)
    model_dirs, weights = build_models(args.work)
    payload = payload_bytes(args.payload)
    photo = base64.b64encode(payload).decode()
    body_by_n = {n: json.dumps({"instances": [photo] * n}).encode() for n in (1, 4)}
    engines = [] if args.skip_engines else engine_table(model_dirs["man"], weights)
    for extra in args.drift_model:
        for row in engine_table(extra):
            row["engine"] = f"{extra.name}: {row['engine']}"
            engines.append(row)

    servers = []
    # The bench model is trained on whole photos (its card's detector is none): "on" adds the
    # one-person rule, which runs the face detector on every photo; "off" scores them whole.
    for key, detect in (("on", "--detect"), ("off", "--no-detect")):
        models = ["--man", str(model_dirs["man"]), "--woman", str(model_dirs["woman"])]
        command = [CLI, "serve", *models, detect, "--log-level", "warning"]
        env = {"PRETTYMETER_BATCHING__PARALLEL": str(args.parallel)}
        if args.max_batch_size is not None:
            env["PRETTYMETER_BATCHING__MAX_BATCH_SIZE"] = str(args.max_batch_size)
        servers.append((key, Server(f"ours, detection {key}", command, "/readyz", env)))
    baseline = [sys.executable, str(REPO / "bench" / "original_baseline_server.py")]
    baseline += ["--weights", str(weights)]
    first, last = (Server(name, baseline, "/healthz") for name in BASELINES)
    servers = [("baseline", first), *servers, ("baseline", last)]
    only = set(filter(None, args.only.split(",")))
    rows: list[dict[str, Any]] = []
    peaks: dict[str, dict[str, float]] = {}
    for key, server in servers:
        if only and key not in only:
            continue
        print(f"{server.name} ...", flush=True)
        server_rows, peak = run_server(server, body_by_n, args.seconds, levels)
        rows += server_rows
        peaks[server.name] = peak
    costs = None
    batches = [max(1, round(r["mean_batch"])) for r in rows if r.get("mean_batch") is not None]
    if batches:
        print("stage costs for the ceiling ...", flush=True)
        costs = stage_costs(model_dirs["man"], payload, batches)
        add_ceilings(rows, costs, watch.machine.cores)
    verdict = watch.finish()
    print_tables(engines, rows, peaks, costs, verdict.mark, args.parallel, PAYLOADS[args.payload])
    print(verdict.describe())
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "engines": engines,
                    "rows": rows,
                    "peaks": peaks,
                    "stage_costs": costs,
                    "parallel": args.parallel,
                    "payload": args.payload,
                    **watch.record(verdict),
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
