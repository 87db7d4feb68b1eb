"""k-fold training of the regression model: one readable loop, DDP as a branch, resumable runs.

Read top to bottom: config → data (crops decoded once into a uint8 cache) → folds, and in each
fold's training rows an inner validation part → initial weights → for each fold: optimizer,
epochs (augment on the batch, step, inner validation, checkpoint), then the scored fold
predicted once by the kept epoch → out-of-fold metrics → the shipped model (ensemble or refit).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from prettymeter import imaging
from prettymeter.console import console, progress_bar, summary
from prettymeter.errors import PrettyMeterError
from prettymeter.hardware import cpu_has_bf16
from prettymeter.io import atomic_path, atomic_write_text, remove_stale_temporaries_in

if TYPE_CHECKING:
    import torch
    from torch import nn

CONFIG_FILE = "config.json"
DATASET_FILE = "dataset.json"
RUN_FILE = "run.json"
INIT_FILE = "init.safetensors"
METRICS_FILE = "metrics.json"
REQUIRED_COLUMNS = ("path", "group", "crop", "label", "weight")
CSV_COLUMNS = (
    "member", "epoch", "train_loss", "val_loss", "val_pc", "val_mae", "val_rmse", "lr",
    "images_per_s", "seconds",
)  # fmt: skip


@dataclass
class TrainConfig:
    """Every setting of a training run; saved as config.json in the run directory."""

    data: Path
    out: Path
    backbone: str = "efficientnet_v2_s"
    weights: str | None = "imagenet"
    image_size: int = 256
    epochs: int = 15
    batch_size: int = 8
    lr: float = 1e-4
    weight_decay: float = 0.01
    schedule: Literal["constant", "cosine"] = "constant"
    # Outer protocol: k grouped stratified folds, SCUT-FBP5500's own five ("official"), or its
    # 60/40 split (split="official-60-40": train on `train` rows, score the `test` rows).
    folds: int | Literal["official"] = 5
    split: Literal["official-60-40"] | None = None
    # The kept epoch is chosen on an inner part of the training rows ("inner"), or is the last
    # ("fixed"); the rows a model is scored on never take part in either.
    validation: Literal["inner", "fixed"] = "inner"
    inner_share: float = 0.15
    loss: Literal["mse", "l1", "huber"] = "mse"
    huber_delta: float = 0.1
    sample_weights: bool = True
    final: Literal["ensemble", "refit"] = "ensemble"
    seed: int = 0
    device: str = "auto"
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    channels_last: bool = True
    compile: bool = False
    augment: bool = True
    aug_pad: float = 0.06
    aug_flip: float = 0.5
    aug_rotate: float = 10.0
    aug_jitter: float = 0.2
    log_every: int = 100
    threads: int | None = None
    overwrite: bool = False
    resume: bool = False

    def to_json(self) -> dict[str, Any]:
        raw = dataclasses.asdict(self)
        raw["data"] = str(self.data)
        raw["out"] = str(self.out)
        for key in ("overwrite", "resume"):
            raw.pop(key)
        return raw

    @classmethod
    def from_run(cls, run: Path) -> TrainConfig:
        """The config a run was started with (for --resume and export)."""
        path = Path(run) / CONFIG_FILE
        if not path.is_file():
            raise PrettyMeterError(
                f"{run} is not a training run (no {CONFIG_FILE}); give the --out of "
                "`pretty-meter train`"
            )
        raw = json.loads(path.read_text(encoding="utf-8"))["config"]
        names = {f.name for f in dataclasses.fields(cls)}
        raw = {k: v for k, v in raw.items() if k in names}
        raw["data"] = Path(raw["data"])
        raw["out"] = Path(run)
        return cls(**raw)


# -- data -------------------------------------------------------------------------------------


@dataclass
class TrainingTable:
    """The rows of a normalized table that training needs, crops decoded once."""

    paths: list[str]
    groups: np.ndarray
    labels: np.ndarray
    weights: np.ndarray
    images: torch.Tensor  # uint8 [N, 3, S, S], the stored crops resized to the input size
    meta: dict[str, Any]
    crop_size: int
    rates: np.ndarray | None = None  # the rate the label was made from (dataset scale, 0-10)
    split: list[str | None] | None = None  # SCUT-FBP5500's 60/40 split (ingest)
    cv_fold: list[int | None] | None = None  # SCUT-FBP5500's own fold, 1..5 (ingest)
    source: dict[str, Any] | None = None  # what ingest recorded (format, rate scale)


def decode_crop_uint8(crop: bytes, input_size: int) -> np.ndarray:
    """A stored crop → uint8 [3, S, S]: the pixels `imaging.to_input_array` normalizes."""
    image = imaging.decode_crop(crop)
    if image.size != (input_size, input_size):
        image = image.resize((input_size, input_size), imaging.RESAMPLE)
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8).transpose(2, 0, 1))


def decode_crops(crops: list[bytes], input_size: int, show: bool = True) -> torch.Tensor:
    """Decode every crop once, in threads (PNG decoding releases the GIL), into one tensor."""
    import torch

    images = torch.empty((len(crops), 3, input_size, input_size), dtype=torch.uint8)
    workers = max(1, min(8, os.cpu_count() or 1))
    with ThreadPoolExecutor(workers) as pool, progress_bar() as bar:
        task = bar.add_task("decoding crops", total=len(crops), visible=show)
        for i, array in enumerate(pool.map(lambda c: decode_crop_uint8(c, input_size), crops)):
            images[i] = torch.from_numpy(array)
            bar.advance(task)
    return images


def load_table(path: Path, input_size: int, show: bool = True) -> TrainingTable:
    """Read a normalized table (DESIGN §2) and decode its crops into the uint8 cache."""
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise PrettyMeterError(
            f"{path} does not exist; give the table written by `pretty-meter normalize`"
        )
    try:
        parquet = pq.ParquetFile(str(path))
    except Exception as exc:
        raise PrettyMeterError(
            f"{path} is not a Parquet table ({exc}); give a normalized table"
        ) from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in parquet.schema_arrow.names]
    if missing:
        raise PrettyMeterError(
            f"{path} has no column {', '.join(missing)}; run `pretty-meter normalize` on the "
            "detected table first"
        )
    optional = ("crop_size", "rate", "split", "cv_fold")
    wanted = [*REQUIRED_COLUMNS, *(c for c in optional if c in parquet.schema_arrow.names)]
    table = parquet.read(columns=wanted)
    labels = np.asarray(table.column("label").to_numpy(zero_copy_only=False), dtype=np.float64)
    keep = ~np.isnan(labels)
    crops_col = table.column("crop").to_pylist()
    keep &= np.array([c is not None for c in crops_col])
    if keep.sum() < 2:
        raise PrettyMeterError(
            f"{path} has fewer than 2 usable rows (label and crop); nothing to train on"
        )
    index = np.flatnonzero(keep)
    paths = [str(p) for p in np.asarray(table.column("path").to_pylist(), dtype=object)[index]]
    groups = np.asarray(table.column("group").to_numpy(zero_copy_only=False))[index].astype(
        np.int64
    )
    weights = np.asarray(table.column("weight").to_numpy(zero_copy_only=False), dtype=np.float64)[
        index
    ]
    crops = [crops_col[i] for i in index]
    meta = table_metadata(parquet)
    if "detector" not in meta and "confidence" in parquet.schema_arrow.names:
        # normalize does not carry detect's metadata over: a table with no detection
        # confidence anywhere was cropped with --detector none.
        confidence = parquet.read(columns=["confidence"]).column("confidence")
        meta["detector"] = "none" if confidence.null_count == len(confidence) else "mtcnn"
    if "crop_size" in table.column_names:
        crop_size = int(table.column("crop_size")[int(index[0])].as_py())
    else:
        crop_size = int(imaging.decode_crop(crops[0]).size[0])

    def optional_column(name: str) -> list[Any] | None:
        if name not in table.column_names:
            return None
        values = table.column(name).to_pylist()
        return [values[i] for i in index]

    rates = optional_column("rate")
    return TrainingTable(
        paths=paths,
        groups=groups,
        labels=labels[index],
        weights=np.nan_to_num(weights, nan=1.0),
        images=decode_crops(crops, input_size, show=show),
        meta=meta,
        crop_size=crop_size,
        rates=np.asarray(rates, dtype=np.float64) if rates is not None else None,
        split=optional_column("split"),
        cv_fold=optional_column("cv_fold"),
        source=ingest_metadata(parquet),
    )


def table_metadata(parquet: Any) -> dict[str, Any]:
    """The stages' JSON under the key `prettymeter` (file or schema metadata), merged."""
    merged: dict[str, Any] = {}
    for source in (parquet.schema_arrow.metadata, parquet.metadata.metadata):
        for key in (b"prettymeter.detect", b"prettymeter"):
            raw = (source or {}).get(key)
            if raw:
                try:
                    merged.update(json.loads(raw))
                except ValueError:
                    continue
    return merged


