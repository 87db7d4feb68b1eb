"""V2 tensors in and out: JSON data, or the binary tensor data extension's bytes after the JSON.

Binary: the JSON header is `Inference-Header-Content-Length` bytes; then each tensor's bytes in
order, a BYTES element as a 4-byte little-endian length and its bytes, FP32 as little-endian
floats (NaN where a photo has no value).
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from prettymeter.serve.routes.common import fail, short
from prettymeter.serve.routes.kserve.schemas import OUTPUTS, PHOTO_INPUT
from prettymeter.serve.schemas import PhotoResult

HEADER_LENGTH = "Inference-Header-Content-Length"
BINARY_EXTENSION = "binary_tensor_data"


def split_body(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    """The JSON header and the binary tensor data after it (binary tensor data extension)."""
    if header_length is None:
        return body, b""
    try:
        size = int(header_length)
    except ValueError:
        fail(400, f"{HEADER_LENGTH} {short(header_length)} is not a number of bytes")
    if not 0 < size <= len(body):
        fail(400, f"{HEADER_LENGTH} is {size} but the body has {len(body)} bytes")
    return body[:size], body[size:]


def unpack_bytes(blob: bytes) -> list[bytes]:
    """A binary BYTES tensor: per element a 4-byte little-endian length, then the bytes."""
    items = []
    offset = 0
    while offset < len(blob):
        if offset + 4 > len(blob):
            fail(400, f"input '{PHOTO_INPUT}': the binary data ends inside an element's length")
        (size,) = struct.unpack_from("<I", blob, offset)
        offset += 4
        if offset + size > len(blob):
            fail(400, f"input '{PHOTO_INPUT}': an element says {size} bytes, fewer are left")
        items.append(blob[offset : offset + size])
        offset += size
    return items


def pack_bytes(items: list[bytes]) -> bytes:
    return b"".join(struct.pack("<I", len(item)) + item for item in items)


def flatten(data: list[Any]) -> list[Any]:
    """Tensor data in its natural nested form or flat, row-major (no recursion: any depth)."""
    flat: list[Any] = []
    stack: list[Any] = [iter(data)]
    while stack:
        item = next(stack[-1], stack)
        if item is stack:
            stack.pop()
        elif isinstance(item, list):
            stack.append(iter(item))
        else:
            flat.append(item)
    return flat


def column(name: str, results: list[PhotoResult]) -> list[Any]:
    """One output's values, photo by photo (None where a photo has none), from the same photo
    results /v1/rate and KServe V1 answer."""
    if name == "error":
        return [r.error.code if r.error else "" for r in results]
    if name in ("box", "region"):
        return [getattr(r, name) or [None, None, None, None] for r in results]
    return [getattr(r, name) for r in results]


def tensor_of(name: str, values: list[Any], binary: bool) -> tuple[dict[str, Any], bytes]:
    """One response output: JSON data (null for a missing value) or binary (NaN)."""
    datatype, shape, _ = OUTPUTS[name]
    entry: dict[str, Any] = {"name": name, "datatype": datatype, "shape": [len(values), *shape]}
    if datatype == "BYTES":
        if binary:
            blob = pack_bytes([v.encode() for v in values])
            entry["parameters"] = {"binary_data_size": len(blob)}
            return entry, blob
        entry["data"] = values
        return entry, b""
    flat = [v for row in values for v in row] if shape else values
    if binary:
        blob = np.array(flat, dtype="<f4").tobytes()  # None → NaN
        entry["parameters"] = {"binary_data_size": len(blob)}
        return entry, blob
    entry["data"] = flat
    return entry, b""
