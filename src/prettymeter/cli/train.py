"""CLI verbs of the training toolkit: train, evaluate, export, predict.

`train`'s options are made from TrainConfig's fields (one source of the settings); only the
four about the run folder (--data, --out, --resume RUN, --overwrite) are written out here.
"""

from __future__ import annotations

import inspect
import typing
from pathlib import Path
from typing import Any

import typer

from prettymeter.cli.app import app
from prettymeter.errors import PrettyMeterError
from prettymeter.training.config import RUN_FOLDER_FIELDS, TrainConfig, flag


def train(
    data: Path | None = None,
    out: Path | None = None,
    resume: Path | None = None,
    overwrite: bool = False,
    **settings: Any,
) -> None:
    """Train k fold models with honest out-of-fold metrics, then the shipped model."""
    from prettymeter.training.loop import train as run_training

    if resume is not None:  # the run's own config.json gives the table and the settings
        data, out = data or Path(), resume
    elif out is None or data is None:
        raise PrettyMeterError(
            "give --data TABLE and --out RUN_DIR for a new run, or --resume RUN_DIR"
        )
    config = TrainConfig(
        data=data, out=out, overwrite=overwrite, resume=resume is not None, **settings
    )
    run_training(config)


def _run_folder_options() -> list[inspect.Parameter]:
    """The options about the run folder, which TrainConfig holds differently (--resume RUN)."""
    fields = TrainConfig.model_fields
    return [
        _keyword("data", Path | None, typer.Option(None, help=fields["data"].description)),
        _keyword("out", Path | None, typer.Option(None, help=fields["out"].description)),
        _keyword("resume", Path | None, typer.Option(None, help="continue this killed run")),
        _keyword("overwrite", bool, typer.Option(False, help=fields["overwrite"].description)),
    ]


def _setting_options() -> list[inspect.Parameter]:
    """One option per TrainConfig setting: its name as the flag, its default, its description.

    Choices (Literal fields) and mixed fields (--folds 5|official) reach TrainConfig as text,
    which validates them and names the flag of a bad value.
    """
    options = []
    for name, field in TrainConfig.model_fields.items():
        if name in RUN_FOLDER_FIELDS:
            continue
        kind, choices = _cli_type(field.annotation)
        text = field.description or ""
        if choices:
            text += f" (one of: {', '.join(choices)})"
        decls = f"{flag(name)}/--no-{name.replace('_', '-')}" if kind is bool else flag(name)
        default = field.default
        if kind is str and default is not None:
            default = str(default)
        annotation = kind if default is not None else kind | None
        options.append(_keyword(name, annotation, typer.Option(default, decls, help=text)))
    return options


def _cli_type(annotation: Any) -> tuple[type, list[str]]:
    """The type typer parses a setting as, and its choices (for --help) when it has some."""
    if annotation in (bool, int, float, str):
        return annotation, []
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is typing.Literal:
        return str, [str(a) for a in args]
    if len(args) == 1:  # X | None
        return _cli_type(args[0])
    return str, []  # --folds: a number or 'official'


def _keyword(name: str, kind: Any, option: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=kind, default=option)


train.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [*_run_folder_options(), *_setting_options()]
)
app.command()(train)


@app.command()
def export(
    run: Path = typer.Option(..., "--run", help="finished training run directory"),
    out: Path = typer.Option(..., "--out", help="model directory to write"),
    name: str = typer.Option(None, help="model name (default: gender-backbone-run)"),
    demo: bool = typer.Option(False, help="mark the model as a demo model"),
    notes: str = typer.Option("", help="free text stored in the card"),
    overwrite: bool = typer.Option(False, help="replace an existing model directory"),
    verify: bool = typer.Option(
        True, help="judge bf16 / int8 on the run's held-out crops into the card (see `verify`)"
    ),
) -> None:
    """Write model.onnx (one graph, dynamic batch) and card.json for the service."""
    from prettymeter.training.export import export as run_export

    run_export(run, out, name=name, demo=demo, notes=notes, overwrite=overwrite, verify=verify)


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