def ingest_metadata(parquet: Any) -> dict[str, Any] | None:
    """What ingest recorded for later stages (format, rate scale); it survives every stage."""
    from prettymeter.data.ingest import METADATA_KEY

    raw = (parquet.schema_arrow.metadata or {}).get(METADATA_KEY)
    try:
        return dict(json.loads(raw)) if raw else None
    except ValueError:
        return None


def _detector_of(meta: dict[str, Any]) -> str:
    for place in (meta, meta.get("detect") or {}, meta.get("detection") or {}):
        if isinstance(place, dict) and place.get("detector"):
            return str(place["detector"])
    return "unknown"


# -- batch transforms (on the device, a whole batch at once) -----------------------------------


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
    """Per-sample loss: squared error (seed), absolute error, or Huber."""
    import torch.nn.functional as F  # noqa: N812

    if kind == "mse":
        return (pred - target) ** 2
    if kind == "l1":
        return (pred - target).abs()
    if kind == "huber":
        return F.huber_loss(pred, target, reduction="none", delta=delta)
    raise PrettyMeterError(f"unknown --loss {kind!r}; choose mse, l1 or huber")


# -- devices, precision, distributed ----------------------------------------------------------


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
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
    # Measured (bench/train_throughput.py, docs/benchmarks.md): 1.6× on an AVX512-BF16 EPYC.
    return torch.bfloat16 if cpu_has_bf16() else None


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
    """DDP as a branch: torchrun sets RANK/WORLD_SIZE/LOCAL_RANK; gloo on CPU, NCCL on GPUs."""
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


