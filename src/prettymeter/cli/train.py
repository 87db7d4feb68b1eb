"""CLI verbs of the training toolkit: train, evaluate, export, predict."""

from __future__ import annotations

from pathlib import Path

import typer

from prettymeter.cli.app import app
from prettymeter.errors import PrettyMeterError


@app.command()
def train(
    data: Path = typer.Option(
        None, "--data", help="normalized table of one gender (normalize); not with --resume"
    ),
    out: Path = typer.Option(None, "--out", help="run directory to create"),
    backbone: str = typer.Option("efficientnet_v2_s", help="torchvision backbone name"),
    weights: str = typer.Option(
        "imagenet", help="'imagenet' (torchvision cache, downloaded once), 'none', or a file"
    ),
    image_size: int = typer.Option(256, "--image-size", help="model input side, px"),
    epochs: int = typer.Option(15, help="epochs per fold model"),
    batch_size: int = typer.Option(8, "--batch-size", help="batch per process"),
    lr: float = typer.Option(1e-4, help="AdamW learning rate"),
    weight_decay: float = typer.Option(0.01, "--weight-decay"),
    folds: str = typer.Option(
        "5",
        help="k of k-fold cross-validation (k independent models), or 'official': "
        "SCUT-FBP5500's own 5 folds (the table's cv_fold)",
    ),
    split: str = typer.Option(
        None,
        help="'official-60-40': train on SCUT-FBP5500's train list, score its test list",
    ),
    validation: str = typer.Option(
        "inner",
        help="how the kept epoch is chosen: 'inner' (lowest loss on a part carved from the "
        "training folds) or 'fixed' (the last epoch); the scored fold is never used",
    ),
    inner_share: float = typer.Option(
        0.15, "--inner-share", help="share of the training rows held out as the inner part"
    ),
    loss: str = typer.Option("mse", help="mse (weighted, default), l1 or huber"),
    no_sample_weights: bool = typer.Option(
        False, "--no-sample-weights", help="ignore the table's weights"
    ),
    final: str = typer.Option(
        "ensemble", help="shipped model: 'ensemble' of the fold models or 'refit' on all rows"
    ),
    seed: int = typer.Option(0),
    device: str = typer.Option("auto", help="auto, cpu or cuda"),
    precision: str = typer.Option(
        "auto", help="auto (bf16 on CUDA and AMX CPUs), fp32, bf16 or fp16"
    ),
    compile_model: bool = typer.Option(False, "--compile", help="torch.compile the model"),
    no_augment: bool = typer.Option(False, "--no-augment", help="train without augmentation"),
    aug_pad: float = typer.Option(0.06, help="random crop padding, share of the side"),
    aug_flip: float = typer.Option(0.5, help="horizontal flip probability"),
    aug_rotate: float = typer.Option(10.0, help="max rotation, degrees"),
    aug_jitter: float = typer.Option(0.2, help="brightness/contrast/saturation jitter"),
    log_every: int = typer.Option(100, "--log-every", help="log line every N batches"),
    threads: int = typer.Option(0, help="torch CPU threads (0: torch's default)"),
    resume: Path = typer.Option(None, "--resume", help="continue this killed/stopped run"),
    overwrite: bool = typer.Option(False, help="replace an existing run directory"),
) -> None:
    """Train k fold models with honest out-of-fold metrics, then the shipped model."""
    from prettymeter.training.loop import TrainConfig
    from prettymeter.training.loop import train as run_training

    if loss not in ("mse", "l1", "huber"):
        raise PrettyMeterError(f"unknown --loss {loss!r}; choose mse, l1 or huber")
    if final not in ("ensemble", "refit"):
        raise PrettyMeterError(f"unknown --final {final!r}; choose ensemble or refit")
    if precision not in ("auto", "fp32", "bf16", "fp16"):
        raise PrettyMeterError(f"unknown --precision {precision!r}; choose auto, fp32, bf16, fp16")
    if validation not in ("inner", "fixed"):
        raise PrettyMeterError(f"unknown --validation {validation!r}; choose inner or fixed")
    if split not in (None, "official-60-40"):
        raise PrettyMeterError(f"unknown --split {split!r}; the one split known is official-60-40")
    if folds != "official" and not folds.isdigit():
        raise PrettyMeterError(f"--folds {folds!r} is neither a number nor 'official'")
    if resume is None and (out is None or data is None):
        raise PrettyMeterError(
            "give --data TABLE and --out RUN_DIR for a new run, or --resume RUN_DIR"
        )
    config = TrainConfig(
        data=data if data is not None else Path(),
        out=resume if resume is not None else out,
        backbone=backbone,
        weights=None if weights == "none" else weights,
        image_size=image_size,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        folds="official" if folds == "official" else int(folds),
        split=split,  # type: ignore[arg-type]
        validation=validation,  # type: ignore[arg-type]
        inner_share=inner_share,
        loss=loss,  # type: ignore[arg-type]
        sample_weights=not no_sample_weights,
        final=final,  # type: ignore[arg-type]
        seed=seed,
        device=device,
        precision=precision,  # type: ignore[arg-type]
        compile=compile_model,
        augment=not no_augment,
        aug_pad=aug_pad,
        aug_flip=aug_flip,
        aug_rotate=aug_rotate,
        aug_jitter=aug_jitter,
        log_every=log_every,
        threads=threads or None,
        overwrite=overwrite,
        resume=resume is not None,
    )
    run_training(config)


