"""The normalize stage: one gender's rows → labels in [0.001, 0.999] and LDS sample weights.

The math (docs/data.md, normalize) is the original's normalize_data notebook made deterministic: a
piecewise linear map around the median, then label distribution smoothing (Yang et al., ICML
2021) and the original's reliability term from the number of voices.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from prettymeter.data.dedupe import MergedRows, merge_copies
from prettymeter.errors import PrettyMeterError
from prettymeter.io import atomic_path, ensure_new_output
from prettymeter.labels import GENDERS, UNKNOWN_COUNTRY
from prettymeter.tables import (
    DEDUPE_FIELDS,
    NORMALIZE_FIELDS,
    BatchWriter,
    carried_schema,
    iter_kept_rows,
    open_table,
    put_column,
    with_fields,
)

LABEL_MIN = 0.001
LABEL_MAX = 0.999
BINS = 100
KERNELS = ("gaussian", "triang", "laplace")
PLOTS = ("rates", "labels", "weights")
PLOT_MARK = "pretty-meter normalize"  # in each plot PNG: the rerun knows its own plots
# What pass 1 reads: everything needed to filter, merge and compute labels, no image bytes.
SMALL_COLUMNS = (
    "gender",
    "rate",
    "voices",
    "country",
    "sha256",
    "filter_reason",
    "path",
    "paths",
    "merged",
)
MERGE_FIELDS = [f for f in DEDUPE_FIELDS if f.name in ("paths", "merged")]


def normalization_params(
    rates: np.ndarray, countries: list[str] | None
) -> tuple[float, float, float, str]:
    """(lo, med, hi, median_over): the median over known-country rows, else over all rows."""
    rates = np.asarray(rates, dtype=np.float64)
    known = (
        np.array([c != UNKNOWN_COUNTRY for c in countries], dtype=bool)
        if countries is not None
        else np.zeros(len(rates), dtype=bool)
    )
    if known.any():
        med, over = float(np.median(rates[known])), "known_country"
    else:
        med, over = float(np.median(rates)), "all"
    return float(rates.min()), med, float(rates.max()), over


def normalize_rates(rates: np.ndarray, lo: float, med: float, hi: float) -> np.ndarray:
    """n(r) (docs/data.md, normalize): the median maps to 0.5, lo to 0, hi to 1, then clip to
    [0.001, 0.999]."""
    rates = np.asarray(rates, dtype=np.float64)
    below = 0.5 + 0.5 * (rates - med) / (med - lo) if med > lo else np.full_like(rates, 0.5)
    above = 0.5 + 0.5 * (rates - med) / (hi - med) if hi > med else np.full_like(rates, 0.5)
    with np.errstate(invalid="ignore", divide="ignore"):
        labels = np.where(rates <= med, below, above)
    return np.clip(labels, LABEL_MIN, LABEL_MAX)


def kernel_window(kernel: str = "gaussian", ks: int = 5, sigma: float = 2.0) -> np.ndarray:
    """The LDS kernel, peak 1, as in Yang et al.'s reference code (scipy-free, same numbers).

    gaussian: scipy.ndimage.gaussian_filter1d of a centred delta (reflect border, truncate 4σ);
    triang: scipy.signal.windows.triang(ks); laplace: exp(-|x|/σ)/(2σ). Each divided by its max.
    """
    if kernel not in KERNELS:
        raise PrettyMeterError(f"--kernel {kernel!r} is unknown; use one of {', '.join(KERNELS)}")
    if ks < 1 or ks % 2 == 0:
        raise PrettyMeterError(f"--ks {ks} must be an odd positive number")
    if sigma <= 0:
        raise PrettyMeterError(f"--sigma {sigma} must be positive")
    half = (ks - 1) // 2
    x = np.arange(-half, half + 1, dtype=np.float64)
    if kernel == "gaussian":
        radius = int(4.0 * sigma + 0.5)
        taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
        taps /= taps.sum()
        delta = np.zeros(ks)
        delta[half] = 1.0
        padded = np.pad(delta, radius, mode="symmetric")  # scipy's "reflect"
        window = np.correlate(padded, taps, mode="valid")
    elif kernel == "triang":
        n = np.arange(1, (ks + 1) // 2 + 1)
        side = 2.0 * n / (ks + 1)
        window = np.concatenate([side, side[-2::-1]])
    else:
        window = np.exp(-np.abs(x) / sigma) / (2.0 * sigma)
    return window / window.max()


def lds_weights(
    labels: np.ndarray,
    *,
    kernel: str = "gaussian",
    ks: int = 5,
    sigma: float = 2.0,
    sqrt_counts: bool = True,
    bins: int = BINS,
) -> np.ndarray:
    """1 / smoothed label density of each sample's bin, scaled to mean 1."""
    labels = np.asarray(labels, dtype=np.float64)
    index = np.clip((labels * bins).astype(np.int64), 0, bins - 1)
    counts = np.bincount(index, minlength=bins).astype(np.float64)
    if sqrt_counts:
        counts = np.sqrt(counts)
    # convolve1d(mode="constant") with a symmetric window = a zero-padded "same" convolution
    smoothed = np.convolve(counts, kernel_window(kernel, ks, sigma), mode="same")
    weights = 1.0 / smoothed[index]
    return weights * (len(weights) / weights.sum())


