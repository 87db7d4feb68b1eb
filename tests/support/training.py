"""The training tests' recipe: a tiny backbone, few epochs, one thread; the learning proof's."""

from __future__ import annotations

from pathlib import Path

# Small enough for two busy CPU cores, big enough for the model to learn the synthetic cue.
SYNTH_PHOTOS = 1500
CROP = 64
EPOCHS = 8
# The learning proof (out-of-fold PC >= 0.8) uses ResNet-18: mobilenet_v3_small plateaus below
# the bar whatever the epochs, data size or precision. 7 epochs keep the weakest fold 0.048
# above it (docs/training.md, "How well it learns"); 10 add ~0.02 for 40 % more time. It trains
# in the product's default precision: bf16 autocast where the CPU has native bf16 (faster for
# ResNet-18 at 64 px, though not for MobileNetV3), else fp32. At 64 px on one thread ResNet-18
# trains faster in the contiguous layout than channels-last (MobileNetV3 the other way round).
MIN_PC = 0.8
LEARNING = {
    "backbone": "resnet18",
    "epochs": 7,
    "lr": 2e-3,
    "channels_last": False,
    "precision": "auto",
}


def fast_config(data: Path, out: Path, **overrides: object):  # type: ignore[no-untyped-def]
    """The test recipe: a tiny torchvision backbone, 64-px input, few epochs, one CPU thread
    (two threads on two shared cores make OpenMP threads spin against each other)."""
    from prettymeter.training.config import TrainConfig

    settings: dict[str, object] = {
        "backbone": "mobilenet_v3_small",
        "weights": None,
        "image_size": CROP,
        "epochs": EPOCHS,
        "batch_size": 32,
        "lr": 4e-3,
        "schedule": "cosine",
        "folds": 3,
        # The tests read the fold models; a refit (the default) is one more model to train, so
        # the tests that ship it ask for it.
        "final": "ensemble",
        "aug_jitter": 0.0,
        "threads": 1,
        "device": "cpu",
        "precision": "fp32",
        "log_every": 0,
        "overwrite": True,
    }
    settings.update(overrides)
    return TrainConfig(data=data, out=out, **settings)  # type: ignore[arg-type]