@app.command()
def export(
    run: Path = typer.Option(..., "--run", help="finished training run directory"),
    out: Path = typer.Option(..., "--out", help="model directory to write"),
    name: str = typer.Option(None, help="model name (default: gender-backbone-run)"),
    demo: bool = typer.Option(False, help="mark the model as a demo model"),
    notes: str = typer.Option("", help="free text stored in the card"),
    overwrite: bool = typer.Option(False, help="replace an existing model directory"),
) -> None:
    """Write model.onnx (one graph, dynamic batch) and card.json for the service."""
    from prettymeter.training.export import export as run_export

    run_export(run, out, name=name, demo=demo, notes=notes, overwrite=overwrite)


@app.command()
def evaluate(
    model: Path = typer.Option(None, "--model", help="exported model directory"),
    data: Path = typer.Option(None, "--data", help="labelled table (normalize output)"),
    runs: list[Path] = typer.Option(
        None,
        "--run",
        help="instead of --model/--data: reprint a training run's scored predictions per fold "
        "on the dataset's own scale (next to the paper for SCUT-FBP5500); repeat to pool runs",
    ),
    out: Path = typer.Option(None, "--out", help="directory for metrics.json and plots"),
    engine: str = typer.Option("auto", help="auto, onnxruntime or openvino"),
    batch_size: int = typer.Option(32, "--batch-size"),
    overwrite: bool = typer.Option(False, help="replace an existing --out"),
) -> None:
    """Score a labelled table with an exported model: PC, MAE, RMSE and plots."""
    if runs:
        if model is not None or data is not None:
            raise PrettyMeterError("give either --run RUN_DIR or --model and --data, not both")
        from prettymeter.training.protocol import (
            REPORT_FILE,
            print_report,
            run_report,
            write_report,
        )

        report = run_report(runs)
        print_report(report)
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            write_report(report, out / REPORT_FILE)
        return
    if model is None or data is None:
        raise PrettyMeterError("give --model MODEL_DIR and --data TABLE (or --run RUN_DIR)")
    from prettymeter.training.evaluate import evaluate as run_evaluate

    run_evaluate(model, data, out, engine=engine, batch_size=batch_size, overwrite=overwrite)


@app.command()
def predict(
    photos: list[Path] = typer.Argument(..., help="photos to score"),
    model: Path = typer.Option(..., "--model", help="exported model directory"),
    engine: str = typer.Option("auto", help="auto, onnxruntime or openvino"),
    whole: bool = typer.Option(
        False, "--whole", help="score the whole photo when no single person is found"
    ),
) -> None:
    """Detect the person on each photo and print score (0-10), percentile and any reason."""
    from prettymeter.predict import predict as run_predict

    results = run_predict(model, photos, engine=engine, whole=whole)
    if any(r.get("error") and not r.get("score") for r in results):
        raise typer.Exit(code=2)
