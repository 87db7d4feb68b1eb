"""CLI verb: demo — prepare the demo models through the real pipeline."""

from __future__ import annotations

from pathlib import Path

import typer

from prettymeter.cli.app import app


@app.command()
def demo(
    out: Path = typer.Option(
        Path("data/demo"),
        "--out",
        help="Folder for the demo's photos, tables, runs and models (reused when already there).",
    ),
    force: bool = typer.Option(False, "--force", help="Rebuild every stage even if cached."),
    tiny: bool = typer.Option(False, "--tiny", help="The test suite's smaller, faster demo."),
) -> None:
    """Prepare demo models on synthetic images: synth → ingest → dedupe → detect → normalize →
    train → export, for both genders, cached under --out."""
    from prettymeter.demo import TINY, DemoSettings, prepare_demo

    prepare_demo(out, TINY if tiny else DemoSettings(), force=force)
