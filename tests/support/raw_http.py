"""A raw HTTP/1.1 client over a plain socket: requests sent exactly as given, lying headers too."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from dataclasses import dataclass
from typing import Any


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)


def raw_request(
    url: str,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    timeout: float = 60.0,
    source: str | None = None,
) -> RawResponse:
    """One HTTP/1.1 request over a plain socket, sent exactly as given (lying headers too);
    `source`: the local address to send from (127.0.0.x all reach a local server)."""
    host, port = url.removeprefix("http://").split(":")
    given = {k.lower(): v for k, v in (headers or {}).items()}
    given.setdefault("content-length", str(len(body)))
    lines = [f"{method} {path} HTTP/1.1", f"host: {host}:{port}", "connection: close"]
    lines += [f"{k}: {v}" for k, v in given.items()]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    started = time.perf_counter()
    address = (source, 0) if source is not None else None
    with socket.create_connection(
        (host, int(port)), timeout=timeout, source_address=address
    ) as sock:
        # the server may answer and close before reading everything (413)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(head + body)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    data = b"".join(chunks)
    seconds = time.perf_counter() - started
    head_bytes, _, payload = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head_bytes.decode("latin-1").split("\r\n")
    status = int(status_line.split()[1]) if status_line else 0
    parsed = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        parsed[name.strip().lower()] = value.strip()
    if parsed.get("transfer-encoding") == "chunked":
        payload = _dechunk(payload)
    return RawResponse(status, parsed, payload, seconds)


def _dechunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        data = rest[size + 2 :]
    return bytes(out)
