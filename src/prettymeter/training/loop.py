"""k-fold training of the regression model: one readable loop, DDP as a branch, resumable runs.

Read top to bottom: config → data (crops decoded once into a uint8 cache) → folds, and in each
fold's training rows an inner validation part → initial weights → for each fold: optimizer,
epochs (augment on the batch, step, inner validation, checkpoint), then the scored fold
predicted once by the kept epoch → out-of-fold metrics → the shipped model (refit or ensemble).
A model's rows and forward passes (the step's objective, fp32 predictions) are in member.py.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from prettymeter.console import progress_bar
from prettymeter.errors import PrettyMeterError
from prettymeter.tables import FOLDS_FILE, read_folds
from prettymeter.training import checkpoint
from prettymeter.training.augment import augment_batch, epoch_seed, normalize_batch, weighted_loss
from prettymeter.training.config import CONFIG_FILE, INIT_FILE, TrainConfig
from prettymeter.training.data import TrainingTable, dataset_record, load_table
from prettymeter.training.device import resolve_device, resolve_precision
from prettymeter.training.distributed import (
    average_buffers,
    barrier,
    rank_digests,
    setup_distributed,
)
from prettymeter.training.logger import Logger
from prettymeter.training.member import MemberRows, Session, batch_loss, predict_rows, score_kept
from prettymeter.training.records import (
    ConfigRecord,
    MemberState,
    read_record,
    training_versions,
    write_record,
)
from prettymeter.training.report import prepare_run, protocol_name, write_results

if TYPE_CHECKING:
    import torch
    from torch import nn


def outer_folds(c: TrainConfig, table: TrainingTable, run: Path) -> np.ndarray:
    """Which fold scores each row: read back on resume, the dataset's own, or made here."""
    from prettymeter.training import folds

    if c.resume and (run / FOLDS_FILE).is_file():
        return read_folds(
            run / FOLDS_FILE,
            table.paths,
            "resume with the same --data file the run was started with",
        )
    if c.split == "official-60-40":
        return folds.official_split(table.split)
    if c.folds == "official":
        return folds.official_folds(table.cv_fold)
    return folds.make_folds(table.labels, table.groups, int(c.folds), seed=c.seed)


@dataclass
class Trainee:
    """One member's model as the epochs see it: the weights, their wrapper, optimizer, targets."""

    model: nn.Module
    net: nn.Module  # the model, wrapped by DDP and/or torch.compile when asked
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    labels: torch.Tensor
    weights: torch.Tensor


def fit_member(s: Session, member: str, rows: MemberRows, epochs: int) -> MemberState:
    """Train one model (a fold, or the refit) from the shared initial weights; resumable.

    Each epoch is checkpointed; the kept epoch is the one with the lowest weighted loss on
    `rows.inner` (the last one when that is empty). Only then are `rows.outer` predicted, once,
    with the kept weights. Returns the member's state: history, kept epoch, outer predictions.
    """
    folder = s.run / member
    folder.mkdir(parents=True, exist_ok=True)
    counts = {"train": len(rows.train), "inner": len(rows.inner), "outer": len(rows.outer)}
    validation = s.config.validation if len(rows.inner) else "fixed"
    state = checkpoint.member_state(folder, member, epochs, validation, counts)
    if state.done:
        return state
    t = build_trainee(s, member, folder, state)
    for epoch in range(state.epochs_done, epochs):
        started = time.perf_counter()
        row, seen, seed = run_epoch(s, t, member, rows, epoch, epochs)
        improved = validate_inner(s, t, rows, folder, state, row)
        if improved:
            state.best_epoch = epoch + 1
        row["seconds"] = time.perf_counter() - started
        state.history.append(row)
        if s.dist.master:  # checkpoint the epoch (resume starts after it), then log it
            checkpoint.save_checkpoint(
                folder, state, t.model, t.optimizer, epoch=epoch + 1, improved=improved,
                seed=seed, seen=seen, inner=rows.inner, n=len(s.table.labels),
            )  # fmt: skip
            log_epoch(s, member, row, epochs, improved and len(rows.inner) > 0)
        else:
            state.epochs_done = epoch + 1
        barrier(s.dist)
    return finish_member(s, t, member, rows, folder, state, epochs)


