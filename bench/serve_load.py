"""Service load test: our service against a seed-like baseline, same weights, same payloads.

    .venv/bin/python bench/serve_load.py [--seconds 6] [--work DIR] [--skip-engines]
                                         [--wait-quiet S]

Builds a random-init EfficientNetV2-S at 256 px once (cached in --work): exported to ONNX with
a model card for our service (both routes, `man` and `woman`, so two models are loaded) and
saved as a safetensors state dict for the baseline (bench/seed_baseline_server.py: torch eager
inside `async def`, per-request batch, PIL/torchvision transforms, no detection). Then:

  * engines: ms/photo at batch 1 and 8 and the score drift against ONNX Runtime fp32 on real
    photos (tests/data) and drawn ones, for every engine this CPU has and for torch eager (the
    baseline's numerics); `--drift-model DIR` adds any exported model (e.g. a trained demo);
  * load: each server in turn (ours with person detection on, ours with it off, the baseline)
    under c = 1, 4, 16 concurrent clients sending 1-photo and 4-photo seed requests
    (`POST /man/predict`, a 512-px JPEG) for --seconds each, while another process probes
    `GET /healthz` every 50 ms; prints img/s, latency p50/p95/p99, errors, /healthz p99 and the
    server's RSS, and our/baseline ratios. Each window starts once every client has had one
    answer (at most 30 s), so img/s is the steady rate; requests still running when it ends
    are cut and not counted (this favours the slower server), and the next window starts once
    the server has worked them off. Before the windows, each server gets a short burst on
    `/woman/predict` too, so the RSS columns are with both models loaded and both run under
    load (peak RSS is the server's VmHWM at the end);
  * ceiling: after the load, the CPU cost per photo of each stage of our service (JSON +
    base64 + decode, person detection, crop + resize, the model at each mean batch size the
    service reached, from its /metrics) measured in this process, and from them the img/s this
    machine's cores could reach at best; each of our rows gets the share of it reached.

The machine (CPU, bf16/AMX flags, cores, load, busy processes) is described at the start and
checked at the end (bench/machine.py); every table is marked NOT QUIET when it was not.

Client, servers and everything else share this machine's cores, and other people's jobs run on
it too: the numbers move between runs. Read the ratios (measured in the same run), not the
absolute values.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import http.client
import io
import json
import multiprocessing as mp
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
SIZE = 256
VENV_BIN = Path(sys.executable).parent
RAMP_LIMIT_S = 30.0


# -- weights, exported both ways -----------------------------------------------------------------


def whole_photo_models(model_dirs: dict[str, Path]) -> dict[str, Path]:
    """The same ONNX with cards that say `detector: none` (a model trained on whole photos): the
    "detection off" server, where the card, not a switch, decides that no face is searched."""
    from prettymeter import card as card_module

    whole = {}
    for route, model_dir in model_dirs.items():
        target = model_dir.parent.parent / "models-whole" / route
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(model_dir / card_module.ONNX_FILE, target / card_module.ONNX_FILE)
        card, _ = card_module.load_model_dir(model_dir)
        card.preprocessing.detector = "none"
        card_module.write_card(target, card)
        whole[route] = target
    return whole


def build_models(work: Path) -> tuple[dict[str, Path], Path]:
    """Random-init EfficientNetV2-S → ONNX + card (ours, two routes) and safetensors (baseline)."""
    model_dirs = {"man": work / "models" / "man", "woman": work / "models" / "woman"}
    weights = work / "effnetv2s.safetensors"
    if weights.is_file() and all((d / "card.json").is_file() for d in model_dirs.values()):
        return model_dirs, weights
    import torch
    import torchvision
    from safetensors.torch import save_file

    from prettymeter import card as card_module
    from prettymeter.imaging import MEAN, STD

    print("building random-init EfficientNetV2-S (once; cached in --work) ...", flush=True)
    torch.manual_seed(0)
    net = torchvision.models.efficientnet_v2_s(weights=None, num_classes=1).eval()

    class Regressor(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.sigmoid(self.net(x)).reshape(-1)

    work.mkdir(parents=True, exist_ok=True)
    first = model_dirs["man"]
    first.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        Regressor().eval(),
        (torch.zeros(2, 3, SIZE, SIZE),),
        str(first / card_module.ONNX_FILE),
        input_names=["input"],
        output_names=["label"],
        dynamic_axes={"input": {0: "n"}, "label": {0: "n"}},
        dynamo=False,
        opset_version=17,
    )
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(weights))
    for route, model_dir in model_dirs.items():
        model_dir.mkdir(parents=True, exist_ok=True)
        if model_dir != first:
            shutil.copy(first / card_module.ONNX_FILE, model_dir / card_module.ONNX_FILE)
        card = card_module.ModelCard(
            name=f"bench-{route}",
            gender="m" if route == "man" else "w",
            backbone="efficientnet_v2_s",
            input_size=SIZE,
            preprocessing=card_module.Preprocessing(
                crop_size=SIZE,
                input_size=SIZE,
                mean=MEAN.tolist(),
                std=STD.tolist(),
                detector="mtcnn",
            ),
            normalization=card_module.Normalization(lo=1.0, med=5.5, hi=9.5),
            label_quantiles=[i / 100 for i in range(1, 100)],
            outputs={"label": "0-1 score"},
            final="single",
            demo=True,
            notes="random-init benchmark model",
            onnx_sha256=card_module.sha256_file(model_dir / card_module.ONNX_FILE),
        )
        card_module.write_card(model_dir, card)
    return model_dirs, weights


def payload_jpeg() -> bytes:
    """The page's upload: a photo shrunk to 512 px on the long side, JPEG."""
    with Image.open(DATA / "man.png") as image:
        photo = image.convert("RGB")
    scale = 512 / max(photo.size)
    photo = photo.resize((round(photo.width * scale), round(photo.height * scale)))
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


