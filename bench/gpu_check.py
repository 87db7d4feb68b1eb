"""GPU ready: the training step, fp16 scoring and the service's throughput on CUDA, one table.

Run by bench/gpu_check.sh, which first makes onnxruntime-gpu importable when it is missing:

    bench/gpu_check.sh              # on a CUDA machine: EfficientNetV2-S, 256 px (a few minutes)
    bench/gpu_check.sh --dry-run    # every step on CPU at tiny sizes (also without CUDA)

1. Training step: random-init backbone, random batch, fp32 against bf16 autocast + channels-last
   (the training loop's fast path), images/s over the timed steps after a warm-up.
2. fp16 export: the model exported in fp16 against its fp32 export, both on ONNX Runtime
   (CUDA provider on a GPU), on drawn probe photos and the fixtures: |Δscore| on the 0-10 scale.
3. Service: `pretty-meter serve --device cuda` on the exported model, driven by
   tests/support/load.py (closed loop, steady window): images/s, p50 latency, errors.
A step that fails prints its row as "failed: ..." and the script exits 1.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import testkit  # noqa: F401 - first: the repository root on the import path

from tests.support.paths import DATA


@dataclass(frozen=True)
class Sizes:
    backbone: str
    image_size: int
    batch: int
    warmup: int
    steps: int
    concurrency: int
    load_s: float


REAL = Sizes("efficientnet_v2_s", 256, 32, 5, 20, 16, 20.0)
DRY = Sizes("mobilenet_v3_small", 32, 4, 1, 2, 4, 2.0)


def train_rate(sizes: Sizes, device: str, fast: bool) -> float:
    """Training steps/s × batch on random data; `fast`: bf16 autocast + channels-last."""
    import torch

    from prettymeter.training.model import build_model, label_and_log_var

    torch.manual_seed(0)
    model = build_model(sizes.backbone, None).to(device).train()
    x = torch.randn(sizes.batch, 3, sizes.image_size, sizes.image_size, device=device)
    y = torch.rand(sizes.batch, device=device)
    if fast:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step() -> None:
        with torch.autocast(device, dtype=torch.bfloat16, enabled=fast):
            pred = label_and_log_var(model(x))[0]
        loss = ((pred - y) ** 2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(sizes.warmup):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(sizes.steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    return sizes.steps * sizes.batch / (time.perf_counter() - started)


def export_fp16(weights: Path, sizes: Sizes, path: Path) -> None:
    """The same weights as an fp16 ONNX graph (fp32 input and label, fp16 inside)."""
    import torch

    from prettymeter.training.checkpoint import load_weights
    from prettymeter.training.model import build_model, label_and_log_var

    net = build_model(sizes.backbone, None).eval()
    load_weights(net, weights)

    class Half(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner.half()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return label_and_log_var(self.inner(x.half()))[0].clamp(0.0, 1.0)

    example = torch.randn(2, 3, sizes.image_size, sizes.image_size)
    # the TorchScript exporter: seconds where the dynamo one takes a minute on a small machine
    torch.onnx.export(
        Half(net),
        (example,),
        str(path),
        dynamo=False,
        input_names=["input"],
        output_names=["label"],
        opset_version=18,
        dynamic_axes={"input": {0: "batch"}, "label": {0: "batch"}},
    )


def fp16_drift(model_dir: Path, weights: Path, sizes: Sizes, device: str) -> dict[str, float]:
    """|Δscore| (0-10) of the fp16 graph against the fp32 export, on probe photos + fixtures."""
    import onnxruntime as ort

    from prettymeter import imaging
    from prettymeter.card import ONNX_FILE
    from prettymeter.probes import probe_photos

    fp16 = model_dir.parent / "model-fp16.onnx"
    export_fp16(weights, sizes, fp16)
    photos = probe_photos(62) + [
        imaging.decode_image((DATA / n).read_bytes()) for n in ("man.png", "woman.jpg")
    ]
    size = sizes.image_size
    batch = np.stack([imaging.preprocess(p, None, size, size) for p in photos])
    provider = "CUDAExecutionProvider" if device == "cuda" else "CPUExecutionProvider"
    labels = []
    for path in (model_dir / ONNX_FILE, fp16):
        session = ort.InferenceSession(str(path), providers=[provider])
        if session.get_providers()[0] != provider:
            raise RuntimeError(f"ONNX Runtime fell back to {session.get_providers()[0]}")
        name = session.get_inputs()[0].name
        out = [session.run(None, {name: batch[i : i + 16]})[0] for i in range(0, len(batch), 16)]
        labels.append(np.concatenate(out).reshape(-1))
    delta = np.abs(10.0 * (labels[0] - labels[1]))
    return {
        "n": len(delta),
        "p50": float(np.percentile(delta, 50)),
        "p99": float(np.percentile(delta, 99)),
        "max": float(delta.max()),
    }


def service_rate(model_dir: Path, sizes: Sizes, device: str) -> dict[str, Any]:
    """`pretty-meter serve --device DEVICE` under the load client: images/s, p50 ms, errors."""
    from PIL import Image

    from tests.support.live import ServiceProcess
    from tests.support.load import closed_loop
    from tests.support.photos import page_upload

    with Image.open(DATA / "man.png") as image:
        photo = page_upload(image.convert("RGB"))
    body = json.dumps({"instances": [base64.b64encode(photo).decode()]}).encode()
    with ServiceProcess(["--man", str(model_dir), "--device", device]) as service:
        report = asyncio.run(
            closed_loop(service.url, sizes.concurrency, sizes.load_s, body, steady=True)
        )
    p50 = report.percentile(50)
    return {
        "img_s": report.ok / report.seconds,
        "p50_ms": 1000 * p50 if p50 is not None else float("nan"),
        "errors": report.sent - report.ok,
    }


def attempt(rows: list[tuple[str, str, float]], name: str, work: Any) -> Any:
    """Run one step; its row says what it measured or why it failed (the next steps still run)."""
    print(f"{name} ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    try:
        with contextlib.redirect_stdout(sys.stderr):  # stdout is the table's
            value, text = work()
    except Exception as error:  # a failed step must not hide the others
        lines = [line.strip() for line in str(error).splitlines() if line.strip()] or [""]
        why = lines[0] if len(lines) == 1 else f"{lines[0]} … {lines[-1]}"  # a log's last line
        text = f"failed: {type(error).__name__}: {why}"[:400]
        value = None
    rows.append((name, text, time.perf_counter() - started))
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny sizes, seconds")
    args = parser.parse_args()

    import torch

    cuda = torch.cuda.is_available() and not args.dry_run
    device, sizes = ("cuda", REAL) if cuda else ("cpu", DRY)
    if cuda:
        torch.backends.cudnn.benchmark = True
        header = f"GPU: {torch.cuda.get_device_name(0)}"
    else:
        torch.set_num_threads(1)  # tiny sizes: a thread pool only fights a shared machine
        why = "--dry-run" if args.dry_run else "no CUDA device"
        header = f"CPU dry run ({why}): tiny sizes, the numbers mean nothing"
    rows: list[tuple[str, str, float]] = []
    shape = f"{sizes.backbone}, {sizes.image_size} px, batch {sizes.batch}"

    def train(fast: bool) -> tuple[float, str]:
        rate = train_rate(sizes, device, fast)
        return rate, f"{rate:.1f} img/s ({shape}, {sizes.steps} steps)"

    fp32 = attempt(rows, "train step fp32", lambda: train(False))
    fast = attempt(rows, "train step bf16 autocast + channels-last", lambda: train(True))
    if fp32 and fast:
        rows.append(("bf16 + channels-last against fp32", f"{fast / fp32:.2f}×", 0.0))

    with tempfile.TemporaryDirectory(prefix="pm-gpu-check-") as tmp:
        from tests.support.models import make_model_dir

        model_dir, weights = Path(tmp) / "man", Path(tmp) / "man.safetensors"
        size = sizes.image_size
        made = attempt(
            rows,
            "export (fp32 ONNX + card)",
            lambda: (
                make_model_dir(model_dir, "m", 1, size, size, sizes.backbone, weights=weights),
                f"{sizes.backbone}, {size} px, random init (calibrated head)",
            ),
        )
        if made is not None:

            def drift() -> tuple[None, str]:
                d = fp16_drift(model_dir, weights, sizes, device)
                return None, (
                    f"|Δscore| p50 {d['p50']:.3f} / p99 {d['p99']:.3f} / max {d['max']:.3f} "
                    f"on {d['n']} photos (0-10 scale, onnxruntime {device})"
                )

            def serve() -> tuple[None, str]:
                s = service_rate(model_dir, sizes, device)
                return None, (
                    f"{s['img_s']:.1f} img/s, p50 {s['p50_ms']:.0f} ms, errors {s['errors']} "
                    f"(c={sizes.concurrency}, {sizes.load_s:.0f} s, 512-px JPEG, detection on)"
                )

            attempt(rows, "fp16 against fp32 export", drift)
            attempt(rows, f"service --device {device}", serve)

    print(header)
    width = max(len(name) for name, _, _ in rows)
    print(f"{'step':<{width}}  {'s':>5}  result")
    for name, text, seconds in rows:
        print(f"{name:<{width}}  {seconds:>5.0f}  {text}")
    return 1 if any(text.startswith("failed:") for _, text, _ in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