def build_trainee(s: Session, member: str, folder: Path, state: MemberState) -> Trainee:
    """The model from the shared initial weights and its optimizer, resumed when a run was cut."""
    import torch
    from torch.nn.parallel import DistributedDataParallel

    from prettymeter.training.model import build_model

    c, d = s.config, s.dist
    model = build_model(c.backbone, None)
    model.load_state_dict(s.init_state)
    model.to(s.device)
    if c.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=c.lr, weight_decay=c.weight_decay)
    if state.last_file:
        checkpoint.resume_member(folder, state, model, optimizer)
        s.log.line(f"[{member}] resumed after epoch {state.epochs_done}")
    scaler = torch.amp.GradScaler(enabled=s.dtype == torch.float16 and s.device.type == "cuda")
    net: nn.Module = model
    if d.world > 1:
        net = DistributedDataParallel(
            model, device_ids=[s.device.index] if s.device.type == "cuda" else None
        )
    if c.compile:
        net = torch.compile(net)  # type: ignore[assignment]
    n = len(s.table.labels)
    labels = torch.as_tensor(s.table.labels, dtype=torch.float32)
    weights = torch.as_tensor(
        s.table.weights if c.sample_weights else np.ones(n), dtype=torch.float32
    )
    return Trainee(model, net, optimizer, scaler, labels, weights)


