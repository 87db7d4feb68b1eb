"""CLI verbs: `detect` (person crops for every photo) and `export-detector` (MTCNN to ONNX)."""

from __future__ import annotations

from pathlib import Path

import typer

from prettymeter.cli.app import app
from prettymeter.contract import MTCNN


@app.command()
def detect(
    src: Path = typer.Option(..., "--src", help="deduped table (output of `pretty-meter dedupe`)"),
    dst: Path = typer.Option(..., "--dst", help="output table with faces, person box and crop"),
    detector: str = typer.Option(
        MTCNN,
        "--detector",
        help="mtcnn: find the main face and crop head and shoulders; none: the whole photo "
        "is the person (photos already cropped, synthetic data)",
    ),
    crop_size: int = typer.Option(256, "--crop-size", help="side of the stored square crop, px"),
    threads: int | None = typer.Option(
        None, "--threads", help="photos processed in parallel (default: every CPU core)"
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace DST if it exists"),
) -> None:
    """Find the person on every photo, mark photos with no or several main faces, store crops.

    Killed half way, the same command continues from what was written (.DST.partial/).
    """
    from prettymeter import console
    from prettymeter.data.detect import detect as run_detect

    result = run_detect(
        src, dst, detector=detector, crop_size=crop_size, threads=threads, overwrite=overwrite
    )
    rows: dict[str, object] = {
        "source": result["src"],
        "output": result["dst"],
        "detector": result["detector"],
        "crop size": f"{result['crop_size']} px",
        "rows": result["rows"],
        "kept": result["kept"],
    }
    for reason, count in result["filtered"].items():
        rows[f"filtered: {reason}"] = count
    console.summary("detect", rows | console.run_rows(result, "rows"))


@app.command("export-detector")
def export_detector(
    out: Path = typer.Option(
        ...,
        "--out",
        help="folder for pnet.onnx, rnet.onnx, onet.onnx (the package ships them in "
        "src/prettymeter/faces/)",
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace existing ONNX files"),
) -> None:
    """Export MTCNN's nets from facenet-pytorch's weights to ONNX (needs the train extra)."""
    from prettymeter import console
    from prettymeter.training.detector_export import export_nets

    paths = export_nets(out, overwrite=overwrite)
    console.summary(
        "export-detector",
        {name: f"{path} ({path.stat().st_size / 1e6:.2f} MB)" for name, path in paths.items()},
    )
