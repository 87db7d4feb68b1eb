"""A small HTTP load generator (closed or open loop) for the overload test and bench/ scripts."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

PHOTO = Path(__file__).resolve().parents[1] / "data" / "man.png"


def seed_body(photos: int = 1) -> bytes:
    photo = base64.b64encode(PHOTO.read_bytes()).decode()
    return json.dumps({"instances": [photo] * photos}).encode()


@dataclass
class LoadReport:
    """Everything a load run saw."""

    seconds: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)  # timeouts, resets: never expected
    shed_without_retry_after: int = 0
    latencies_ok: list[float] = field(default_factory=list)

    @property
    def sent(self) -> int:
        return sum(self.statuses.values()) + sum(self.errors.values())

    @property
    def ok(self) -> int:
        return self.statuses[200]

    @property
    def shed(self) -> int:
        return self.statuses[429] + self.statuses[503]

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500 and status != 503)

    def percentile(self, q: float) -> float | None:
        if not self.latencies_ok:
            return None
        ordered = sorted(self.latencies_ok)
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]

    def merge(self, other: LoadReport) -> None:
        self.statuses.update(other.statuses)
        self.errors.update(other.errors)
        self.shed_without_retry_after += other.shed_without_retry_after
        self.latencies_ok.extend(other.latencies_ok)


async def _one(client: httpx.AsyncClient, path: str, body: bytes, report: LoadReport) -> None:
    started = time.perf_counter()
    try:
        response = await client.post(
            path, content=body, headers={"content-type": "application/json"}
        )
    except httpx.TimeoutException:
        report.errors["timeout"] += 1
        return
    except httpx.HTTPError as exc:
        report.errors[type(exc).__name__] += 1
        return
    report.statuses[response.status_code] += 1
    if response.status_code == 200:
        report.latencies_ok.append(time.perf_counter() - started)
    elif response.status_code in (429, 503) and "retry-after" not in response.headers:
        report.shed_without_retry_after += 1


async def closed_loop(
    url: str,
    concurrency: int,
    seconds: float,
    body: bytes,
    path: str = "/man/predict",
    timeout: float = 60.0,
) -> LoadReport:
    """`concurrency` clients, each sending its next request as soon as the last one is answered."""
    report = LoadReport()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as client:
        stop = time.perf_counter() + seconds
        started = time.perf_counter()

        async def worker() -> None:
            while time.perf_counter() < stop:
                await _one(client, path, body, report)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        report.seconds = time.perf_counter() - started
    return report


async def open_loop(
    url: str,
    rate: float,
    seconds: float,
    body: bytes,
    path: str = "/man/predict",
    timeout: float = 60.0,
    max_connections: int = 512,
) -> LoadReport:
    """Requests arrive at `rate` per second whatever the answers (an overload is an overload)."""
    report = LoadReport()
    limits = httpx.Limits(max_connections=max_connections)
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as client:
        started = time.perf_counter()
        tasks = []
        sent = 0
        while (now := time.perf_counter()) - started < seconds:
            due = int((now - started) * rate) + 1
            while sent < due:
                tasks.append(asyncio.create_task(_one(client, path, body, report)))
                sent += 1
            await asyncio.sleep(0.002)
        await asyncio.gather(*tasks)
        report.seconds = time.perf_counter() - started
    return report


# -- a service in its own process (so its memory is its own) -----------------------------------


def bench_models(root: Path) -> dict[str, Path]:
    """Real exported test models (random-init mobilenet_v3_small), made once under `root`."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "service"))
    from service_helpers import make_model_dir

    models = {"man": root / "man", "woman": root / "woman"}
    for (route, path), gender in zip(models.items(), "mw", strict=True):
        if not (path / "card.json").is_file():
            make_model_dir(path, gender, seed=1 if route == "man" else 2)
    return models


class ServiceProcess:
    """`pretty-meter serve` on 127.0.0.1 in a child process, with settings from the environment."""

    def __init__(self, models: dict[str, Path], env: dict[str, str] | None = None) -> None:
        import os
        import socket
        import sys

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        cli = str(Path(sys.executable).with_name("pretty-meter"))
        self.args = [cli, "serve", "--port", str(self.port), "--log-level", "warning"]
        self.args += [f"--{route}={path}" for route, path in models.items()]
        self.env = {
            **os.environ,
            "PRETTYMETER_ENGINE": "onnxruntime",
            "PRETTYMETER_LOG_REQUESTS": "false",
            **(env or {}),
        }

    def __enter__(self) -> ServiceProcess:
        import subprocess

        self.process = subprocess.Popen(
            self.args, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 120
        while True:
            if self.process.poll() is not None:
                stderr = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"the service did not start: {stderr[-2000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the service did not become ready in 120 s")
            time.sleep(0.1)

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return float(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def alive(self) -> bool:
        return self.process.poll() is None

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except Exception:
            self.process.kill()
            self.process.wait()
