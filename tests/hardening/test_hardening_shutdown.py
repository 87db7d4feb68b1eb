"""SIGTERM lets the requests in flight finish before the service exits."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.support.bad_inputs import valid_photo
from tests.support.live import free_port
from tests.support.paths import CLI

PHOTOS_PER_REQUEST = 16
REQUESTS = 3  # 48 photos: all admitted (queue 64)


def wait_until_in_flight(url: str, photos: int) -> None:
    """Until the service says it is working on `photos` photos (read from /metrics)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = httpx.get(f"{url}/metrics", timeout=5).text
        for line in text.splitlines():
            if (
                line.startswith("prettymeter_images_in_flight ")
                and float(line.split()[1]) >= photos
            ):
                return
        time.sleep(0.02)
    raise AssertionError(f"{photos} photos never were in flight at once")


def test_sigterm_finishes_every_request_in_flight_then_exits_cleanly(
    hardening_models: dict[str, Path],
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PRETTYMETER_ENGINE": "onnxruntime", "PRETTYMETER_THREADS": "1"}
    process = subprocess.Popen(
        [str(CLI), "serve", "--man", str(hardening_models["man"]), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the service did not become ready"
            time.sleep(0.1)

        photo = base64.b64encode(valid_photo()).decode()
        body = json.dumps({"instances": [photo] * PHOTOS_PER_REQUEST})

        def post(_: int) -> tuple[int, float, list[float]]:
            started = time.monotonic()
            response = httpx.post(
                f"{url}/man/predict",
                content=body,
                headers={"content-type": "application/json"},
                timeout=60,
            )
            predictions = response.json().get("predictions", []) if response.is_success else []
            return response.status_code, time.monotonic() - started, predictions

        with ThreadPoolExecutor(REQUESTS) as pool:
            futures = [pool.submit(post, i) for i in range(REQUESTS)]
            wait_until_in_flight(url, REQUESTS * PHOTOS_PER_REQUEST)
            sent_at = time.monotonic()
            process.send_signal(signal.SIGTERM)
            results = [future.result() for future in futures]
        code = process.wait(timeout=60)
        stopped_after = time.monotonic() - sent_at
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert [status for status, _, _ in results] == [200] * REQUESTS
    assert all(len(predictions) == PHOTOS_PER_REQUEST for _, _, predictions in results)
    # uvicorn re-raises the signal once it has shut down cleanly, so -SIGTERM is a clean stop
    assert code in (0, -signal.SIGTERM)
    assert stopped_after < 30