# -- engines -------------------------------------------------------------------------------------


def torch_row(weights: Path, arrays: np.ndarray, reference: Any) -> dict[str, Any]:
    """The baseline's numerics: torch eager on the same weights, same arrays."""
    import torch
    import torchvision
    from safetensors.torch import load_file

    net = torchvision.models.efficientnet_v2_s(weights=None, num_classes=1)
    net.load_state_dict(load_file(str(weights)))
    net.eval()
    timing = {}
    with torch.no_grad():
        scores = 10 * torch.sigmoid(net(torch.from_numpy(arrays))).reshape(-1).numpy()
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
    from prettymeter.imaging import decode_image, preprocess
    from prettymeter.scoring import Scorer, probe_batch

    card, _ = load_model_dir(model_dir)
    crop, size = card.preprocessing.crop_size, card.input_size
    photos = [decode_image((DATA / n).read_bytes()) for n in ("man.png", "woman.jpg")]
    arrays = np.stack([preprocess(p, None, crop, size) for p in photos])
    arrays = np.concatenate([arrays, probe_batch(size, crop, 6)])
    engines = ["onnxruntime", "openvino"] + (["openvino-bf16"] if cpu_has_bf16() else [])
    rows = []
    reference = None
    for engine in engines:
        scorer = Scorer(model_dir, engine=engine, verify=False)
        scores = 10 * scorer.run(arrays)[0]
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
            "engine": f"auto → {auto.engine}",
            "ms_b1": None,
            "ms_b8": None,
            "drift": auto.drift,
            "score_range": None,
        }
    )
    return rows


# -- servers -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(port: int, path: str, process: subprocess.Popen[bytes], limit: float) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with code {process.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"the server did not answer {path} within {limit:.0f} s")


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) in MB from /proc."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


@dataclass
class Server:
    name: str
    command: list[str]
    ready_path: str


# -- load ----------------------------------------------------------------------------------------


def probe_healthz(port: int, stop: Any, out: Any) -> None:
    """Another process: GET /healthz every 50 ms; sends back the latencies (s)."""
    latencies = []
    while not stop.is_set():
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
    out.put(latencies)


async def load(
    port: int, body: bytes, concurrency: int, seconds: float, route: str = "/man/predict"
) -> dict[str, Any]:
    """`concurrency` clients send `body` back to back. After a ramp (until every client has had
    one answer, at most RAMP_LIMIT_S) requests completed in the next `seconds` are counted;
    those still running at the end are cut (favouring the slower server)."""
    import httpx

    completions: list[tuple[float, float]] = []  # (finished at, latency)
    answered = [0] * concurrency
    errors = 0
    per_request = len(json.loads(body)["instances"])
    headers = {"content-type": "application/json"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=600
    ) as client:
        await client.post(route, content=body, headers=headers)  # warm up

        async def worker(index: int) -> None:
            nonlocal errors
            while True:
                started = time.perf_counter()
                try:
                    answer = await client.post(route, content=body, headers=headers)
                    ok = answer.status_code == 200
                except httpx.HTTPError:
                    ok = False
                finished = time.perf_counter()
                answered[index] += 1
                if ok:
                    completions.append((finished, finished - started))
                else:
                    errors += 1

        tasks = [asyncio.create_task(worker(i)) for i in range(concurrency)]
        ramp_start = time.perf_counter()
        while min(answered) == 0 and time.perf_counter() - ramp_start < RAMP_LIMIT_S:
            await asyncio.sleep(0.05)
        window_start = time.perf_counter()
        await asyncio.sleep(seconds)
        window_end = time.perf_counter()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    latencies = [lat for end, lat in completions if window_start <= end <= window_end]
    q = np.percentile(latencies, [50, 95, 99]) * 1000 if latencies else [np.nan] * 3
    return {
        "img_s": len(latencies) * per_request / (window_end - window_start),
        "p50": q[0],
        "p95": q[1],
        "p99": q[2],
        "errors": errors,
        "ramp_s": window_start - ramp_start,
    }


