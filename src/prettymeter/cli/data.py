"""CLI verbs of the data pipeline: synth, ingest, dedupe, normalize."""

from __future__ import annotations

from pathlib import Path

import typer

from prettymeter.cli.app import app


@app.command()
def synth(
    out: Path = typer.Option(..., "--out", help="Folder to write the images into (new or empty)."),
    n: int = typer.Option(300, "--n", help="Number of images (copies included)."),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed gives the same files."),
    size: int = typer.Option(256, "--size", help="Image side in px."),
    recipe: str = typer.Option(
        "drawn",
        "--recipe",
        help="drawn: a drawn face-like figure (whole photos, --detector none); faces: real faces "
        "from the portraits installed packages ship, with made-up looks (the demo's photos).",
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Add files to a non-empty folder."),
) -> None:
    """Generate synthetic rated photos named in the dataset format (for demos and tests)."""
    from prettymeter.console import summary
    from prettymeter.errors import PrettyMeterError

    if recipe == "faces":
        from prettymeter.data.portraits import generate_portraits

        summary("synth", generate_portraits(out, n, seed, size=size, overwrite=overwrite))
        return
    if recipe != "drawn":
        raise PrettyMeterError(f"unknown --recipe {recipe!r}; use drawn or faces")
    from prettymeter.data.synth import generate

    summary("synth", generate(out, n, seed, size=size, overwrite=overwrite))


@app.command()
def ingest(
    ds: Path = typer.Option(..., "--ds", help="Dataset folder, searched recursively."),
    dst: Path = typer.Option(..., "--dst", help="Output table (.parquet)."),
    fmt: str = typer.Option(
        "filenames",
        "--format",
        help="filenames: labels in <uuid>_<gender>_<country>_<rate>_<voices>.<ext>; "
        "scut-fbp5500: the SCUT-FBP5500 layout (Images/, train_test_files/).",
    ),
    strict: bool = typer.Option(False, "--strict", help="Fail if any file is rejected."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --dst."),
) -> None:
    """Read a folder of rated photos into a table; list every rejected file with its reason."""
    from prettymeter.console import summary
    from prettymeter.data.ingest import ingest as run

    summary("ingest", run(ds, dst, strict=strict, fmt=fmt, overwrite=overwrite))


@app.command()
def dedupe(
    src: Path = typer.Option(..., "--src", help="Table written by ingest."),
    dst: Path = typer.Option(..., "--dst", help="Output table (.parquet)."),
    threshold: int = typer.Option(
        6, "--threshold", help="Near duplicate: pHash Hamming distance at most this (of 64)."
    ),
    merge: str = typer.Option(
        "all",
        "--merge",
        help="all: merge every duplicate cluster into one row; exact: merge only identical "
        "bytes, keep near copies as rows sharing a group.",
    ),
    ds: Path | None = typer.Option(None, "--ds", help="Dataset folder (only with --quarantine)."),
    quarantine: Path | None = typer.Option(
        None, "--quarantine", help="Move duplicate files here from --ds (never deleted)."
    ),
    delete: bool = typer.Option(
        False,
        "--delete",
        help="Take duplicate files out of --ds: they are moved (never removed) to --quarantine, "
        "by default the folder DS.quarantine beside --ds.",
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --dst."),
) -> None:
    """Find exact and near duplicate photos, group them and merge their ratings."""
    from prettymeter.console import summary
    from prettymeter.data.dedupe import dedupe as run
    from prettymeter.errors import PrettyMeterError

    if delete:
        if ds is None:
            raise PrettyMeterError(
                "--delete needs --ds, the dataset folder to take duplicates from"
            )
        quarantine = quarantine or ds.parent / f"{ds.name}.quarantine"

    summary(
        "dedupe",
        run(
            src,
            dst,
            threshold=threshold,
            merge=merge,
            ds=ds,
            quarantine=quarantine,
            overwrite=overwrite,
        ),
    )


@app.command()
def normalize(
    src: Path = typer.Option(..., "--src", help="Table written by dedupe or detect."),
    dst: Path = typer.Option(..., "--dst", help="Output table for one gender (.parquet)."),
    gender: str = typer.Option(..., "--gender", help="m or w."),
    min_voices: int = typer.Option(40, "--min-voices", help="Drop rows rated by fewer people."),
    kernel: str = typer.Option("gaussian", "--kernel", help="LDS kernel: gaussian|triang|laplace."),
    ks: int = typer.Option(5, "--ks", help="LDS kernel size (odd)."),
    sigma: float = typer.Option(2.0, "--sigma", help="LDS kernel sigma."),
    sqrt_counts: bool = typer.Option(
        True,
        "--sqrt/--no-sqrt",
        help="Square-root the label counts (as the original did).",
    ),
    lds: bool = typer.Option(True, "--lds/--no-lds", help="LDS weights (off: all 1)."),
    voices_term: bool = typer.Option(
        True, "--voices-term/--no-voices-term", help="Add the original's sqrt(voices) term."
    ),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="Save PNG histograms."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --dst."),
) -> None:
    """Keep one gender's usable rows; add normalized labels (0-1) and LDS sample weights."""
    from prettymeter.console import summary
    from prettymeter.data.normalize import normalize as run

    summary(
        "normalize",
        run(
            src,
            dst,
            gender,
            min_voices=min_voices,
            kernel=kernel,
            ks=ks,
            sigma=sigma,
            sqrt_counts=sqrt_counts,
            voices_term=voices_term,
            lds=lds,
            plots=plots,
            overwrite=overwrite,
        ),
    )