def _barrier(d: Dist) -> None:
    if d.world > 1:
        import torch.distributed as dist

        dist.barrier()


def _gather_predictions(local: torch.Tensor, total: int, d: Dist) -> torch.Tensor:
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


# -- checkpoints --------------------------------------------------------------------------------


def save_weights(model: nn.Module, path: Path) -> None:
    """Model weights as safetensors, written atomically."""
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in _unwrap(model).state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp))


def load_weights(model: nn.Module, path: Path) -> None:
    from safetensors.torch import load_file

    _unwrap(model).load_state_dict(load_file(str(path)))


def _save_optimizer(optimizer: torch.optim.Optimizer, path: Path) -> dict[str, Any]:
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


def _load_optimizer(
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


def _unwrap(model: nn.Module) -> nn.Module:
    inner = getattr(model, "module", model)
    return getattr(inner, "_orig_mod", inner)


def _write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=1, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer | np.floating):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value)}")


def _epoch_seed(seed: int, member: str, epoch: int) -> int:
    """Every epoch's randomness derives from (seed, member, epoch): resume redoes it exactly."""
    key = sum((i + 1) * ord(c) for i, c in enumerate(member))
    return (seed * 1_000_003 + key * 10_007 + epoch * 101) % (2**31 - 1)


# -- the loop -----------------------------------------------------------------------------------


