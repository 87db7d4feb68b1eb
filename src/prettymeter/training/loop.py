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
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from prettymeter.console import progress_bar
from prettymeter.errors import PrettyMeterError
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
from prettymeter.training.logger import Logger, redraw_curves
from prettymeter.training.member import MemberRows, Session, batch_loss, predict_rows, score_kept
from prettymeter.training.records import ConfigRecord, read_record, training_versions, write_record
from prettymeter.training.report import prepare_run, protocol_name, write_results

if TYPE_CHECKING:
    from torch import nn


def outer_folds(c: TrainConfig, table: TrainingTable, run: Path) -> np.ndarray:
    """Which fold scores each row: read back on resume, the dataset's own, or made here."""
    from prettymeter.training import folds

    if c.resume and (run / folds.FOLDS_FILE).is_file():
        return folds.read_folds(run / folds.FOLDS_FILE, table.paths)
    if c.split == "official-60-40":
        return folds.official_split(table.split)
    if c.folds == "official":
        return folds.official_folds(table.cv_fold)
    return folds.make_folds(table.labels, table.groups, int(c.folds), seed=c.seed)


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
    counts = {"train": len(rows.train), "inner": len(rows.inner), "outer": len(rows.outer)}
    validation = c.validation if len(rows.inner) else "fixed"
    state = checkpoint.member_state(folder, member, epochs, validation, counts)
    if state["done"]:
        return state

    model = build_model(c.backbone, None)
    model.load_state_dict(s.init_state)
    model.to(s.device)
    if c.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=c.lr, weight_decay=c.weight_decay)
    if state["last_file"]:
        checkpoint.resume_member(folder, state, model, optimizer)
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
        seed = epoch_seed(c.seed, member, epoch)
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
                objective, loss, pred = batch_loss(net, s, x, y, w)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(objective).backward()
                scaler.step(optimizer)
                scaler.update()
                value = float(loss.detach())
                if not math.isfinite(float(objective.detach())):
                    raise PrettyMeterError(
                        f"[{member}] the loss became {float(objective)} at epoch {epoch + 1}; "
                        "lower --lr or use --precision fp32"
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
        average_buffers(model, d)
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

            pred_val = predict_rows(model, s, rows.inner, record=(folder, "inner"))[0]
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

        if d.master:  # checkpoint the epoch (resume starts after it), then log it
            # Every rank's batches this epoch: the first steps × batch rows of its share.
            used = min(steps * c.batch_size, per_rank)
            seen = np.concatenate(
                [perm[r * per_rank : r * per_rank + used] for r in range(d.world)]
            )
            checkpoint.save_checkpoint(
                folder, state, model, optimizer, epoch=epoch + 1, improved=improved, seed=seed,
                seen=seen, inner=rows.inner, n=n,
            )  # fmt: skip
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
            redraw_curves(s.run)
        else:
            state["epochs_done"] = epoch + 1
        barrier(d)

    digests = rank_digests(model, d)
    if d.master:
        state["rank_weights_sha256"] = digests
        checkpoint.keep_best(folder, state)
    barrier(d)
    if len(rows.outer) and state.get("outer_pred") is None:
        score_kept(model, s, rows, folder, state)
    if d.master:
        state["done"] = True
        checkpoint.write_state(folder, state)
        kept = f"kept epoch {state['best_epoch']}/{epochs}" + (
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

    from prettymeter.training.folds import FOLDS_FILE, UNUSED, straddling_groups, write_folds
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
        oof[plan.outer] = state["outer_pred"]
        oof_std[plan.outer] = state["outer_std"]
    best_epochs = [st["best_epoch"] for st in member_states]

    members = [f"fold_{f}/{checkpoint.BEST_FILE}" for f in range(n_folds)]
    std_scales = [float(st.get("std_scale", 1.0)) for st in member_states]
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
