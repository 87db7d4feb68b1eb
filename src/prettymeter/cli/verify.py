"""CLI verb: `verify` (judge a model directory's faster engines on a table, into its card)."""

from __future__ import annotations

from pathlib import Path

import typer

from prettymeter.cli.app import app


@app.command()
def verify(
    model_dir: Path = typer.Argument(..., help="exported model directory (card.json is rewritten)"),
    table: Path = typer.Option(
        ...,
        "--table",
        help="labelled table with stored crops (normalize output), ideally rows "
        "the model was not trained on",
    ),
    rows: int = typer.Option(200, "--rows", min=2, help="crops every engine scores"),
    threads: int | None = typer.Option(None, "--threads", help="engine threads (default: all)"),
) -> None:
    """Judge OpenVINO bf16 and int8 against ONNX Runtime fp32 on a table's crops and write the
    figures into the card: `auto` then serves the fastest accepted engine.

    The ONNX file is unchanged; an int8 copy is kept beside it only when accepted.
    """
    from prettymeter import console
    from prettymeter.verification import verification_rows, verify_model_dir

    verification = verify_model_dir(model_dir, table, rows=rows, threads=threads)
    console.summary(f"verify: {model_dir}", verification_rows(verification))
