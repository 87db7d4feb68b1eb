"""Model directories for tests and benchmarks, made by the real exporter (`pretty-meter export`).

A random-init backbone from `build_model` gets a calibrated head (below) and is saved as a
finished one-member training run, which `prettymeter.training.export.export` turns into ONNX +
card.json: the same graph, opset, card and checks as a trained model. The tests use
mobilenet_v3_small at 64 px (seconds to make); bench/serve_load.py EfficientNetV2-S at 256 px.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps

from prettymeter import card as card_module
from prettymeter.imaging import decode_image, preprocess
from prettymeter.probes import probe_photos
from tests.support.paths import DATA

if TYPE_CHECKING:
    from torch import nn

INPUT_SIZE = 64
CROP_SIZE = 96
BACKBONE = "mobilenet_v3_small"
MEMBER_FILE = "member.safetensors"
# The head is a ridge fit on the calibration photos; a larger share shrinks the labels of
# photos unlike them towards the middle.
RIDGE_SHARE = 0.1
TARGET_LO, TARGET_HI = 0.1, 0.9
# The std these models claim for every photo (label_std, 0-1 scale): 0.5 on the 0-10 score.
MODEL_STD = 0.05


def calibration_photos(seed: int) -> list[list[Image.Image]]:
    """Two groups: drawn faces (the engine check's kind of photo); the real fixture photos
    turned and cropped several ways, and noise."""
    drawn = probe_photos(32, seed + 100)
    real: list[Image.Image] = []
    for name in ("man.png", "woman.jpg"):
        photo = decode_image((DATA / name).read_bytes())
        w, h = photo.size
        real += [
            photo,
            ImageOps.mirror(photo),
            photo.convert("L").convert("RGB"),
            photo.crop((w // 6, h // 8, w - w // 6, h - h // 4)),
            photo.crop((w // 4, h // 10, w - w // 4, h // 2)),
        ]
    rng = np.random.default_rng(seed)
    real += [Image.fromarray(rng.integers(0, 256, (80, 80, 3), dtype=np.uint8)) for _ in range(2)]
    return [drawn, real]


def calibrated_net(
    backbone: str = BACKBONE,
    seed: int = 0,
    input_size: int = INPUT_SIZE,
    crop_size: int = CROP_SIZE,
) -> nn.Module:
    """`build_model(backbone)` with random weights, in eval mode, whose label varies by photo.

    Random init in eval mode answers about the same label for every photo, and real photos land
    far from drawn ones. So the batch-norm statistics are set from the calibration photos, and
    the head is fitted (ridge) to spread each group's labels over 0.1-0.9 by brightness:
    different photos get clearly different scores, photos unlike them stay nearer the middle.
    Drawn photos spread as widely as real ones, so the engines' load-time tripwire (which scores
    drawn probe photos) sees as much of this model's bf16 drift as real photos would."""
    import torch

    from prettymeter.training.model import build_model

    torch.manual_seed(seed)
    net = build_model(backbone, None)
    for module in net.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.momentum = None  # a plain average over the calibration batch
    groups = calibration_photos(seed)
    batch = torch.from_numpy(
        np.stack([preprocess(p, None, crop_size, input_size) for g in groups for p in g])
    )
    head = [m for m in net.modules() if isinstance(m, torch.nn.Linear)][-1]
    features: list[torch.Tensor] = []
    hook = head.register_forward_hook(lambda _m, args, _out: features.append(args[0]))
    with torch.no_grad():
        net.train()
        net(batch)
        net.eval()
        features.clear()
        net(batch)
        hook.remove()
        x = features[0].double()
        brightness = batch.double().mean(dim=(1, 2, 3))
        targets, start = [], 0
        for group in groups:
            rank = torch.argsort(torch.argsort(brightness[start : start + len(group)])).double()
            targets.append(TARGET_LO + (TARGET_HI - TARGET_LO) * rank / (len(group) - 1))
            start += len(group)
        target = torch.cat(targets)
        centred, mean_x = x - x.mean(0), x.mean(0)
        gram = centred @ centred.T
        ridge = RIDGE_SHARE * torch.trace(gram) / len(target)
        alpha = torch.linalg.solve(
            gram + ridge * torch.eye(len(target), dtype=gram.dtype), target - target.mean()
        )
        weight = centred.T @ alpha
        # the head is the model's last Linear: row 0 the label, row 1 the log-variance (one std)
        head.weight[0].copy_(weight.float())
        head.weight[1].zero_()
        bias = float(target.mean() - mean_x @ weight)
        head.bias.copy_(torch.tensor([bias, 2.0 * math.log(MODEL_STD)]))
    return net