def batch_totals(port: int) -> tuple[float, float] | None:
    """(photos, model calls) so far from the server's /metrics; None when it has none."""
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
    totals = {"prettymeter_batch_size_sum": 0.0, "prettymeter_batch_size_count": 0.0}
    for line in text.splitlines():
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in totals:
            totals[name] += float(line.rsplit(" ", 1)[1])
    return totals["prettymeter_batch_size_sum"], totals["prettymeter_batch_size_count"]


def drain(port: int, limit: float = 150.0) -> None:
    """Wait until the server has worked off cut requests (its /healthz answers in < 0.5 s)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
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


def run_server(
    server: Server, port: int, body_by_n: dict[int, bytes], seconds: float, levels: list[int]
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    process = subprocess.Popen(server.command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    rows = []
    try:
        wait_until_up(port, server.ready_path, process, 300)
        # Both models run under load once before the windows (which use /man/predict), so every
        # RSS reading below is with both loaded and both warmed at the batch sizes load brings.
        biggest = body_by_n[max(body_by_n)]
        asyncio.run(load(port, biggest, max(levels), min(seconds, 3.0), "/woman/predict"))
        drain(port)
        warm_rss = rss_mb(process.pid)[0]
        for concurrency in levels:
            for n, body in body_by_n.items():
                stop = mp.Event()
                out: Any = mp.Queue()
                prober = mp.Process(target=probe_healthz, args=(port, stop, out), daemon=True)
                prober.start()
                before = batch_totals(port)
                result = asyncio.run(load(port, body, concurrency, seconds))
                after = batch_totals(port)
                stop.set()
                drain(port)
                mean_batch = None
                if before is not None and after is not None and after[1] > before[1]:
                    mean_batch = (after[0] - before[0]) / (after[1] - before[1])
                probes = out.get(timeout=60)
                prober.join()
                result.update(
                    server=server.name,
                    c=concurrency,
                    n=n,
                    healthz_p99=float(np.percentile(probes, 99)) * 1000 if probes else None,
                    rss=rss_mb(process.pid)[0],
                    mean_batch=mean_batch,
                )
                rows.append(result)
                print(
                    f"  {server.name:<22} c={concurrency:<3} n={n}  {result['img_s']:7.1f} img/s"
                    f"  p50 {result['p50']:7.0f} ms  errors {result['errors']}",
                    flush=True,
                )
        peak = {"both_warm": warm_rss, "peak": rss_mb(process.pid)[1]}
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
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

    card, _ = load_model_dir(model_dir)
    crop, size = card.preprocessing.crop_size, card.input_size
    body = json.dumps({"instances": [base64.b64encode(payload).decode()]})
    image = decode_image(payload)
    detector = FaceDetector()
    box = find_person(image, detector).person_box
    scorer = Scorer(model_dir, engine="auto")
    array = preprocess(image, box, crop, size)[None]
    costs: dict[str, Any] = {
        "decode": cpu_ms(
            lambda: decode_image(base64.b64decode(json.loads(body)["instances"][0])), repeats
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


def print_tables(
    engines: list[dict[str, Any]],
    rows: list[dict[str, Any]],
    peaks: dict[str, dict[str, float]],
    costs: dict[str, Any] | None,
    mark: str,
) -> None:
    cores = os.cpu_count()
    if engines:
        print(
            f"\nEngines, EfficientNetV2-S {SIZE} px, {cores} cores (drift: max |Δscore| on the"
            f" 0-10 scale vs ONNX Runtime fp32, 2 real + 6 drawn photos){mark}"
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
        f"\nLoad, POST /man/predict with a 512-px JPEG, {cores} cores shared by client, server"
        f" and other jobs{mark}"
    )
    header = (
        f"{'server':<22} {'c':>3} {'n':>2} {'img/s':>7} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8} {'err':>4} {'/healthz p99':>13} {'RSS MB':>7} {'× base img/s':>13}"
        f" {'× base p50':>11} {'batch':>6} {'ceiling':>8} {'share':>6}"
    )
    print(header)
    base = {(r["c"], r["n"]): r for r in rows if r["server"] == "baseline (seed-like)"}
    for r in rows:
        b = base.get((r["c"], r["n"]))
        ratio = f"{r['img_s'] / b['img_s']:.2f}×" if b and b["img_s"] else "-"
        measured = b is not None and np.isfinite(b["p50"]) and np.isfinite(r["p50"])
        p50_ratio = f"{r['p50'] / b['p50']:.2f}×" if measured else "-"
        health = f"{r['healthz_p99']:.0f}" if r["healthz_p99"] is not None else "-"
        batch = f"{r['mean_batch']:.1f}" if r.get("mean_batch") is not None else "-"
        ceiling = f"{r['ceiling']:.1f}" if r.get("ceiling") is not None else "-"
        share = f"{r['share']:.0%}" if r.get("share") is not None else "-"
        print(
            f"{r['server']:<22} {r['c']:>3} {r['n']:>2} {r['img_s']:>7.1f} {r['p50']:>8.0f} "
            f"{r['p95']:>8.0f} {r['p99']:>8.0f} {r['errors']:>4} {health:>13} "
            f"{r['rss']:>7.0f} {ratio:>13} {p50_ratio:>11} {batch:>6} {ceiling:>8} {share:>6}"
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
    args = parser.parse_args()
    levels = [int(v) for v in args.levels.split(",")]

    from machine import Watch

    watch = Watch.start(args.wait_quiet)
    model_dirs, weights = build_models(args.work)
    payload = payload_jpeg()
    photo = base64.b64encode(payload).decode()
    body_by_n = {n: json.dumps({"instances": [photo] * n}).encode() for n in (1, 4)}
    engines = [] if args.skip_engines else engine_table(model_dirs["man"], weights)
    for extra in args.drift_model:
        for row in engine_table(extra):
            row["engine"] = f"{extra.name}: {row['engine']}"
            engines.append(row)

    cli = str(VENV_BIN / "pretty-meter")
    servers = []
    # on: a person-crop model with the one-person rule; off: a whole-photo model, no rule
    whole_dirs = whole_photo_models(model_dirs)
    for key, detect, dirs in (("on", "--detect", model_dirs), ("off", "--no-detect", whole_dirs)):
        port = free_port()
        servers.append(
            (
                key,
                port,
                Server(
                    f"ours, detection {key}",
                    [
                        cli,
                        "serve",
                        "--man",
                        str(dirs["man"]),
                        "--woman",
                        str(dirs["woman"]),
                        "--port",
                        str(port),
                        detect,
                        "--log-level",
                        "warning",
                    ],
                    "/readyz",
                ),
            )
        )
    port = free_port()
    servers.append(
        (
            "baseline",
            port,
            Server(
                "baseline (seed-like)",
                [
                    sys.executable,
                    str(ROOT / "bench" / "seed_baseline_server.py"),
                    "--weights",
                    str(weights),
                    "--port",
                    str(port),
                ],
                "/healthz",
            ),
        )
    )
    only = set(filter(None, args.only.split(",")))
    rows: list[dict[str, Any]] = []
    peaks: dict[str, dict[str, float]] = {}
    for key, port, server in servers:
        if only and key not in only:
            continue
        print(f"{server.name} ...", flush=True)
        server_rows, peak = run_server(server, port, body_by_n, args.seconds, levels)
        rows += server_rows
        peaks[server.name] = peak
    costs = None
    batches = [max(1, round(r["mean_batch"])) for r in rows if r.get("mean_batch") is not None]
    if batches:
        print("stage costs for the ceiling ...", flush=True)
        costs = stage_costs(model_dirs["man"], payload, batches)
        add_ceilings(rows, costs, watch.machine.cores)
    verdict = watch.finish()
    print_tables(engines, rows, peaks, costs, verdict.mark)
    print(verdict.describe())
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "engines": engines,
                    "rows": rows,
                    "peaks": peaks,
                    "stage_costs": costs,
                    **watch.record(verdict),
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
