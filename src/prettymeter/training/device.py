"""Where training runs and in which precision: the device and the autocast dtype."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prettymeter.errors import PrettyMeterError
from prettymeter.hardware import cpu_has_bf16

if TYPE_CHECKING:
    import torch


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """auto: this process's GPU (its local rank under torchrun) when CUDA is there, else CPU."""
    import torch

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise PrettyMeterError(
                "--device cuda was asked for but no CUDA GPU is visible; use --device cpu"
            )
        return torch.device(f"cuda:{local_rank}" if name == "cuda" else name)
    if name != "cpu":
        raise PrettyMeterError(f"unknown --device {name!r}; choose auto, cpu or cuda")
    return torch.device("cpu")


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """Autocast dtype or None (fp32); auto: bf16 on CUDA (fp16 on old GPUs) and bf16 CPUs."""
    import torch

    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if precision == "fp16":
        return torch.float16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    # bf16 autocast pays off on CPUs with native bf16 (docs/benchmarks.md, Training).
    return torch.bfloat16 if cpu_has_bf16() else None
