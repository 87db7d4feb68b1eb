"""DDP as a branch: where a process stands in a torchrun job, and what the ranks share.

Run plainly, the world is one process and every function here is a no-op (or the identity).
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from torch import nn


@dataclass
class Dist:
    """Where this process stands in a torchrun job (world 1 when run plainly)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def master(self) -> bool:
        return self.rank == 0


def setup_distributed(device_name: str) -> Dist:
    """torchrun sets RANK/WORLD_SIZE/LOCAL_RANK; gloo on CPU, NCCL on GPUs."""
    if int(os.environ.get("RANK", -1)) == -1:
        return Dist()
    import torch
    import torch.distributed as dist

    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    use_cuda = device_name != "cpu" and torch.cuda.is_available()
    if use_cuda:
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size(), local_rank)


def barrier(d: Dist) -> None:
    if d.world > 1:
        import torch.distributed as dist

        dist.barrier()


def unwrap(model: nn.Module) -> nn.Module:
    """The model itself, out of its DistributedDataParallel and torch.compile wrappers."""
    inner = getattr(model, "module", model)
    return getattr(inner, "_orig_mod", inner)


def gather_predictions(local: torch.Tensor, total: int, d: Dist) -> torch.Tensor:
    """All ranks' validation predictions, in row order (each rank scored a contiguous slice)."""
    if d.world == 1:
        return local
    import torch
    import torch.distributed as dist

    per = math.ceil(total / d.world)
    padded = torch.zeros(per, dtype=torch.float32, device=local.device)
    padded[: len(local)] = local
    parts = [torch.zeros_like(padded) for _ in range(d.world)]
    dist.all_gather(parts, padded)
    return torch.cat([p[: max(0, min(per, total - r * per))] for r, p in enumerate(parts)])


def average_buffers(model: nn.Module, d: Dist) -> None:
    """Average BatchNorm running statistics over ranks (DDP syncs gradients, not buffers)."""
    if d.world == 1:
        return
    import torch
    import torch.distributed as dist

    with torch.no_grad():
        for buffer in unwrap(model).buffers():
            if buffer.is_floating_point():
                dist.all_reduce(buffer, op=dist.ReduceOp.SUM)
                buffer.div_(d.world)


def rank_digests(model: nn.Module, d: Dist) -> list[str]:
    """sha256 of the final weights on every rank: DDP must leave them identical."""
    digest = hashlib.sha256()
    for value in unwrap(model).state_dict().values():
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    if d.world == 1:
        return [digest.hexdigest()]
    import torch.distributed as dist

    gathered: list[Any] = [None] * d.world
    dist.all_gather_object(gathered, digest.hexdigest())
    return [str(g) for g in gathered]