def add_voices_term(weights: np.ndarray, voices: np.ndarray) -> np.ndarray:
    """The original's reliability term: w + (sqrt(voices) - 1) · median(w) / median(sqrt(voices)),
    then scaled back to mean 1."""
    root = np.sqrt(np.asarray(voices, dtype=np.float64))
    k = float(np.median(weights)) / float(np.median(root))
    combined = weights + (root - 1.0) * k
    return combined * (len(combined) / combined.sum())


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:  # the core install (the service's) has no plotting
        raise PrettyMeterError(
            "normalize draws its plots with matplotlib, which is not installed: "
            "pip install 'pretty-meter[data]' (or --no-plots)"
        ) from exc

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plot(values: np.ndarray, title: str, xlabel: str, path: Path, bins: Any = 50) -> None:
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(6, 3.5), dpi=100)
    axes.hist(values, bins=bins, color="#4c72b0", edgecolor="white")
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.set_ylabel("photos")
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", metadata={"Software": PLOT_MARK, "Source": path.name})
    plt.close(figure)


def _left_by_a_killed_run(plot: Path, dst: Path) -> bool:
    """A plot of ours with no table beside it: a run killed between its plots and its table
    (plots are drawn first, the table appears last), which the rerun may redraw."""
    if dst.exists():
        return False
    try:
        from PIL import Image

        with Image.open(plot) as image:
            info = image.info
    except Exception:  # not a PNG we can read: not ours
        return False
    return info.get("Software") == PLOT_MARK and info.get("Source") == plot.name


def plot_paths(dst: Path) -> dict[str, Path]:
    """`m.parquet` → m.rates.png, m.labels.png, m.weights.png beside it."""
    return {name: dst.with_suffix(f".{name}.png") for name in PLOTS}


