"""A service built the way the original built it, for bench/serve_load.py to compare against.

    .venv/bin/python bench/original_baseline_server.py --weights W.safetensors --port 8101

What it copies from the original: a torch eager model called inside the `async def` handler (the
event loop blocks while it runs), one batch per request, PIL + torchvision transforms, and no
person detection (the original scored the whole image at serve time). What it does not copy: the
pickled model (`torch.load` of a whole model) — it loads a safetensors state dict instead, so
both services run the SAME weights (random-init EfficientNetV2-S at 256 px).
"""

from __future__ import annotations

import argparse
import base64
import io

import torch
import torchvision
import uvicorn
from fastapi import FastAPI
from PIL import Image
from safetensors.torch import load_file
from torchvision import transforms

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def build_app(weights: str, size: int) -> FastAPI:
    model = torchvision.models.efficientnet_v2_s(weights=None, num_classes=1)
    model.load_state_dict(load_file(weights))
    model.eval()
    transform = transforms.Compose(
        [transforms.Resize((size, size)), transforms.ToTensor(), transforms.Normalize(MEAN, STD)]
    )
    app = FastAPI()

    async def predict(body: dict) -> dict:  # type: ignore[type-arg]
        images = [
            Image.open(io.BytesIO(base64.b64decode(text))).convert("RGB")
            for text in body["instances"]
        ]
        batch = torch.stack([transform(image) for image in images])
        with torch.no_grad():
            labels = torch.sigmoid(model(batch)).reshape(-1)
        return {"predictions": [round(float(v) * 10, 1) for v in labels]}

    @app.post("/man/predict")
    async def predict_man(body: dict) -> dict:  # type: ignore[type-arg]
        return await predict(body)

    @app.post("/woman/predict")
    async def predict_woman(body: dict) -> dict:  # type: ignore[type-arg]
        return await predict(body)

    @app.get("/healthz")
    async def healthz() -> dict:  # type: ignore[type-arg]
        return {"status": "ok"}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", required=True)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8101)
    args = parser.parse_args()
    uvicorn.run(
        build_app(args.weights, args.size),
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
