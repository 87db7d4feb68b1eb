"""A member's folder: its epoch checkpoints (weights, optimizer, state.json) and row records.

Each epoch writes its weight files first (named by epoch), then the state.json that points at
them, so a run killed at any moment resumes from the last state.json it finished writing.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from prettymeter.errors import PrettyMeterError
from prettymeter.io import atomic_path
from prettymeter.training.distributed import unwrap
from prettymeter.training.records import MemberState

if TYPE_CHECKING:
    import torch
    from torch import nn

STATE_FILE = "state.json"
BEST_FILE = "best.safetensors"
# What each use of the rows actually touched, one boolean mask per member, written by the code
# that used them: the audit trail of "no choice ever sees the rows that are scored".
ROW_RECORDS = {
    "train": "seen_rows.npy",  # rows in the training batches
    "inner": "epoch_choice_rows.npy",  # rows whose loss chose the kept epoch
    "outer": "scored_rows.npy",  # rows whose predictions make the out-of-fold metrics
}


def save_weights(model: nn.Module, path: Path) -> None:
    """Model weights as safetensors, written atomically."""
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in unwrap(model).state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp))


def load_weights(model: nn.Module, path: Path) -> None:
    from safetensors.torch import load_file

    unwrap(model).load_state_dict(load_file(str(path)))


def load_member(run: Path, member_file: str, backbone: str) -> nn.Module:
    """One trained model of a run, in eval mode on the CPU."""
    from prettymeter.training.model import build_model

    model = build_model(backbone, None)
    try:
        load_weights(model, Path(run) / member_file)
    except RuntimeError as exc:  # the state dict does not fit (an older head)
        raise PrettyMeterError(
            f"{Path(run) / member_file} does not fit a {backbone} with this version's head "
            "(label and std); it was trained by an older pretty-meter: train the run again"
        ) from exc
    return model.eval()


def save_optimizer(optimizer: torch.optim.Optimizer, path: Path) -> dict[str, Any]:
    """Optimizer tensors to safetensors; returns the JSON part (param groups, keys)."""
    import torch
    from safetensors.torch import save_file

    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    for index, slots in state["state"].items():
        for name, value in slots.items():
            tensor = value if isinstance(value, torch.Tensor) else torch.tensor(value)
            tensors[f"{index}/{name}"] = tensor.detach().cpu().contiguous()
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp))
    return {"param_groups": state["param_groups"]}


def load_optimizer(
    optimizer: torch.optim.Optimizer, path: Path, groups: list[dict[str, Any]]
) -> None:
    from safetensors.torch import load_file

    slots: dict[int, dict[str, Any]] = {}
    for key, tensor in load_file(str(path)).items():
        index, name = key.split("/", 1)
        slots.setdefault(int(index), {})[name] = tensor
    for group in groups:
        if "betas" in group:
            group["betas"] = tuple(group["betas"])
    optimizer.load_state_dict({"state": slots, "param_groups": groups})


def record_rows(folder: Path, kind: str, rows: np.ndarray, n: int) -> None:
    """OR `rows` into the member's record of `kind`, kept across resumes."""
    path = folder / ROW_RECORDS[kind]
    mask = np.load(path) if path.exists() else np.zeros(n, dtype=bool)
    mask[rows] = True
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.save(handle, mask)


def member_state(
    folder: Path, member: str, epochs: int, validation: str, rows: dict[str, int]
) -> MemberState:
    """The member's state.json as a killed run left it, or a fresh one."""
    if (folder / STATE_FILE).is_file():
        return MemberState.read(folder)
    return MemberState(
        member=member,
        epochs=epochs,
        validation=validation,
        train_rows=rows["train"],
        inner_rows=rows["inner"],
        outer_rows=rows["outer"],
    )


def read_state(folder: Path) -> MemberState:
    return MemberState.read(folder)


def write_state(folder: Path, state: MemberState) -> None:
    state.write(folder)


def resume_member(
    folder: Path, state: MemberState, model: nn.Module, optimizer: torch.optim.Optimizer
) -> None:
    """Load the last epoch's weights and optimizer state into a freshly built member."""
    if not (state.last_file and state.optim_file and state.optimizer):
        raise PrettyMeterError(f"{folder / STATE_FILE} names no epoch files; train anew")
    load_weights(model, folder / state.last_file)
    load_optimizer(optimizer, folder / state.optim_file, state.optimizer["param_groups"])


def save_checkpoint(
    folder: Path,
    state: MemberState,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    *,
    epoch: int,
    improved: bool,
    seed: int,
    seen: np.ndarray,
    inner: np.ndarray,
    n: int,
) -> None:
    """Checkpoint the epoch just done (1-based `epoch`); the files no state points at go."""
    last_file = f"epoch_{epoch:03d}.safetensors"
    optim_file = f"epoch_{epoch:03d}.optim.safetensors"
    save_weights(model, folder / last_file)
    state.optimizer = save_optimizer(optimizer, folder / optim_file)
    state.optim_file = optim_file
    state.last_file = last_file
    if improved:
        state.best_file = last_file
    state.epochs_done = epoch
    state.rng = {"epoch_seed": seed, "note": "every epoch reseeds from (seed, member, epoch)"}
    record_rows(folder, "train", seen, n)
    if not (folder / ROW_RECORDS["inner"]).exists():  # fixed policy: an empty record
        record_rows(folder, "inner", inner, n)
    write_state(folder, state)
    keep = {state.best_file, state.last_file, state.optim_file}
    for old in folder.glob("epoch_*.safetensors"):
        if old.name not in keep:
            old.unlink()


def keep_best(folder: Path, state: MemberState) -> None:
    """The kept epoch's weights as the member's best.safetensors."""
    if state.best_file is None:
        raise PrettyMeterError(f"{folder / STATE_FILE} has no kept epoch; train anew")
    shutil.copyfile(folder / state.best_file, folder / BEST_FILE)
