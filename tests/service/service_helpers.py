"""Helpers for the service tests: a real exported test model, photos, bad inputs, a live server.

The model is temporary until the training pipeline's export lands: a random-init torchvision
mobilenet_v3_small with a 1-output head, exported with torch.onnx.export to the model-directory
contract, plus a card written with prettymeter.card.
"""

from __future__ import annotations

import base64
import io
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from prettymeter import card as card_module
from prettymeter.imaging import MEAN, STD, preprocess
from prettymeter.scoring import probe_photos

DATA = Path(__file__).resolve().parents[1] / "data"
INPUT_SIZE = 64
BODY_LIMIT = 3 * 1024 * 1024
CROP_SIZE = 96


def synthetic_photos(count: int, seed: int = 7) -> list[Image.Image]:
    """Drawn 'photos': a skin-toned ellipse face with eyes on a noisy gradient background."""
    return probe_photos(count, seed)


def make_model_dir(
    model_dir: Path,
    gender: str,
    seed: int = 0,
    input_size: int = INPUT_SIZE,
    crop_size: int = CROP_SIZE,
    backbone: str = "mobilenet_v3_small",
) -> Path:
    """Export a random-init torchvision backbone (1 output, sigmoid) with a valid card."""
    import torch
    import torchvision

    torch.manual_seed(seed)
    net = getattr(torchvision.models, backbone)(weights=None, num_classes=1)
    # Random init in eval mode answers ~0 for every photo; set the batch-norm statistics from
    # noise and standardize the head so different photos get clearly different scores.
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None
    calibration = torch.from_numpy(
        np.stack(
            [preprocess(p, None, crop_size, input_size) for p in synthetic_photos(32, seed + 100)]
        )
    )
    with torch.no_grad():
        net.train()
        net(calibration)
        net.eval()
        raw = net(calibration).flatten()
    shift, scale = float(raw.mean()), 2 * float(raw.std()) + 1e-6

    class Regressor(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.sigmoid((self.net(x) - shift) / scale).reshape(-1)

    model = Regressor().eval()
    model_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = model_dir / card_module.ONNX_FILE
    example = torch.zeros(2, 3, input_size, input_size)
    torch.onnx.export(
        model,
        (example,),
        str(onnx_path),
        input_names=["input"],
        output_names=["label"],
        dynamic_axes={"input": {0: "n"}, "label": {0: "n"}},
        dynamo=False,
        opset_version=17,
    )
    rng = np.random.default_rng(seed)
    labels = np.clip(rng.normal(0.5, 0.15, 500), 0.001, 0.999).tolist()
    model_card = card_module.ModelCard(
        name=f"test-{'man' if gender == 'm' else 'woman'}",
        gender=gender,  # type: ignore[arg-type]
        backbone=backbone,
        input_size=input_size,
        preprocessing=card_module.Preprocessing(
            crop_size=crop_size,
            input_size=input_size,
            mean=MEAN.tolist(),
            std=STD.tolist(),
            detector="mtcnn",
        ),
        normalization=card_module.Normalization(lo=1.0, med=5.5, hi=9.5),
        label_quantiles=card_module.quantiles(labels),
        outputs={"label": "0-1 score"},
        final="single",
        demo=True,
        notes="random-init test model",
        onnx_sha256=card_module.sha256_file(onnx_path),
    )
    card_module.write_card(model_dir, model_card)
    return model_dir


# -- a live uvicorn ------------------------------------------------------------------------------


def free_port() -> int:
    import socket

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


# -- payloads ------------------------------------------------------------------------------------


def photo_bytes(name: str) -> bytes:
    return (DATA / name).read_bytes()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def man_photo() -> Image.Image:
    return Image.open(DATA / "man.png").convert("RGB")


def png_bomb(side: int = 30000) -> bytes:
    """A valid PNG header claiming side×side pixels with almost no data: a few KB."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit grayscale
    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(200)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def exif_rotated_jpeg(image: Image.Image) -> bytes:
    """The photo stored turned on its side, with EXIF orientation 6 saying 'turn it back'."""
    stored = image.transpose(Image.Transpose.ROTATE_90)  # what a phone sensor writes
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(stored, "JPEG", quality=95, exif=exif.tobytes())


def animated_gif(image: Image.Image) -> bytes:
    frames = [image.convert("P"), Image.new("RGB", image.size, (255, 0, 0)).convert("P")]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def heic(image: Image.Image) -> bytes:
    from pillow_heif import register_heif_opener

    register_heif_opener()
    return encode(image, "HEIF", quality=90)


def mode_variants(image: Image.Image) -> dict[str, bytes]:
    """The same photo in every awkward mode: RGBA, LA, P, CMYK, I;16, 1-bit."""
    rgba = image.convert("RGBA")
    rgba.putalpha(200)
    gray16 = Image.fromarray((np.asarray(image.convert("L"), dtype=np.uint16) * 257).astype("<u2"))
    assert gray16.mode == "I;16"
    return {
        "RGBA": encode(rgba, "PNG"),
        "LA": encode(image.convert("LA"), "PNG"),
        "P": encode(image.convert("P"), "PNG"),
        "CMYK": encode(image.convert("CMYK"), "JPEG", quality=95),
        "I;16": encode(gray16, "PNG"),
        "1": encode(image.convert("1"), "PNG"),
    }


def service_settings(model_dirs: dict[str, Path], **changes: object) -> Any:
    """Settings for a test service: ONNX Runtime, 1 thread, no page, no request log."""
    from prettymeter.serve import Settings

    base: dict[str, object] = {
        "models": model_dirs,
        "engine": "onnxruntime",
        "threads": 1,
        "web_dir": None,
        "log_requests": False,
        "limits": {"max_body_bytes": BODY_LIMIT, "max_instances": 16},
    }
    base.update(changes)
    return Settings(**base)  # type: ignore[arg-type]