def make_model_dir(
    model_dir: Path,
    gender: str,
    seed: int = 0,
    input_size: int = INPUT_SIZE,
    crop_size: int = CROP_SIZE,
    backbone: str = BACKBONE,
    detector: str = "mtcnn",
    weights: Path | None = None,
) -> Path:
    """Export a calibrated random-init `backbone` to `model_dir` (ONNX + card, replaced if it is
    a model directory) with the real exporter; `weights` also keeps its safetensors state dict."""
    from prettymeter.training.checkpoint import save_weights
    from prettymeter.training.export import export

    net = calibrated_net(backbone, seed, input_size, crop_size)
    route = "man" if gender == "m" else "woman"
    with tempfile.TemporaryDirectory(prefix="pm-test-run-") as tmp:
        run = Path(tmp)
        save_weights(net, run / MEMBER_FILE)
        _write_run(run, backbone, input_size, crop_size, gender, detector, seed)
        export(
            run,
            model_dir,
            name=f"test-{route}",
            demo=True,
            notes="random-init test model",
            overwrite=(model_dir / card_module.CARD_FILE).is_file(),
        )
        if weights is not None:
            weights.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(run / MEMBER_FILE, weights)
    return model_dir


def _write_run(
    run: Path,
    backbone: str,
    input_size: int,
    crop_size: int,
    gender: str,
    detector: str,
    seed: int,
) -> None:
    """The records of a finished one-member run, as `pretty-meter train` writes them; no
    cross-validation took place (metrics 0), the labels are drawn around the middle."""
    from prettymeter.training.config import TrainConfig
    from prettymeter.training.records import (
        ConfigRecord,
        DatasetRecord,
        MetricsRecord,
        RunRecord,
        Stat,
        write_record,
    )

    labels = np.clip(np.random.default_rng(seed).normal(0.5, 0.15, 500), 0.001, 0.999)
    table = "calibration photos (tests/support/models.py)"
    config = TrainConfig(
        data=Path(table), out=run, backbone=backbone, weights=None, image_size=input_size
    )
    records = (
        ConfigRecord(config=config, init="random"),
        DatasetRecord(
            table=table,
            rows=len(labels),
            groups=len(labels),
            crop_size=crop_size,
            detector=detector,
            normalization={"gender": gender, "lo": 1.0, "med": 5.5, "hi": 9.5},
            label_mean=float(labels.mean()),
            label_std=float(labels.std()),
            labels=sorted(labels.tolist()),
        ),
        RunRecord(done=True, final="ensemble", members=[MEMBER_FILE], best_epochs=[0]),
        MetricsRecord(folds=[], mean_std={"pc": Stat(mean=0.0, std=0.0)}, oof={}, rows=0),
    )
    for record in records:
        write_record(run, record)


def model_dirs(root: Path, keep_weights: bool = False, **options: object) -> dict[str, Path]:
    """{'man': root/man, 'woman': root/woman} (seeds 1 and 2, `options` as make_model_dir's),
    each made unless a model made with the same options is already there (a cache);
    `keep_weights` also keeps each one's state dict as root/ROUTE.safetensors."""
    made = {}
    for route, gender, seed in (("man", "m", 1), ("woman", "w", 2)):
        model_dir = root / route
        weights = root / f"{route}.safetensors" if keep_weights else None
        if not _made_with(model_dir, options) or (weights is not None and not weights.is_file()):
            make_model_dir(model_dir, gender, seed=seed, weights=weights, **options)  # type: ignore[arg-type]
        made[route] = model_dir
    return made


def _made_with(model_dir: Path, options: dict[str, object]) -> bool:
    try:
        card, _ = card_module.load_model_dir(model_dir)
    except Exception:
        return False
    have = {
        "backbone": card.backbone,
        "input_size": card.input_size,
        "crop_size": card.preprocessing.crop_size,
        "detector": card.preprocessing.detector,
        "std": "label_std" in card.outputs,  # made before every model had a std: make it again
    }
    wanted = {
        "backbone": options.get("backbone", BACKBONE),
        "input_size": options.get("input_size", INPUT_SIZE),
        "crop_size": options.get("crop_size", CROP_SIZE),
        "detector": options.get("detector", "mtcnn"),
        "std": True,
    }
    return have == wanted


def whole_photo_model(model_dir: Path, into: Path) -> Path:
    """A copy of an exported model whose card says 'no detector': photos are scored whole and
    prepare in milliseconds (the card decides the crop, so the service's `detect = false`
    alone does not skip a person-crop model's face search)."""
    shutil.copytree(model_dir, into)
    card, _ = card_module.load_model_dir(into)
    card.preprocessing.detector = "none"
    card_module.write_card(into, card)
    return into
