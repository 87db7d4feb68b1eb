"""Live services for tests and benchmarks that talk HTTP to the real thing, and their memory.

`LiveServer` runs the app on uvicorn in a thread of this process (settings passed in);
`ServiceProcess` runs `pretty-meter serve` (or another server) in a child process, whose memory
and signals are its own.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.support.paths import CLI, REPO

READY_TIMEOUT_S = 180.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """The real app on a real uvicorn on 127.0.0.1, in a thread; `url` once models are loaded."""

    def __init__(self, settings: Any) -> None:
        import uvicorn

        from prettymeter.serve import create_app

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = create_app(settings)
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the service did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


class ServiceFailedError(RuntimeError):
    """A service process that exited or never became ready; the message ends with its log."""


class ServiceProcess:
    """`pretty-meter serve ARGS --host 127.0.0.1 --port N` in a child process (or `command` +
    `--port N`), started at once; `wait_ready()` or `with` waits until `ready_path` answers 200.

    The child's environment is this one without PRETTYMETER_* settings, plus `env`; its output
    goes to `log` (a temporary file when None), whose end `tail()` shows."""

    def __init__(
        self,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        *,
        name: str = "pretty-meter serve",
        log: Path | None = None,
        command: Sequence[str] | None = None,
        ready_path: str = "/readyz",
        ready_timeout_s: float = READY_TIMEOUT_S,
        stop_signal: int = signal.SIGTERM,
    ) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ready_path = ready_path
        self.ready_timeout_s = ready_timeout_s
        self.stop_signal = stop_signal
        self._own_log = log is None
        if log is None:
            handle, path = tempfile.mkstemp(prefix="pm-service-", suffix=".log")
            os.close(handle)
            log = Path(path)
        self.log = log
        self._log_handle = open(log, "wb")  # noqa: SIM115 - closed in stop()
        base = [CLI, "serve", "--host", "127.0.0.1"] if command is None else list(command)
        environment = {k: v for k, v in os.environ.items() if not k.startswith("PRETTYMETER_")}
        self.process = subprocess.Popen(
            [*base, *args, "--port", str(self.port)],
            env={**environment, **(env or {})},
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServiceFailedError(
                    f"{self.name} service exited with {self.process.returncode}:\n{self.tail()}"
                )
            try:
                with urllib.request.urlopen(self.url + self.ready_path, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise ServiceFailedError(
            f"{self.name} service not ready in {self.ready_timeout_s:.0f} s:\n{self.tail()}"
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def rss_mb(self) -> float:
        return rss_mb(self.process.pid)

    def peak_rss_mb(self) -> float:
        return peak_rss_mb(self.process.pid)

    def tail(self, chars: int = 4000) -> str:
        if not self._log_handle.closed:
            self._log_handle.flush()
        return self.log.read_text(encoding="utf-8", errors="replace")[-chars:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(self.stop_signal)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        self._log_handle.close()
        if self._own_log:
            self.log.unlink(missing_ok=True)

    def __enter__(self) -> ServiceProcess:
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def model_service(
    models: Mapping[str, Path], env: Mapping[str, str] | None = None
) -> ServiceProcess:
    """`pretty-meter serve --man=... --woman=...` on ONNX Runtime, warnings only, no request log."""
    args = [f"--{route}={path}" for route, path in models.items()] + ["--log-level", "warning"]
    quiet = {"PRETTYMETER_ENGINE": "onnxruntime", "PRETTYMETER_LOG_REQUESTS": "false"}
    return ServiceProcess(args, {**quiet, **(env or {})})


def _status_kb(pid: int | str, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return float(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no {field}")


def rss_mb(pid: int | str = "self") -> float:
    """A process's resident memory now (this one by default: an in-thread server shares it)."""
    return _status_kb(pid, "VmRSS") / 1024


def peak_rss_mb(pid: int | str = "self") -> float:
    """A process's peak resident memory (VmHWM)."""
    return _status_kb(pid, "VmHWM") / 1024


def v1_rate(url: str, photos: list[bytes], **fields: object) -> dict[str, Any]:
    """POST photos to a live service's /v1/rate as JSON (gender m, extra keys as given); the
    answer's JSON, after checking it is a 200."""
    import httpx

    from tests.support.photos import b64

    body = {"instances": [b64(p) for p in photos], "gender": "m", **fields}
    answer = httpx.post(f"{url}/v1/rate", json=body, timeout=120)
    assert answer.status_code == 200, answer.text
    answer_json: dict[str, Any] = answer.json()
    return answer_json
