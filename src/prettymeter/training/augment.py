"""The batch on the device: normalization, augmentation (one affine warp + colour jitter), loss."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from prettymeter import imaging
from prettymeter.errors import PrettyMeterError

if TYPE_CHECKING:
    import torch

    from prettymeter.training.config import TrainConfig


def normalize_batch(images: torch.Tensor) -> torch.Tensor:
    """uint8 [B,3,S,S] → float32, ImageNet-normalized: the same numbers as to_input_array."""
    import torch

    mean = torch.as_tensor(imaging.MEAN, device=images.device).view(1, 3, 1, 1)
    std = torch.as_tensor(imaging.STD, device=images.device).view(1, 3, 1, 1)
    return (images.float() / 255.0 - mean) / std


def augment_batch(
    images: torch.Tensor, config: TrainConfig, generator: torch.Generator
) -> torch.Tensor:
    """Random crop with padding, horizontal flip, rotation (one affine warp) and colour jitter.

    Returns normalized float32. Every draw comes from `generator`, so an epoch is reproducible
    (a resumed run redoes the interrupted epoch exactly).
    """
    import torch
    import torch.nn.functional as F  # noqa: N812

    batch, _, size, _ = images.shape
    dev = images.device

    def uniform(lo: float, hi: float) -> torch.Tensor:
        return (torch.rand(batch, generator=generator) * (hi - lo) + lo).to(dev)

    x = images.float() / 255.0
    angle = uniform(-config.aug_rotate, config.aug_rotate) * (math.pi / 180.0)
    flip = torch.where(uniform(0, 1) < config.aug_flip, -1.0, 1.0)
    # Padding p pixels then cropping back to S is a shift of up to ±p pixels (2p/S normalized).
    shift = 2.0 * round(config.aug_pad * size) / size
    tx, ty = uniform(-shift, shift), uniform(-shift, shift)
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack(
        [torch.stack([cos * flip, -sin, tx], 1), torch.stack([sin * flip, cos, ty], 1)], 1
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    j = config.aug_jitter
    if j > 0:
        gray_weights = torch.tensor([0.299, 0.587, 0.114], device=dev).view(1, 3, 1, 1)
        x = x * uniform(1 - j, 1 + j).view(-1, 1, 1, 1)
        gray = (x * gray_weights).sum(1, keepdim=True)
        c = uniform(1 - j, 1 + j).view(-1, 1, 1, 1)
        x = (x - gray.mean((2, 3), keepdim=True)) * c + gray.mean((2, 3), keepdim=True)
        gray = (x * gray_weights).sum(1, keepdim=True)
        s = uniform(1 - j, 1 + j).view(-1, 1, 1, 1)
        x = (x - gray) * s + gray
        x = x.clamp(0.0, 1.0)
    mean = torch.as_tensor(imaging.MEAN, device=dev).view(1, 3, 1, 1)
    std = torch.as_tensor(imaging.STD, device=dev).view(1, 3, 1, 1)
    return (x - mean) / std


def sample_loss(pred: torch.Tensor, target: torch.Tensor, kind: str, delta: float) -> torch.Tensor:
    """Per-sample loss: squared error (the original's), absolute error, or Huber."""
    import torch.nn.functional as F  # noqa: N812

    if kind == "mse":
        return (pred - target) ** 2
    if kind == "l1":
        return (pred - target).abs()
    if kind == "huber":
        return F.huber_loss(pred, target, reduction="none", delta=delta)
    raise PrettyMeterError(f"unknown --loss {kind!r}; choose mse, l1 or huber")


def weighted_loss(
    pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, c: TrainConfig
) -> torch.Tensor:
    """The objective: each sample's loss times its weight (LDS + voices, from normalize), mean."""
    return (sample_loss(pred, target, c.loss, c.huber_delta) * weight).mean()


def variance_loss(
    pred: torch.Tensor, log_var: torch.Tensor, target: torch.Tensor, weight: torch.Tensor
) -> torch.Tensor:
    """The variance head's objective: Gaussian negative log-likelihood of the residual, with the
    prediction detached (only the log-variance learns from it), times the sample's weight like
    the label's loss (a row of weight 0 teaches nothing), mean over the batch. The weights tilt
    the std towards rare labels; the scale fitted on inner rows (unweighted) sets its level."""
    residual = (target - pred.detach()) ** 2
    nll = 0.5 * (log_var + residual * (-log_var).exp())
    return (nll * weight).mean()


def epoch_seed(seed: int, member: str, epoch: int) -> int:
    """Every epoch's randomness derives from (seed, member, epoch): resume redoes it exactly."""
    key = sum((i + 1) * ord(c) for i, c in enumerate(member))
    return (seed * 1_000_003 + key * 10_007 + epoch * 101) % (2**31 - 1)
