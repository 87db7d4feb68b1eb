"""The normalize stage: one gender's rows → labels in [0.001, 0.999] and LDS sample weights.

The math is DESIGN §2 (the seed's normalize_data notebook, made deterministic): a piecewise
linear map around the median, then label distribution smoothing (Yang et al., ICML 2021) and the
seed's reliability term from the number of voices.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from prettymeter.errors import PrettyMeterError
from prettymeter.io import atomic_path, ensure_new_output
from prettymeter.labels import GENDERS, UNKNOWN_COUNTRY
from prettymeter.tables import NORMALIZE_FIELDS, BatchWriter, open_table, with_fields

LABEL_MIN = 0.001
LABEL_MAX = 0.999
BINS = 100
KERNELS = ("gaussian", "triang", "laplace")
PLOTS = ("rates", "labels", "weights")


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
    """n(r) of DESIGN §2: the median maps to 0.5, lo to 0, hi to 1, then clip to [0.001, 0.999]."""
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
    """The seed's reliability term: w + (sqrt(voices) - 1) · median(w) / median(sqrt(voices)),
    then scaled back to mean 1."""
    root = np.sqrt(np.asarray(voices, dtype=np.float64))
    k = float(np.median(weights)) / float(np.median(root))
    combined = weights + (root - 1.0) * k
    return combined * (len(combined) / combined.sum())


def _plot(values: np.ndarray, title: str, xlabel: str, path: Path, bins: Any = 50) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 3.5), dpi=100)
    axes.hist(values, bins=bins, color="#4c72b0", edgecolor="white")
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.set_ylabel("photos")
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")
    plt.close(figure)


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
    parquet = open_table(src, ["gender", "rate", "voices"])
    if src.resolve() == dst.resolve():
        raise PrettyMeterError(f"--dst {dst} is the --src table; write to a new file")
    ensure_new_output(dst, overwrite)
    if plots:
        for path in plot_paths(dst).values():
            ensure_new_output(path, overwrite)

    table = parquet.read()
    rows_in = table.num_rows
    dropped: dict[str, int] = {}

    def keep(mask: pa.Array | pa.ChunkedArray, reason: str) -> None:
        nonlocal table
        mask = pc.fill_null(mask, False)
        dropped[reason] = table.num_rows - int(pc.sum(mask).as_py() or 0)
        table = table.filter(mask)

    keep(pc.equal(table.column("gender"), gender), "other_gender")
    if "filter_reason" in table.column_names:
        keep(pc.is_null(table.column("filter_reason")), "filtered_by_detect")
    keep(pc.greater_equal(table.column("voices"), min_voices), f"voices_below_{min_voices}")
    table, merged_identical = _merge_identical(table)
    dropped["identical_merged"] = merged_identical
    if table.num_rows == 0:
        raise PrettyMeterError(
            f"no rows left for gender {gender} in {src} after filtering ({dropped}); "
            "lower --min-voices or check the dataset"
        )

    rates = np.asarray(table.column("rate").to_numpy(), dtype=np.float64)
    voices = np.asarray(table.column("voices").to_numpy(), dtype=np.float64)
    countries = table.column("country").to_pylist() if "country" in table.column_names else None
    lo, med, hi, median_over = normalization_params(rates, countries)
    labels = normalize_rates(rates, lo, med, hi)
    weights = (
        lds_weights(labels, kernel=kernel, ks=ks, sigma=sigma, sqrt_counts=sqrt_counts)
        if lds
        else np.ones(len(labels))
    )
    if voices_term:
        weights = add_voices_term(weights, voices)

    for field, values in zip(NORMALIZE_FIELDS, (labels, weights), strict=True):
        column = pa.array(values, pa.float64())
        at = table.schema.get_field_index(field.name)
        table = (
            table.set_column(at, field, column) if at >= 0 else table.append_column(field, column)
        )
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
        "rows_out": table.num_rows,
        "dropped": dropped,
    }
    schema = with_fields(table.schema.remove_metadata(), NORMALIZE_FIELDS)
    with atomic_path(dst) as tmp:
        writer = BatchWriter(tmp, schema)
        try:
            for start in range(0, table.num_rows, writer.max_rows):
                writer.write_table(table.slice(start, writer.max_rows))
        finally:
            writer.close(metadata=metadata)
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
    return {
        "dst": str(dst),
        "gender": gender,
        "rows_in": rows_in,
        "rows_out": table.num_rows,
        **{f"dropped_{k}": v for k, v in dropped.items()},
        "lo / med / hi": f"{lo:g} / {med:g} / {hi:g}",
        "median_over": median_over,
        "weights": f"min {weights.min():.3f}, max {weights.max():.3f}, mean {weights.mean():.3f}",
        "plots": ", ".join(str(p) for p in plot_paths(dst).values()) if plots else "off",
        "seconds": round(time.perf_counter() - started, 2),
    }


def _merge_identical(table: pa.Table) -> tuple[pa.Table, int]:
    """Rows with the same sha256 (left when dedupe was skipped) become one: rate =
    voices-weighted mean, voices = sum, paths joined. Returns the table and rows merged away."""
    if "sha256" not in table.column_names or table.num_rows < 2:
        return table, 0
    digests = table.column("sha256").to_pylist()
    first: dict[str, int] = {}
    members: dict[int, list[int]] = {}
    for i, digest in enumerate(digests):
        members.setdefault(first.setdefault(digest, i), []).append(i)
    if len(members) == table.num_rows:
        return table, 0
    rates = table.column("rate").to_numpy().astype(np.float64)
    voices = table.column("voices").to_numpy().astype(np.int64)
    paths = (
        table.column("paths").to_pylist()
        if "paths" in table.column_names
        else [[p] for p in table.column("path").to_pylist()]
        if "path" in table.column_names
        else [[] for _ in digests]
    )
    merged = (
        table.column("merged").to_numpy().astype(np.int64)
        if "merged" in table.column_names
        else np.ones(len(digests), dtype=np.int64)
    )
    keep = sorted(members)
    new_rate, new_voices, new_paths, new_merged = [], [], [], []
    for head in keep:
        rows = members[head]
        new_rate.append(float(np.dot(rates[rows], voices[rows]) / voices[rows].sum()))
        new_voices.append(int(voices[rows].sum()))
        new_paths.append([p for i in rows for p in (paths[i] or [])])
        new_merged.append(int(merged[rows].sum()))
    out = table.take(pa.array(keep))
    updates = {
        "rate": pa.array(new_rate, pa.float64()),
        "voices": pa.array(new_voices, pa.int64()),
        "paths": pa.array(new_paths, pa.list_(pa.string())),
        "merged": pa.array(new_merged, pa.int64()),
    }
    for name, column in updates.items():
        at = out.schema.get_field_index(name)
        out = out.set_column(at, name, column) if at >= 0 else out.append_column(name, column)
    return out, table.num_rows - len(keep)