class Logger:
    """Lines to stderr and to train.log; metric rows to metrics.csv/.jsonl (and TensorBoard)."""

    def __init__(self, run: Path, enabled: bool) -> None:
        self.run = run
        self.enabled = enabled
        self.tb: Any = None
        if enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(run / "tensorboard"))
            except ImportError:  # TensorBoard is optional
                self.tb = None

    def line(self, text: str) -> None:
        if not self.enabled:
            return
        console.print(text, markup=False)
        with open(self.run / "train.log", "a", encoding="utf-8") as handle:
            handle.write(time.strftime("%Y-%m-%d %H:%M:%S ") + text + "\n")

    def row(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with open(self.run / "metrics.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(row, default=_json_default) + "\n")
        csv_path = self.run / "metrics.csv"
        new = not csv_path.exists()
        with open(csv_path, "a", encoding="utf-8") as handle:
            if new:
                handle.write(",".join(CSV_COLUMNS) + "\n")
            handle.write(",".join(str(row.get(k, "")) for k in CSV_COLUMNS) + "\n")
        if self.tb is not None:
            step = int(row["epoch"])
            for key, value in row.items():
                if isinstance(value, float):
                    self.tb.add_scalar(f"{row['member']}/{key}", value, step)
            self.tb.flush()


@dataclass
class Session:
    """What every member's fit shares: config, data, device, precision, run dir, logger."""

    config: TrainConfig
    table: TrainingTable
    run: Path
    device: torch.device
    dtype: torch.dtype | None
    dist: Dist
    log: Logger
    init_state: dict[str, torch.Tensor]
    images_on_device: torch.Tensor


def _predict(
    model: nn.Module, s: Session, rows: np.ndarray, record: tuple[Path, str]
) -> torch.Tensor:
    """Predictions (fp32) for `rows`, sharded over ranks and gathered; the rows go on the
    member's record of that use (`record`: member folder, ROW_RECORDS key)."""
    import torch

    d = s.dist
    if d.master:
        _record_rows(*record, rows, len(s.table.labels))
    per = math.ceil(len(rows) / d.world)
    mine = rows[d.rank * per : (d.rank + 1) * per]
    model.eval()
    outputs = []
    step = max(1, s.config.batch_size * 4)
    with torch.no_grad():
        for start in range(0, len(mine), step):
            index = torch.as_tensor(mine[start : start + step], device=s.images_on_device.device)
            x = normalize_batch(
                s.images_on_device.index_select(0, index).to(s.device, non_blocking=True)
            )
            if s.config.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(
                s.device.type, dtype=s.dtype or torch.float32, enabled=s.dtype is not None
            ):
                outputs.append(_unwrap(model)(x).float().view(-1))
    local = torch.cat(outputs) if outputs else torch.zeros(0, device=s.device)
    return _gather_predictions(local, len(rows), d).cpu()


@dataclass
class MemberRows:
    """One model's rows: trained on, kept epoch chosen on, scored on (three disjoint sets)."""

    train: np.ndarray
    inner: np.ndarray  # empty with --validation fixed, and for the refit
    outer: np.ndarray  # empty for the refit

    @classmethod
    def plan(cls, c: TrainConfig, table: TrainingTable, folds: np.ndarray, fold: int) -> MemberRows:
        """Fold `fold` is scored; the inner part is carved from the other folds' rows."""
        from prettymeter.training.folds import UNUSED, inner_split

        outer = np.flatnonzero(folds == fold)
        fit = np.flatnonzero((folds != fold) & (folds != UNUSED))
        if c.validation == "fixed":
            return cls(fit, np.empty(0, dtype=np.int64), outer)
        train, inner = inner_split(table.labels, table.groups, fit, c.inner_share, c.seed + fold)
        return cls(train, inner, outer)


# What each use of the rows actually touched, one boolean mask per member, written by the code
# that used them: the audit trail of "no choice ever sees the rows that are scored".
ROW_RECORDS = {
    "train": "seen_rows.npy",  # rows in the training batches
    "inner": "epoch_choice_rows.npy",  # rows whose loss chose the kept epoch
    "outer": "scored_rows.npy",  # rows whose predictions make the out-of-fold metrics
}


def _record_rows(folder: Path, kind: str, rows: np.ndarray, n: int) -> None:
    """OR `rows` into the member's record of `kind`, kept across resumes."""
    path = folder / ROW_RECORDS[kind]
    mask = np.load(path) if path.exists() else np.zeros(n, dtype=bool)
    mask[rows] = True
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.save(handle, mask)


def weighted_loss(
    pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, c: TrainConfig
) -> torch.Tensor:
    """The objective: each sample's loss times its weight (LDS + voices, from normalize), mean."""
    return (sample_loss(pred, target, c.loss, c.huber_delta) * weight).mean()


def fit_member(s: Session, member: str, rows: MemberRows, epochs: int) -> dict[str, Any]:
    """Train one model (a fold, or the refit) from the shared initial weights; resumable.

    Each epoch is checkpointed; the kept epoch is the one with the lowest weighted loss on
    `rows.inner` (the last one when that is empty). Only then are `rows.outer` predicted, once,
    with the kept weights. Returns the member's state: history, kept epoch, outer predictions.
    """
    import torch
    from torch.nn.parallel import DistributedDataParallel

    from prettymeter.training.model import build_model

    c, d = s.config, s.dist
    n = len(s.table.labels)
    folder = s.run / member
    folder.mkdir(parents=True, exist_ok=True)
    state_path = folder / "state.json"
    state: dict[str, Any] = {
        "member": member,
        "epochs_done": 0,
        "epochs": epochs,
        "validation": c.validation if len(rows.inner) else "fixed",
        "best_epoch": None,
        "best_val_loss": None,
        "best_file": None,
        "last_file": None,
        "history": [],
        "outer_pred": None,
        "done": False,
        "train_rows": len(rows.train),
        "inner_rows": len(rows.inner),
        "outer_rows": len(rows.outer),
    }
    if state_path.is_file():
        state = json.loads(state_path.read_text(encoding="utf-8"))
        if state["done"]:
            return state

    model = build_model(c.backbone, None)
    model.load_state_dict(s.init_state)
    model.to(s.device)
    if c.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=c.lr, weight_decay=c.weight_decay)
    if state["last_file"]:
        load_weights(model, folder / state["last_file"])
        _load_optimizer(optimizer, folder / state["optim_file"], state["optimizer"]["param_groups"])
        s.log.line(f"[{member}] resumed after epoch {state['epochs_done']}")
    scaler = torch.amp.GradScaler(enabled=s.dtype == torch.float16 and s.device.type == "cuda")
    net: nn.Module = model
    if d.world > 1:
        net = DistributedDataParallel(
            model, device_ids=[s.device.index] if s.device.type == "cuda" else None
        )
    if c.compile:
        net = torch.compile(net)  # type: ignore[assignment]

    labels = torch.as_tensor(s.table.labels, dtype=torch.float32)
    weights = torch.as_tensor(
        s.table.weights if c.sample_weights else np.ones(n), dtype=torch.float32
    )
    per_rank = len(rows.train) // d.world
    steps = max(1, per_rank // c.batch_size) if per_rank >= c.batch_size else (1 if per_rank else 0)

    for epoch in range(state["epochs_done"], epochs):
        started = time.perf_counter()
        seed = _epoch_seed(c.seed, member, epoch)
        torch.manual_seed(seed + d.rank)  # dropout and friends
        order = torch.Generator().manual_seed(seed)  # the same permutation on every rank
        augment_rng = torch.Generator().manual_seed(seed + 7919 * (d.rank + 1))
        perm = rows.train[torch.randperm(len(rows.train), generator=order).numpy()]
        mine = perm[d.rank * per_rank : (d.rank + 1) * per_rank]
        model.train()
        run_loss = run_l1 = 0.0
        run_n = 0
        lo, hi = math.inf, -math.inf
        total_loss = 0.0
        with progress_bar() as bar:
            task = bar.add_task(
                f"{member} epoch {epoch + 1}/{epochs}", total=steps, visible=d.master
            )
            for step in range(steps):
                batch_rows = mine[step * c.batch_size : (step + 1) * c.batch_size]
                if c.schedule == "cosine":  # from the step index alone, so resume needs no state
                    progress = (epoch * steps + step) / max(1, epochs * steps)
                    for group in optimizer.param_groups:
                        group["lr"] = c.lr * 0.5 * (1.0 + math.cos(math.pi * progress))
                index = torch.as_tensor(batch_rows, device=s.images_on_device.device)
                raw = s.images_on_device.index_select(0, index).to(s.device, non_blocking=True)
                x = augment_batch(raw, c, augment_rng) if c.augment else normalize_batch(raw)
                if c.channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                y = labels[batch_rows].to(s.device, non_blocking=True)
                w = weights[batch_rows].to(s.device, non_blocking=True)
                with torch.autocast(
                    s.device.type, dtype=s.dtype or torch.float32, enabled=s.dtype is not None
                ):
                    pred = net(x).float().view(-1)
                loss = weighted_loss(pred, y, w, c)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                value = float(loss.detach())
                if not math.isfinite(value):
                    raise PrettyMeterError(
                        f"[{member}] the loss became {value} at epoch {epoch + 1}; lower --lr or "
                        "use --precision fp32"
                    )
                total_loss += value
                run_loss += value
                run_l1 += float((pred.detach() - y).abs().mean())
                run_n += 1
                lo = min(lo, float(pred.detach().min()))
                hi = max(hi, float(pred.detach().max()))
                bar.advance(task)
                if c.log_every and (step + 1) % c.log_every == 0:
                    s.log.line(
                        f"[{member}] epoch {epoch + 1} batch {step + 1}/{steps} "
                        f"loss {run_loss / run_n:.5f} "
                        f"l1 {run_l1 / run_n:.4f} pred min {lo:.3f} max {hi:.3f}"
                    )
                    run_loss = run_l1 = 0.0
                    run_n = 0
                    lo, hi = math.inf, -math.inf
        train_seconds = time.perf_counter() - started
        _average_buffers(model, d)
        row: dict[str, Any] = {
            "member": member,
            "epoch": epoch + 1,
            "train_loss": total_loss / max(1, steps),
            "lr": float(optimizer.param_groups[0]["lr"]),
            "images_per_s": steps * c.batch_size * d.world / max(train_seconds, 1e-9),
        }
        improved = True  # with no inner part the last epoch is kept
        if len(rows.inner):
            from prettymeter.training.metrics import regression_metrics

            pred_val = _predict(model, s, rows.inner, record=(folder, "inner"))
            y_val = labels[rows.inner]
            val_loss = float(weighted_loss(pred_val, y_val, weights[rows.inner], c))
            m = regression_metrics(pred_val.numpy(), y_val.numpy())
            row.update(val_loss=val_loss, val_pc=m["pc"], val_mae=m["mae"], val_rmse=m["rmse"])
            improved = state["best_val_loss"] is None or val_loss < state["best_val_loss"]
            if improved:
                state["best_val_loss"] = val_loss
        if improved:
            state["best_epoch"] = epoch + 1
        row["seconds"] = time.perf_counter() - started
        state["history"].append(row)

        # Checkpoint: weight files first (named by epoch), then the JSON that points at them.
        if d.master:
            last_file = f"epoch_{epoch + 1:03d}.safetensors"
            save_weights(model, folder / last_file)
            state["optimizer"] = _save_optimizer(
                optimizer, folder / f"epoch_{epoch + 1:03d}.optim.safetensors"
            )
            state["optim_file"] = f"epoch_{epoch + 1:03d}.optim.safetensors"
            state["last_file"] = last_file
            if improved:
                state["best_file"] = last_file
            state["epochs_done"] = epoch + 1
            state["rng"] = {
                "epoch_seed": seed,
                "note": "every epoch reseeds from (seed, member, epoch)",
            }
            # Every rank's batches this epoch: the first steps × batch rows of its share.
            used = steps * c.batch_size
            seen = [perm[r * per_rank : r * per_rank + min(used, per_rank)] for r in range(d.world)]
            _record_rows(folder, "train", np.concatenate(seen), n)
            if not (folder / ROW_RECORDS["inner"]).exists():  # fixed policy: an empty record
                _record_rows(folder, "inner", rows.inner, n)
            _write_json(state_path, state)
            keep = {state["best_file"], state["last_file"], state["optim_file"]}
            for old in folder.glob("epoch_*.safetensors"):
                if old.name not in keep:
                    old.unlink()
            s.log.row(row)
            s.log.line(
                f"[{member}] epoch {epoch + 1}/{epochs} train {row['train_loss']:.5f}"
                + (
                    f" inner val {row['val_loss']:.5f} pc {row['val_pc']:.3f}"
                    if "val_loss" in row
                    else ""
                )
                + f" {row['images_per_s']:.1f} img/s"
                + (" *best*" if improved and len(rows.inner) else "")
            )
            _redraw_curves(s.run)
        else:
            state["epochs_done"] = epoch + 1
        _barrier(d)

    digests = _rank_digests(model, d)
    if d.master:
        state["rank_weights_sha256"] = digests
        shutil.copyfile(folder / state["best_file"], folder / "best.safetensors")
    _barrier(d)
    if len(rows.outer) and state.get("outer_pred") is None:
        # Every choice is made: the scored fold is predicted once, by the kept weights.
        load_weights(model, folder / "best.safetensors")
        state["outer_pred"] = _predict(model, s, rows.outer, (folder, "outer")).numpy().tolist()
    if d.master:
        state["done"] = True
        _write_json(state_path, state)
        kept = f"kept epoch {state['best_epoch']}/{epochs}" + (
            f" (lowest loss on {len(rows.inner)} inner rows)" if len(rows.inner) else " (the last)"
        )
        scored = f"; scored {len(rows.outer)} outer rows" if len(rows.outer) else ""
        s.log.line(f"[{member}] {kept}{scored}")
    _barrier(d)
    if not d.master:
        state = json.loads(state_path.read_text(encoding="utf-8"))
    return state


def _average_buffers(model: nn.Module, d: Dist) -> None:
    """Average BatchNorm running statistics over ranks (DDP syncs gradients, not buffers)."""
    if d.world == 1:
        return
    import torch
    import torch.distributed as dist

    with torch.no_grad():
        for buffer in _unwrap(model).buffers():
            if buffer.is_floating_point():
                dist.all_reduce(buffer, op=dist.ReduceOp.SUM)
                buffer.div_(d.world)


def _rank_digests(model: nn.Module, d: Dist) -> list[str]:
    """sha256 of the final weights on every rank: DDP must leave them identical."""
    import hashlib

    digest = hashlib.sha256()
    for value in _unwrap(model).state_dict().values():
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    if d.world == 1:
        return [digest.hexdigest()]
    import torch.distributed as dist

    gathered: list[Any] = [None] * d.world
    dist.all_gather_object(gathered, digest.hexdigest())
    return [str(g) for g in gathered]


def _redraw_curves(run: Path) -> None:
    from prettymeter.data.plots import learning_curves

    rows = [
        json.loads(line)
        for line in (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
        if line
    ]
    learning_curves(rows, run / "learning_curves.png")


def _prepare_run(c: TrainConfig, d: Dist) -> None:
    out = Path(c.out)
    if c.resume:
        if not (out / CONFIG_FILE).is_file():
            raise PrettyMeterError(
                f"{out} is not a training run (no {CONFIG_FILE}); nothing to resume"
            )
        if d.master:  # what a killed run was writing (a plot, a checkpoint) is rewritten anyway
            for folder in [out, *(p for p in out.rglob("*") if p.is_dir())]:
                remove_stale_temporaries_in(folder)
        return
    if out.exists() and any(out.iterdir()):
        if not c.overwrite:
            raise PrettyMeterError(
                f"{out} already exists; pass --resume {out} to continue it, --overwrite to "
                "replace it, "
                "or choose another --out"
            )
        if not (out / CONFIG_FILE).is_file():
            raise PrettyMeterError(
                f"{out} is not empty and not a training run; refusing to replace it"
            )
        if d.master:
            shutil.rmtree(out)
    _barrier(d)
    if d.master:
        out.mkdir(parents=True, exist_ok=True)
    _barrier(d)


def train(config: TrainConfig) -> Path:
    """Run (or resume) k-fold training and the final model; returns the run directory."""
    import torch

    from prettymeter.training.folds import FOLDS_FILE, UNUSED, straddling_groups, write_folds
    from prettymeter.training.metrics import error_by_range, regression_metrics, summarize_folds
    from prettymeter.training.model import build_model_with_source

    started = time.perf_counter()
    d = setup_distributed(config.device)
    if config.resume:
        resumed = TrainConfig.from_run(config.out)
        resumed.resume, resumed.device, resumed.threads = True, config.device, config.threads
        config = resumed
    c = config
    if c.threads:
        torch.set_num_threads(c.threads)
    if not Path(c.data).is_file():
        raise PrettyMeterError(
            f"{c.data} does not exist; give the table written by `pretty-meter normalize`"
        )
    if not (c.resume and (Path(c.out) / INIT_FILE).is_file()):
        # Initial weights first (download, or one line saying which file to put where): an
        # offline user learns it before any crop is decoded and before the run folder is made.
        # One process per machine downloads; the others then find the file in the cache.
        from prettymeter.training.model import fetch_initial_weights

        if d.local_rank != 0:
            _barrier(d)
        fetch_initial_weights(c.backbone, c.weights)
        if d.local_rank == 0:
            _barrier(d)
    _prepare_run(c, d)
    run = Path(c.out)
    device = resolve_device(c.device, d.local_rank)
    dtype = resolve_precision(c.precision, device)
    log = Logger(run, d.master)

    table = load_table(Path(c.data), c.image_size, show=d.master)
    n = len(table.labels)
    # Fold K is scored by model K alone; model K keeps the epoch its inner part (carved from
    # the other folds' rows) likes best, so no choice ever sees a row that is scored.
    folds = _outer_folds(c, table, run)
    n_folds = int(folds.max()) + 1
    plans = [MemberRows.plan(c, table, folds, fold) for fold in range(n_folds)]

    # The shared initial weights: built once, saved, reused by every fold (and on resume).
    init_path = run / INIT_FILE
    if c.resume and init_path.is_file():
        from safetensors.torch import load_file

        init_state = load_file(str(init_path))
        init_source = json.loads((run / CONFIG_FILE).read_text(encoding="utf-8"))["init"]
    else:
        torch.manual_seed(c.seed)
        model, init_source = build_model_with_source(c.backbone, c.weights)
        init_state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
        if d.master:
            write_folds(run / FOLDS_FILE, table.paths, table.groups, folds)
            save_weights(model, init_path)
            versions = {"torch": torch.__version__, "python": sys.version.split()[0]}
            try:
                import torchvision

                versions["torchvision"] = torchvision.__version__
            except ImportError:  # pragma: no cover
                pass
            _write_json(
                run / CONFIG_FILE,
                {"config": c.to_json(), "init": init_source, "versions": versions},
            )
            labels_sorted = sorted(float(v) for v in table.labels)
            _write_json(
                run / DATASET_FILE,
                {
                    "table": str(c.data),
                    "rows": n,
                    "groups": len(np.unique(table.groups)),
                    "crop_size": table.crop_size,
                    "detector": _detector_of(table.meta),
                    "normalization": table.meta,
                    "label_mean": float(table.labels.mean()),
                    "label_std": float(table.labels.std()),
                    "labels": labels_sorted,
                    "rate_scale": _rate_scale(table),
                },
            )
        _barrier(d)
    if init_source.startswith("random"):
        log.line(f"initial weights: {init_source} (recorded in {CONFIG_FILE})")

    images = table.images
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        images = images.to(device) if images.numel() < free // 4 else images.pin_memory()
    s = Session(c, table, run, device, dtype, d, log, init_state, images)
    protocol = _protocol_name(c, n_folds)
    log.line(
        f"training {c.backbone} on {n} rows, {protocol}, {c.epochs} epochs, "
        f"batch {c.batch_size}"
        f"×{d.world}, device {device}, precision {dtype or 'fp32'}, init {init_source}"
    )
    straddling = straddling_groups(table.groups, folds)
    if straddling:
        log.line(
            f"{straddling} duplicate group(s) have rows on both sides of the official folds; "
            "the protocol is kept as published"
        )

    member_states = [fit_member(s, f"fold_{k}", plans[k], c.epochs) for k in range(n_folds)]

    # Out-of-fold metrics: every scored row predicted by the one model that neither trained on
    # it nor chose its epoch on it.
    oof = np.full(n, np.nan)
    per_fold = []
    for fold, state in enumerate(member_states):
        rows = plans[fold].outer
        oof[rows] = state["outer_pred"]
        m = regression_metrics(oof[rows], table.labels[rows])
        name = _fold_name(c, fold)
        per_fold.append({"fold": fold, "name": name, "best_epoch": state["best_epoch"], **m})
    scored = np.flatnonzero(folds >= 0)
    pooled = regression_metrics(oof[scored], table.labels[scored])
    best_epochs = [st["best_epoch"] for st in member_states]

    members = [f"fold_{f}/best.safetensors" for f in range(n_folds)]
    refit_epochs = None
    if c.final == "refit":  # every protocol row, for the epoch count the inner parts chose
        refit_epochs = max(1, round(float(np.mean(best_epochs))))
        everything = np.flatnonzero(folds != UNUSED)
        nothing = np.empty(0, dtype=np.int64)
        fit_member(s, "refit", MemberRows(everything, nothing, nothing), refit_epochs)
        members = ["refit/best.safetensors"]

    if d.master:
        from prettymeter.data.plots import error_by_range_plot, oof_scatter

        ranges = error_by_range(oof[scored], table.labels[scored])
        metrics: dict[str, Any] = {
            "protocol": {
                "name": protocol,
                "folds": c.folds,
                "split": c.split,
                "scored_rows": len(scored),
                "straddling_groups": straddling,
            },
            "validation": {
                "policy": c.validation,
                "inner_share": c.inner_share if c.validation == "inner" else None,
                "kept_epoch": "lowest weighted loss on the inner part of the training rows"
                if c.validation == "inner"
                else "the last",
                "scored_rows": "predicted once by the kept weights; in no choice",
            },
            "folds": per_fold,
            "mean_std": summarize_folds(
                [
                    {k: v for k, v in m.items() if k not in ("fold", "name", "best_epoch")}
                    for m in per_fold
                ]
            ),
            "oof": pooled,
            "error_by_range": ranges,
            "rows": n,
        }
        _write_json(run / METRICS_FILE, metrics)
        rates = table.rates if table.rates is not None else np.full(n, np.nan)
        with atomic_path(run / "oof.csv") as tmp, open(tmp, "w", encoding="utf-8") as handle:
            handle.write("row,path,fold,label,pred,rate\n")
            for i in scored:
                handle.write(
                    f"{i},{json.dumps(table.paths[i])},{folds[i]},"
                    f"{table.labels[i]:.6f},{oof[i]:.6f},{rates[i]:.6f}\n"
                )
        error_by_range_plot(ranges, run / "error_by_range.png")
        oof_scatter(oof[scored], table.labels[scored], run / "oof_scatter.png")
        _write_json(
            run / RUN_FILE,
            {
                "done": True,
                "final": c.final,
                "members": members,
                "validation": c.validation,
                "best_epochs": best_epochs,
                "refit_epochs": refit_epochs,
                "init": init_source,
                "seconds": time.perf_counter() - started,
            },
        )
        ms = metrics["mean_std"]
        kind = "test" if c.split else "out-of-fold"
        parts = max(2, round(1 / c.inner_share))
        chosen = (
            f"on inner parts, 1/{parts} of the training rows" if plans[0].inner.size else "fixed"
        )
        summary(
            f"train: {run}",
            {
                "rows / folds": f"{n} rows, {protocol} → {FOLDS_FILE}",
                f"{kind} PC": _pm(ms["pc"]),
                f"{kind} MAE (0-10)": _pm(ms["score_mae"]),
                f"{kind} RMSE (0-10)": _pm(ms["score_rmse"]),
                "kept epochs": ", ".join(str(e) for e in best_epochs) + f" ({chosen})",
                "final model": c.final
                + (
                    f" ({refit_epochs} epochs on all rows)"
                    if refit_epochs
                    else f" of {n_folds} model(s)"
                ),
                "initial weights": init_source,
                "time": f"{time.perf_counter() - started:.1f} s",
                "plots": "learning_curves.png, error_by_range.png, oof_scatter.png",
                "next": f"pretty-meter export --run {run} --out MODEL_DIR",
            },
        )
        if c.folds == "official" or c.split:
            from prettymeter.training.protocol import (
                REPORT_FILE,
                print_report,
                run_report,
                write_report,
            )

            report = run_report([run])
            write_report(report, run / REPORT_FILE)
            print_report(report)
    _barrier(d)
    return run


def _outer_folds(c: TrainConfig, table: TrainingTable, run: Path) -> np.ndarray:
    """Which fold scores each row: read back on resume, the dataset's own, or made here."""
    from prettymeter.training.folds import (
        FOLDS_FILE,
        make_folds,
        official_folds,
        official_split,
        read_folds,
    )

    if c.resume and (run / FOLDS_FILE).is_file():
        return read_folds(run / FOLDS_FILE, table.paths)
    if c.split == "official-60-40":
        return official_split(table.split)
    if c.folds == "official":
        return official_folds(table.cv_fold)
    return make_folds(table.labels, table.groups, int(c.folds), seed=c.seed)


def _protocol_name(c: TrainConfig, n_folds: int) -> str:
    if c.split:
        return "SCUT-FBP5500's 60/40 split (official-60-40)"
    if c.folds == "official":
        return "SCUT-FBP5500's own 5 folds"
    return f"{n_folds} grouped stratified folds"


def _fold_name(c: TrainConfig, fold: int) -> str:
    if c.split:
        return "test 40%"
    if c.folds == "official":
        return f"cross_validation_{fold + 1}"
    return f"fold_{fold}"


def _rate_scale(table: TrainingTable) -> dict[str, Any]:
    """The dataset's own rate scale (ingest records it; older SCUT tables are known by their
    official columns): reports map rates 0-10 linearly back onto it."""
    from prettymeter.data.ingest import RATE_SCALES

    if table.source and isinstance(table.source.get("rate_scale"), dict):
        return dict(table.source["rate_scale"])
    official = [*(table.cv_fold or []), *(table.split or [])]
    return RATE_SCALES["scut-fbp5500" if any(v is not None for v in official) else "filenames"]


def _pm(stat: dict[str, float]) -> str:
    return f"{stat['mean']:.3f} ± {stat['std']:.3f}"


def load_member(run: Path, member_file: str, backbone: str) -> nn.Module:
    """One trained model of a run, in eval mode on the CPU."""
    from prettymeter.training.model import build_model

    model = build_model(backbone, None)
    load_weights(model, Path(run) / member_file)
    return model.eval()
