"""Every resource limit tested at its edge: at the limit passes, one past it is refused."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

from tests.support.live import LiveServer
from tests.support.models import whole_photo_model
from tests.support.raw_http import raw_request
from tests.support.settings import service_settings

JSON = {"content-type": "application/json"}
BODY = 64 * 1024
PIXELS = 48 * 48
INSTANCES = 4


def _png(width: int, height: int) -> str:
    rng = np.random.default_rng(width * 1000 + height)
    image = Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8), "RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _padded(size: int) -> bytes:
    """A JSON body of exactly `size` bytes: one small photo and padding whitespace."""
    head = json.dumps({"instances": [_png(8, 8)]}).encode()
    return head[:-1] + b" " * (size - len(head)) + b"}"


def test_body_instances_and_pixels_pass_at_the_limit_and_are_refused_one_past_it(
    hardening_models: dict[str, Path], tmp_path: Path
) -> None:
    settings = service_settings(
        {"man": whole_photo_model(hardening_models["man"], tmp_path / "man")},
        detect=False,
        limits={"max_body_bytes": BODY, "max_instances": INSTANCES, "max_pixels": PIXELS},
        batching={"queue_size": INSTANCES},
    )
    with LiveServer(settings) as server:

        def post(path: str, body: bytes) -> tuple[int, dict]:
            response = raw_request(server.url, "POST", path, body, JSON)
            return response.status, response.json()

        assert post("/man/predict", _padded(BODY))[0] == 200
        assert post("/man/predict", _padded(BODY + 1))[0] == 413

        photos = [_png(8, 8)] * INSTANCES
        status, answer = post("/man/predict", json.dumps({"instances": photos}).encode())
        assert status == 200 and len(answer["predictions"]) == INSTANCES  # fills the queue
        status, answer = post(
            "/man/predict", json.dumps({"instances": [*photos, photos[0]]}).encode()
        )
        assert status == 413 and f"the limit is {INSTANCES}" in answer["detail"]

        edge = {"instances": [_png(48, 48), _png(49, 48)], "gender": "m"}
        status, answer = post("/v1/rate", json.dumps(edge).encode())
        at_limit, past_limit = answer["results"]
        assert at_limit["error"] is None and at_limit["score"] is not None
        assert past_limit["error"]["code"] == "too_large"
        assert f"{PIXELS:,}" in past_limit["error"]["message"]