def normalize(
    src: Path,
    dst: Path,
    gender: str,
    *,
    min_voices: int = 40,
    kernel: str = "gaussian",
    ks: int = 5,
    sigma: float = 2.0,
    sqrt_counts: bool = True,
    voices_term: bool = True,
    lds: bool = True,
    plots: bool = True,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Keep one gender's usable rows, add `label` and `weight`, store lo/med/hi; the summary."""
    started = time.perf_counter()
    src, dst = Path(src), Path(dst)
    if gender not in GENDERS:
        raise PrettyMeterError(f"--gender {gender!r} is not m or w")
    if min_voices < 1:
        raise PrettyMeterError(f"--min-voices {min_voices} must be at least 1")
    kernel_window(kernel, ks, sigma)  # validate the LDS settings before any work
    if plots:
        _pyplot()  # a missing plotting library stops the stage before any output is written
    parquet = open_table(src, ["gender", "rate", "voices"])
    if src.resolve() == dst.resolve():
        raise PrettyMeterError(f"--dst {dst} is the --src table; write to a new file")
    ensure_new_output(dst, overwrite)
    if plots:
        for path in plot_paths(dst).values():
            ensure_new_output(path, overwrite or _left_by_a_killed_run(path, dst))

    # Pass 1: only the small columns, to decide which rows stay and compute their labels.
    names = parquet.schema_arrow.names
    small = parquet.read(columns=[c for c in SMALL_COLUMNS if c in names])
    rows_in = small.num_rows
    dropped: dict[str, int] = {}
    mask = np.ones(rows_in, dtype=bool)

    def keep(condition: pa.ChunkedArray, reason: str) -> None:
        nonlocal mask
        wanted = np.asarray(pc.fill_null(condition, False).to_numpy(zero_copy_only=False), bool)
        dropped[reason] = int((mask & ~wanted).sum())
        mask &= wanted

    keep(pc.equal(small.column("gender"), gender), "other_gender")
    if "filter_reason" in names:
        keep(pc.is_null(small.column("filter_reason")), "filtered_by_detect")
    keep(pc.greater_equal(small.column("voices"), min_voices), f"voices_below_{min_voices}")
    merged = _merge_identical(small, np.nonzero(mask)[0])
    dropped["identical_merged"] = int(mask.sum()) - len(merged.rows.heads)
    if len(merged.rows.heads) == 0:
        raise PrettyMeterError(
            f"no rows left for gender {gender} in {src} after filtering ({dropped}); "
            "lower --min-voices or check the dataset"
        )

    rates, voices = merged.rows.rates, merged.rows.voices
    is_head = np.zeros(rows_in, dtype=bool)
    is_head[merged.rows.heads] = True
    countries = (
        [c for i, c in enumerate(small.column("country").to_pylist()) if is_head[i]]
        if "country" in names
        else None
    )
    lo, med, hi, median_over = normalization_params(rates, countries)
    labels = normalize_rates(rates, lo, med, hi)
    weights = (
        lds_weights(labels, kernel=kernel, ks=ks, sigma=sigma, sqrt_counts=sqrt_counts)
        if lds
        else np.ones(len(labels))
    )
    if voices_term:
        weights = add_voices_term(weights, voices)

    metadata = {
        "stage": "normalize",
        "gender": gender,
        "lo": lo,
        "med": med,
        "hi": hi,
        "median_over": median_over,
        "lds": {
            "enabled": lds,
            "kernel": kernel,
            "ks": ks,
            "sigma": sigma,
            "sqrt": sqrt_counts,
            "bins": BINS,
        },
        "voices_term": voices_term,
        "min_voices": min_voices,
        "rows_in": rows_in,
        "rows_out": len(merged.rows.heads),
        "dropped": dropped,
    }
    # The plots first, the table last: a finished table means a finished stage.
    if plots:
        paths = plot_paths(dst)
        _plot(rates, f"raw rates, gender {gender} (n={len(rates)})", "rate", paths["rates"])
        _plot(
            labels,
            f"labels (median rate {med:.4g} → 0.5), LDS bins",
            "label",
            paths["labels"],
            bins=np.linspace(0.0, 1.0, BINS + 1),
        )
        _plot(weights, "sample weights (mean 1)", "weight", paths["weights"])
    # Pass 2: stream every column of the kept rows (images and crops) into the output.
    schema = carried_schema(parquet.schema_arrow)
    if merged.any:
        schema = with_fields(schema, MERGE_FIELDS)
    schema = with_fields(schema, NORMALIZE_FIELDS)
    with atomic_path(dst) as tmp:
        writer = BatchWriter(tmp, schema)
        try:
            for part, chosen in iter_kept_rows(parquet, is_head, "normalize"):
                at = np.searchsorted(merged.rows.heads, chosen)
                part = put_column(part, "rate", pa.array(rates[at], pa.float64()))
                part = put_column(part, "voices", pa.array(voices[at], pa.int64()))
                if merged.any:
                    paths = pa.array([merged.rows.paths[i] for i in at], pa.list_(pa.string()))
                    part = put_column(part, MERGE_FIELDS[0], paths)
                    part = put_column(
                        part, MERGE_FIELDS[1], pa.array(merged.rows.merged[at], pa.int64())
                    )
                part = put_column(part, NORMALIZE_FIELDS[0], pa.array(labels[at], pa.float64()))
                part = put_column(part, NORMALIZE_FIELDS[1], pa.array(weights[at], pa.float64()))
                writer.write_table(part)
        finally:
            writer.close(metadata=metadata)
    return {
        "dst": str(dst),
        "gender": gender,
        "rows_in": rows_in,
        "rows_out": len(merged.rows.heads),
        **{f"dropped_{k}": v for k, v in dropped.items()},
        "lo / med / hi": f"{lo:g} / {med:g} / {hi:g}",
        "median_over": median_over,
        "weights": f"min {weights.min():.3f}, max {weights.max():.3f}, mean {weights.mean():.3f}",
        "plots": ", ".join(str(p) for p in plot_paths(dst).values()) if plots else "off",
        "seconds": round(time.perf_counter() - started, 2),
    }


@dataclass
class _Merged:
    """The kept rows after merging identical images, and whether any were merged."""

    rows: MergedRows
    any: bool


def _merge_identical(small: pa.Table, kept: np.ndarray) -> _Merged:
    """Kept rows with the same sha256 (left when dedupe was skipped) become one, the first:
    rate = voices-weighted mean, voices = sum, paths joined, merged = rows summed."""
    names = small.column_names
    rates = np.asarray(small.column("rate").to_numpy(), dtype=np.float64)
    voices = np.asarray(small.column("voices").to_numpy(), dtype=np.int64)
    if "paths" in names:
        paths = [list(p or []) for p in small.column("paths").to_pylist()]
    elif "path" in names:
        paths = [[p] for p in small.column("path").to_pylist()]
    else:
        paths = [[] for _ in range(small.num_rows)]
    merged = (
        np.asarray(small.column("merged").to_numpy(), dtype=np.int64)
        if "merged" in names
        else np.ones(small.num_rows, dtype=np.int64)
    )
    digests = small.column("sha256").to_pylist() if "sha256" in names else None
    sets: dict[object, list[int]] = {}
    for i in kept.tolist():
        sets.setdefault(digests[i] if digests is not None else i, []).append(i)
    rows = merge_copies(sets.values(), rates, voices, paths, merged, keep=lambda rows: rows[0])
    return _Merged(rows, len(rows.heads) < len(kept))