def run_epoch(
    s: Session, t: Trainee, member: str, rows: MemberRows, epoch: int, epochs: int
) -> tuple[dict[str, Any], np.ndarray, int]:
    """One epoch over this rank's share of `rows.train`; returns its row, the rows seen, seed."""
    import torch

    c, d = s.config, s.dist
    per_rank = len(rows.train) // d.world
    steps = max(1, per_rank // c.batch_size) if per_rank >= c.batch_size else (1 if per_rank else 0)
    started = time.perf_counter()
    seed = epoch_seed(c.seed, member, epoch)
    torch.manual_seed(seed + d.rank)  # dropout and friends
    order = torch.Generator().manual_seed(seed)  # the same permutation on every rank
    augment_rng = torch.Generator().manual_seed(seed + 7919 * (d.rank + 1))
    perm = rows.train[torch.randperm(len(rows.train), generator=order).numpy()]
    mine = perm[d.rank * per_rank : (d.rank + 1) * per_rank]
    t.model.train()
    running = RunningLog(s, member, epoch, steps)
    total_loss = 0.0
    with progress_bar() as bar:
        task = bar.add_task(f"{member} epoch {epoch + 1}/{epochs}", total=steps, visible=d.master)
        for step in range(steps):
            batch_rows = mine[step * c.batch_size : (step + 1) * c.batch_size]
            if c.schedule == "cosine":  # from the step index alone, so resume needs no state
                progress = (epoch * steps + step) / max(1, epochs * steps)
                for group in t.optimizer.param_groups:
                    group["lr"] = c.lr * 0.5 * (1.0 + math.cos(math.pi * progress))
            index = torch.as_tensor(batch_rows, device=s.images_on_device.device)
            raw = s.images_on_device.index_select(0, index).to(s.device, non_blocking=True)
            x = augment_batch(raw, c, augment_rng) if c.augment else normalize_batch(raw)
            if c.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            y = t.labels[batch_rows].to(s.device, non_blocking=True)
            w = t.weights[batch_rows].to(s.device, non_blocking=True)
            objective, loss, pred = batch_loss(t.net, s, x, y, w)
            t.optimizer.zero_grad(set_to_none=True)
            t.scaler.scale(objective).backward()
            t.scaler.step(t.optimizer)
            t.scaler.update()
            if not math.isfinite(float(objective.detach())):
                raise PrettyMeterError(
                    f"[{member}] the loss became {float(objective)} at epoch {epoch + 1}; "
                    "lower --lr or use --precision fp32"
                )
            total_loss += float(loss.detach())
            running.add(step, float(loss.detach()), pred.detach(), y)
            bar.advance(task)
    train_seconds = time.perf_counter() - started
    average_buffers(t.model, d)
    row: dict[str, Any] = {
        "member": member,
        "epoch": epoch + 1,
        "train_loss": total_loss / max(1, steps),
        "lr": float(t.optimizer.param_groups[0]["lr"]),
        "images_per_s": steps * c.batch_size * d.world / max(train_seconds, 1e-9),
    }
    # Every rank's batches this epoch: the first steps × batch rows of its share.
    used = min(steps * c.batch_size, per_rank)
    seen = np.concatenate([perm[r * per_rank : r * per_rank + used] for r in range(d.world)])
    return row, seen, seed


class RunningLog:
    """The every-`log_every`-batches line: mean loss and L1, prediction range since the last."""

    def __init__(self, s: Session, member: str, epoch: int, steps: int) -> None:
        self.s, self.member, self.epoch, self.steps = s, member, epoch, steps
        self.reset()

    def reset(self) -> None:
        self.loss = self.l1 = 0.0
        self.n = 0
        self.lo, self.hi = math.inf, -math.inf

    def add(self, step: int, loss: float, pred: torch.Tensor, y: torch.Tensor) -> None:
        self.loss += loss
        self.l1 += float((pred - y).abs().mean())
        self.n += 1
        self.lo = min(self.lo, float(pred.min()))
        self.hi = max(self.hi, float(pred.max()))
        every = self.s.config.log_every
        if every and (step + 1) % every == 0:
            self.s.log.line(
                f"[{self.member}] epoch {self.epoch + 1} batch {step + 1}/{self.steps} "
                f"loss {self.loss / self.n:.5f} "
                f"l1 {self.l1 / self.n:.4f} pred min {self.lo:.3f} max {self.hi:.3f}"
            )
            self.reset()


def validate_inner(
    s: Session, t: Trainee, rows: MemberRows, folder: Path, state: MemberState, row: dict
) -> bool:
    """Score the inner part into `row`; True when this epoch is the best so far (or no inner)."""
    if not len(rows.inner):
        return True  # with no inner part the last epoch is kept
    from prettymeter.training.metrics import regression_metrics

    pred_val = predict_rows(t.model, s, rows.inner, record=(folder, "inner"))[0]
    y_val = t.labels[rows.inner]
    val_loss = float(weighted_loss(pred_val, y_val, t.weights[rows.inner], s.config))
    m = regression_metrics(pred_val.numpy(), y_val.numpy())
    row.update(val_loss=val_loss, val_pc=m["pc"], val_mae=m["mae"], val_rmse=m["rmse"])
    improved = state.best_val_loss is None or val_loss < state.best_val_loss
    if improved:
        state.best_val_loss = val_loss
    return improved


def log_epoch(s: Session, member: str, row: dict[str, Any], epochs: int, best: bool) -> None:
    """The epoch's row into the log and its line on the console; the curves redrawn when due."""
    s.log.row(row)
    s.log.line(
        f"[{member}] epoch {row['epoch']}/{epochs} train {row['train_loss']:.5f}"
        + (f" inner val {row['val_loss']:.5f} pc {row['val_pc']:.3f}" if "val_loss" in row else "")
        + f" {row['images_per_s']:.1f} img/s"
        + (" *best*" if best else "")
    )
    s.log.curves(last=row["epoch"] == epochs)


def finish_member(
    s: Session,
    t: Trainee,
    member: str,
    rows: MemberRows,
    folder: Path,
    state: MemberState,
    epochs: int,
) -> MemberState:
    """Keep the best epoch's weights, score the outer rows with them once, mark the member done."""
    d = s.dist
    digests = rank_digests(t.model, d)
    if d.master:
        state.rank_weights_sha256 = digests
        checkpoint.keep_best(folder, state)
    barrier(d)
    if len(rows.outer) and state.outer_pred is None:
        score_kept(t.model, s, rows, folder, state)
    if d.master:
        state.done = True
        checkpoint.write_state(folder, state)
        kept = f"kept epoch {state.best_epoch}/{epochs}" + (
            f" (lowest loss on {len(rows.inner)} inner rows)" if len(rows.inner) else " (the last)"
        )
        scored = f"; scored {len(rows.outer)} outer rows" if len(rows.outer) else ""
        s.log.line(f"[{member}] {kept}{scored}")
    barrier(d)
    if not d.master:
        state = checkpoint.read_state(folder)
    return state


def train(config: TrainConfig) -> Path:
    """Run (or resume) k-fold training and the final model; returns the run directory."""
    import torch

    from prettymeter.training.folds import UNUSED, straddling_groups, write_folds
    from prettymeter.training.model import build_model_with_source, fetch_initial_weights

    started = time.perf_counter()
    d = setup_distributed(config.device)
    if config.resume:  # the run's own settings; only where and how fast may change
        resumed = read_record(config.out, ConfigRecord).config
        resumed.out, resumed.resume = Path(config.out), True
        resumed.device, resumed.threads = config.device, config.threads
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
        if d.local_rank != 0:
            barrier(d)
        fetch_initial_weights(c.backbone, c.weights)
        if d.local_rank == 0:
            barrier(d)
    prepare_run(c, d)
    run = Path(c.out)
    device = resolve_device(c.device, d.local_rank)
    dtype = resolve_precision(c.precision, device)
    log = Logger(run, d.master)

    table = load_table(Path(c.data), c.image_size, show=d.master)
    n = len(table.labels)
    # Fold K is scored by model K alone; model K keeps the epoch its inner part (carved from
    # the other folds' rows) likes best, so no choice ever sees a row that is scored.
    folds = outer_folds(c, table, run)
    n_folds = int(folds.max()) + 1
    plans = [MemberRows.plan(c, table, folds, fold) for fold in range(n_folds)]

    # The shared initial weights: built once, saved, reused by every fold (and on resume).
    init_path = run / INIT_FILE
    if c.resume and init_path.is_file():
        from safetensors.torch import load_file

        init_state = load_file(str(init_path))
        init_source = read_record(run, ConfigRecord).init
    else:
        torch.manual_seed(c.seed)
        model, init_source = build_model_with_source(c.backbone, c.weights)
        init_state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
        if d.master:
            write_folds(run / FOLDS_FILE, table.paths, table.groups, folds)
            checkpoint.save_weights(model, init_path)
            write_record(
                run, ConfigRecord(config=c, init=init_source, versions=training_versions())
            )
            write_record(run, dataset_record(table, c.data))
        barrier(d)
    if init_source.startswith("random"):
        log.line(f"initial weights: {init_source} (recorded in {CONFIG_FILE})")

    images = table.images
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        images = images.to(device) if images.numel() < free // 4 else images.pin_memory()
    s = Session(c, table, run, device, dtype, d, log, init_state, images)
    log.line(
        f"training {c.backbone} on {n} rows, {protocol_name(c, n_folds)}, {c.epochs} epochs, "
        f"batch {c.batch_size}×{d.world}, device {device}, precision {dtype or 'fp32'}, "
        f"init {init_source}"
    )
    straddling = straddling_groups(table.groups, folds)
    if straddling:
        log.line(
            f"{straddling} duplicate group(s) have rows on both sides of the official folds; "
            "the protocol is kept as published"
        )

    member_states = [fit_member(s, f"fold_{k}", plans[k], c.epochs) for k in range(n_folds)]

    # Out-of-fold predictions: every scored row predicted by the one model that neither
    # trained on it nor chose its epoch on it.
    oof, oof_std = np.full(n, np.nan), np.full(n, np.nan)
    for plan, state in zip(plans, member_states, strict=True):
        oof[plan.outer] = state.outer_pred
        oof_std[plan.outer] = state.outer_std
    best_epochs = [st.best_epoch or 0 for st in member_states]  # set by the first epoch

    members = [f"fold_{f}/{checkpoint.BEST_FILE}" for f in range(n_folds)]
    std_scales = [st.std_scale for st in member_states]
    refit_epochs = None
    if c.final == "refit":  # every protocol row, for the epoch count the inner parts chose
        refit_epochs = max(1, round(float(np.mean(best_epochs))))
        everything = np.flatnonzero(folds != UNUSED)
        nothing = np.empty(0, dtype=np.int64)
        fit_member(s, "refit", MemberRows(everything, nothing, nothing), refit_epochs)
        members = [f"refit/{checkpoint.BEST_FILE}"]
        # No row is left to fit its scale on: it takes the fold models' (geometric mean).
        std_scales = [float(np.exp(np.mean(np.log(std_scales))))]

    if d.master:
        write_results(
            run, c, table, folds, oof, oof_std, best_epochs=best_epochs, members=members,
            std_scales=std_scales, refit_epochs=refit_epochs, init_source=init_source,
            straddling=straddling, inner_used=bool(plans[0].inner.size), started=started,
        )  # fmt: skip
    barrier(d)
    return run
