"""CLI verb: `rate` (score every photo of a folder, list file or table into one table)."""

from __future__ import annotations

from pathlib import Path

import typer

from prettymeter.cli.app import app


@app.command()
def rate(
    source: Path = typer.Argument(
        ...,
        help="a folder of photos (searched recursively), a list file (one path a line, "
        "relative to the list's folder) or a Parquet table with `path` and `image` columns",
    ),
    model: Path = typer.Option(..., "--model", help="exported model directory"),
    out: Path = typer.Option(..., "--out", help="output table: .parquet or .csv"),
    whole: bool = typer.Option(
        False, "--whole", help="score the whole photo when no single person is found"
    ),
    faces: str = typer.Option(
        "one",
        "--faces",
        help="'all': a row per face of each photo (face index, face box, main, score, ...), "
        "each face scored on its own crop; needs a model trained on person crops",
    ),
    shard: str = typer.Option(
        "0/1",
        "--shard",
        help="I/N: rate only this machine's share (photos whose path hashes to I mod N); the N "
        "outputs, concatenated and sorted by `position`, are the one-machine table",
    ),
    engine: str = typer.Option(
        "auto", help="auto, onnxruntime, openvino, openvino-bf16 or openvino-int8"
    ),
    threads: int | None = typer.Option(
        None, "--threads", help="photos decoded and searched in parallel (default: every core)"
    ),
    batch_size: int = typer.Option(32, "--batch-size", help="photos per model call"),
    part_rows: int = typer.Option(
        64, "--part-rows", help="photos per finished part: what a kill can lose at most"
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace OUT if it exists"),
) -> None:
    """Rate every photo of a collection: score, rate, percentile, box, or the photo's error.

    A photo that cannot be scored gets its error in the table and never stops the run.
    Killed half way, the same command continues from what was written (.OUT.partial/).
    """
    from prettymeter import console
    from prettymeter.batch import rate_collection
    from prettymeter.memory import tune_malloc

    tune_malloc()  # before the preparing threads start
    result = rate_collection(
        source,
        out,
        model,
        whole=whole,
        faces=faces,
        shard=shard,
        threads=threads,
        batch_size=batch_size,
        engine=engine,
        part_rows=part_rows,
        overwrite=overwrite,
    )
    rows: dict[str, object] = {
        "source": f"{result['source']} ({result['kind']}, {result['collection']} photos)",
        "output": result["output"],
        "model": f"{result['model']} ({result['engine']})",
    }
    if result["shard"] != "0/1":
        rows["shard"] = result["shard"]
    rows["photos"] = result["photos"]
    if faces == "all":
        rows["rows (faces)"] = result["rows"]
    rows["scored"] = result["scored"]
    for code, count in result["errors"].items():
        rows[f"error: {code}"] = count
    console.summary("rate", rows | console.run_rows(result, "photos"))
