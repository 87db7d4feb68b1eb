"""Fixtures for the service tests: a real (random-init) exported model directory per gender.

Temporary until the training pipeline's export lands: a torchvision mobilenet_v3_small with a
1-output head, exported with torch.onnx.export to the model-directory contract, plus a card.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from prettymeter import card as card_module
from prettymeter.imaging import MEAN, STD, preprocess

DATA = Path(__file__).resolve().parents[1] / "data"
INPUT_SIZE = 64
CROP_SIZE = 96


def synthetic_photos(count: int, seed: int = 7) -> list[Image.Image]:
    """Drawn 'photos': a skin-toned ellipse face with eyes on a noisy gradient background."""
    rng = np.random.default_rng(seed)
    photos = []
    for _ in range(count):
        base = rng.integers(0, 255, 3)
        gradient = np.linspace(0, 1, 160)[None, :, None] * rng.integers(-80, 80, 3)
        pixels = np.clip(base + gradient + rng.normal(0, 8, (160, 160, 3)), 0, 255)
        image = Image.fromarray(pixels.astype(np.uint8), "RGB")
        draw = ImageDraw.Draw(image)
        skin = tuple(int(v) for v in rng.integers(120, 240, 3))
        draw.ellipse((45, 30, 115, 120), fill=skin)
        draw.ellipse((62, 60, 72, 68), fill=(30, 30, 30))
        draw.ellipse((88, 60, 98, 68), fill=(30, 30, 30))
        photos.append(image)
    return photos


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


@pytest.fixture(scope="session")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two real exported model directories: {'man': ..., 'woman': ...}."""
    root = tmp_path_factory.mktemp("models")
    return {
        "man": make_model_dir(root / "man", "m", seed=1),
        "woman": make_model_dir(root / "woman", "w", seed=2),
    }
