"""HTTP load generators (closed or open loop) for the overload test and the bench/ scripts."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

# A steady window starts once every client has had one answer, or after this long.
RAMP_LIMIT_S = 30.0


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


async def _one(
    client: httpx.AsyncClient, path: str, body: bytes, reports: list[LoadReport]
) -> None:
    """One request; its answer goes to the report that is current when it comes (reports[-1])."""
    started = time.perf_counter()
    try:
        response = await client.post(
            path, content=body, headers={"content-type": "application/json"}
        )
    except httpx.TimeoutException:
        reports[-1].errors["timeout"] += 1
        return
    except httpx.HTTPError as exc:
        reports[-1].errors[type(exc).__name__] += 1
        return
    report = reports[-1]
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
    steady: bool = False,
    on_window: Callable[[], None] | None = None,
) -> LoadReport:
    """`concurrency` clients, each sending its next request as soon as the last one is answered.

    By default every answer of the `seconds` is counted (the last ones end a little after).
    `steady`: one warm-up request, then a ramp until every client has had an answer (at most
    RAMP_LIMIT_S); only the answers that come in the next `seconds` are counted, and requests
    still running then are cut (which favours a slower server): the steady rate. `on_window`
    is called as the steady window starts and as it ends."""
    reports = [LoadReport()]
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as client:
        if not steady:
            stop = time.perf_counter() + seconds
            started = time.perf_counter()

            async def worker() -> None:
                while time.perf_counter() < stop:
                    await _one(client, path, body, reports)

            await asyncio.gather(*(worker() for _ in range(concurrency)))
            reports[-1].seconds = time.perf_counter() - started
            return reports[-1]

        await _one(client, path, body, reports)  # warm up
        answered = [0] * concurrency

        async def endless(index: int) -> None:
            while True:
                await _one(client, path, body, reports)
                answered[index] += 1

        tasks = [asyncio.create_task(endless(i)) for i in range(concurrency)]
        ramp_start = time.perf_counter()
        while min(answered) == 0 and time.perf_counter() - ramp_start < RAMP_LIMIT_S:
            await asyncio.sleep(0.05)
        reports.append(LoadReport())
        if on_window is not None:
            on_window()
        window_start = time.perf_counter()
        await asyncio.sleep(seconds)
        window = reports[-1]
        window.seconds = time.perf_counter() - window_start
        reports.append(LoadReport())  # answers after the window are not counted
        if on_window is not None:
            on_window()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return window


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
    reports = [LoadReport()]
    limits = httpx.Limits(max_connections=max_connections)
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as client:
        started = time.perf_counter()
        tasks = []
        sent = 0
        while (now := time.perf_counter()) - started < seconds:
            due = int((now - started) * rate) + 1
            while sent < due:
                tasks.append(asyncio.create_task(_one(client, path, body, reports)))
                sent += 1
            await asyncio.sleep(0.002)
        await asyncio.gather(*tasks)
        reports[-1].seconds = time.perf_counter() - started
    return reports[-1]
