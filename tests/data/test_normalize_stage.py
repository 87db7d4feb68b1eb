"""normalize: the median-based labels (docs/data.md), LDS weights, filters and metadata."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from prettymeter.data.normalize import (
    add_voices_term,
    kernel_window,
    lds_weights,
    normalize,
    normalize_rates,
    plot_paths,
)
from prettymeter.errors import PrettyMeterError
from prettymeter.tables import read_metadata


def _table(path: Path, rows: list[dict]) -> Path:
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def _row(
    uuid: str,
    rate: float,
    *,
    gender: str = "m",
    country: str = "ru",
    voices: int = 100,
    **extra: object,
) -> dict:
    return {
        "uuid": uuid,
        "gender": gender,
        "country": country,
        "rate": rate,
        "voices": voices,
        "sha256": uuid * 4,
        **extra,
    }


def test_labels_equal_a_hand_computed_case(tmp_path: Path) -> None:
    src = _table(
        tmp_path / "in.parquet",
        [
            _row("a", 2.0),
            _row("b", 4.0),
            _row("c", 5.0, country="unknown"),
            _row("d", 6.0),
            _row("e", 9.0),
            _row("f", 7.5, gender="w"),
            _row("g", 8.0, voices=39),
        ],
    )
    summary = normalize(src, tmp_path / "m.parquet", "m", voices_term=False, plots=False)
    rows = {r["uuid"]: r for r in pq.read_table(tmp_path / "m.parquet").to_pylist()}
    # med over known countries = median(2, 4, 6, 9) = 5; lo = 2; hi = 9
    assert sorted(rows) == ["a", "b", "c", "d", "e"]
    assert rows["a"]["label"] == 0.001  # 0.0, clipped
    assert rows["b"]["label"] == pytest.approx(0.5 + 0.5 * (4 - 5) / (5 - 2))
    assert rows["c"]["label"] == 0.5
    assert rows["d"]["label"] == pytest.approx(0.5 + 0.5 * (6 - 5) / (9 - 5))
    assert rows["e"]["label"] == 0.999  # 1.0, clipped
    meta = read_metadata(tmp_path / "m.parquet")
    assert (meta["lo"], meta["med"], meta["hi"], meta["median_over"]) == (
        2.0,
        5.0,
        9.0,
        "known_country",
    )
    assert meta["dropped"] == {"other_gender": 1, "voices_below_40": 1, "identical_merged": 0}
    assert (meta["rows_in"], meta["rows_out"], meta["min_voices"]) == (7, 5, 40)
    assert meta["lds"] == {
        "enabled": True,
        "kernel": "gaussian",
        "ks": 5,
        "sigma": 2.0,
        "sqrt": True,
        "bins": 100,
    }
    assert summary["rows_out"] == 5


def test_the_median_falls_back_to_all_rows_when_every_country_is_unknown() -> None:
    from prettymeter.data.normalize import normalization_params

    assert normalization_params(np.array([1.0, 2.0, 7.0]), ["unknown"] * 3) == (
        1.0,
        2.0,
        7.0,
        "all",
    )
    assert normalization_params(np.array([1.0, 2.0, 7.0]), ["unknown", "ru", "ru"])[1:] == (
        4.5,
        7.0,
        "known_country",
    )


def test_equal_rates_map_to_the_middle_without_dividing_by_zero() -> None:
    assert normalize_rates(np.array([5.0, 5.0]), 5.0, 5.0, 5.0).tolist() == [0.5, 0.5]


def test_rows_filtered_by_detect_are_dropped(tmp_path: Path) -> None:
    src = _table(
        tmp_path / "in.parquet",
        [
            _row("a", 2.0, filter_reason=None),
            _row("b", 4.0, filter_reason="no_face"),
            _row("c", 6.0, filter_reason="several_faces"),
            _row("d", 8.0, filter_reason=None),
        ],
    )
    normalize(src, tmp_path / "m.parquet", "m", plots=False)
    assert pq.read_table(tmp_path / "m.parquet").column("uuid").to_pylist() == ["a", "d"]
    assert read_metadata(tmp_path / "m.parquet")["dropped"]["filtered_by_detect"] == 2


def test_identical_images_left_in_the_table_are_merged(tmp_path: Path) -> None:
    src = _table(
        tmp_path / "in.parquet",
        [
            _row("a", 2.0, path="a.jpg", voices=100),
            _row("b", 6.0, path="b.jpg", voices=300),
            _row("c", 9.0, path="c.jpg"),
        ],
    )
    src = _table(
        src,
        [
            {**r, "sha256": "same" if r["uuid"] in "ab" else "other"}
            for r in pq.read_table(src).to_pylist()
        ],
    )
    normalize(src, tmp_path / "m.parquet", "m", plots=False)
    rows = pq.read_table(tmp_path / "m.parquet").to_pylist()
    assert len(rows) == 2
    assert rows[0]["rate"] == pytest.approx((2.0 * 100 + 6.0 * 300) / 400)
    assert rows[0]["voices"] == 400 and rows[0]["paths"] == ["a.jpg", "b.jpg"]


def test_lds_weights_average_one_and_rarer_labels_weigh_more() -> None:
    labels = np.array([0.505] * 10 + [0.905])
    weights = lds_weights(labels)
    assert weights.mean() == pytest.approx(1.0)
    # sqrt counts: the crowded bin has sqrt(10), the lone bin 1, and no neighbour within 2 bins
    assert weights[-1] / weights[0] == pytest.approx(np.sqrt(10))
    plain = lds_weights(labels, sqrt_counts=False)
    assert plain[-1] / plain[0] == pytest.approx(10)


def test_lds_smoothing_spreads_counts_to_neighbouring_bins() -> None:
    window = kernel_window("gaussian", 5, 2.0)
    labels = np.array([0.50, 0.51, 0.515])  # bins 50, 51, 51
    weights = lds_weights(labels, sqrt_counts=False)
    smoothed_50 = 1 * window[2] + 2 * window[3]
    smoothed_51 = 2 * window[2] + 1 * window[1]
    expected = np.array([1 / smoothed_50, 1 / smoothed_51, 1 / smoothed_51])
    assert weights == pytest.approx(expected * 3 / expected.sum())


def test_the_lds_kernels_equal_the_reference_scipy_windows() -> None:
    ndimage = pytest.importorskip("scipy.ndimage")
    windows = pytest.importorskip("scipy.signal.windows")
    for ks, sigma in ((5, 2.0), (7, 1.0), (3, 0.5)):
        delta = np.zeros(ks)
        delta[ks // 2] = 1.0
        reference = ndimage.gaussian_filter1d(delta, sigma=sigma)
        assert kernel_window("gaussian", ks, sigma) == pytest.approx(reference / reference.max())
    assert kernel_window("triang", 5) == pytest.approx(windows.triang(5) / windows.triang(5).max())
    x = np.arange(-2, 3)
    laplace = np.exp(-np.abs(x) / 2.0) / 4.0
    assert kernel_window("laplace", 5, 2.0) == pytest.approx(laplace / laplace.max())


def test_the_voices_term_favours_photos_rated_by_more_people_and_keeps_mean_one() -> None:
    weights = np.ones(4)
    voices = np.array([1, 4, 9, 16])
    combined = add_voices_term(weights, voices)
    k = 1.0 / np.median(np.sqrt(voices))  # median(w) / median(sqrt(voices))
    raw = 1.0 + (np.sqrt(voices) - 1.0) * k
    assert combined == pytest.approx(raw * 4 / raw.sum())
    assert combined.mean() == pytest.approx(1.0)
    assert list(combined) == sorted(combined)


def test_normalize_runs_on_a_deduped_table_without_detect_columns_and_saves_plots(
    tmp_path: Path,
) -> None:
    from prettymeter.data.dedupe import dedupe
    from prettymeter.data.ingest import ingest
    from prettymeter.data.synth import generate

    generate(tmp_path / "ds", 40, seed=3, size=48)
    ingest(tmp_path / "ds", tmp_path / "raw.parquet")
    dedupe(tmp_path / "raw.parquet", tmp_path / "dedup.parquet")
    summary = normalize(tmp_path / "dedup.parquet", tmp_path / "w.parquet", "w", min_voices=1)
    table = pq.read_table(tmp_path / "w.parquet")
    assert {"image", "group", "paths", "label", "weight"} <= set(table.column_names)
    assert set(table.column("gender").to_pylist()) == {"w"}
    labels = np.array(table.column("label").to_pylist())
    assert labels.min() >= 0.001 and labels.max() <= 0.999
    assert np.mean(table.column("weight").to_pylist()) == pytest.approx(1.0)
    for path in plot_paths(tmp_path / "w.parquet").values():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert summary["rows_out"] == table.num_rows > 5


def test_bad_settings_and_empty_results_are_clear_errors(tmp_path: Path) -> None:
    src = _table(tmp_path / "in.parquet", [_row("a", 2.0, voices=5)])
    with pytest.raises(PrettyMeterError, match="not m or w"):
        normalize(src, tmp_path / "o.parquet", "x")
    with pytest.raises(PrettyMeterError, match="--kernel"):
        normalize(src, tmp_path / "o.parquet", "m", kernel="box")
    with pytest.raises(PrettyMeterError, match="no rows left"):
        normalize(src, tmp_path / "o.parquet", "m", plots=False)
    with pytest.raises(PrettyMeterError, match="has no column"):
        normalize(_table(tmp_path / "bad.parquet", [{"x": 1}]), tmp_path / "o.parquet", "m")
    assert not (tmp_path / "o.parquet").exists()


def test_normalize_streams_every_column_of_the_kept_rows_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prettymeter import tables

    monkeypatch.setattr(tables, "BATCH_ROWS", 3)
    rows = [
        _row(f"r{i}", float(i % 10), gender="mw"[i % 2], image=bytes([i]) * 50, crop=bytes([i]))
        for i in range(20)
    ]
    src = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pylist(rows), src, row_group_size=4)
    normalize(src, tmp_path / "m.parquet", "m", plots=False)
    out = pq.ParquetFile(tmp_path / "m.parquet")
    assert out.metadata.num_row_groups > 1
    table = out.read()
    assert table.column("uuid").to_pylist() == [f"r{i}" for i in range(0, 20, 2)]
    assert table.column("image").to_pylist() == [bytes([i]) * 50 for i in range(0, 20, 2)]
    assert table.column("crop").to_pylist() == [bytes([i]) for i in range(0, 20, 2)]


def test_upstream_stage_metadata_is_carried_and_ours_replaced(tmp_path: Path) -> None:
    table = pa.Table.from_pylist([_row("a", 2.0), _row("b", 4.0)])
    upstream = {b"prettymeter.detect": b'{"detector": "none"}', b"prettymeter": b'{"stage": "x"}'}
    pq.write_table(table.replace_schema_metadata(upstream), tmp_path / "in.parquet")
    normalize(tmp_path / "in.parquet", tmp_path / "m.parquet", "m", plots=False)
    schema = pq.read_schema(tmp_path / "m.parquet")
    assert schema.metadata[b"prettymeter.detect"] == b'{"detector": "none"}'
    assert read_metadata(tmp_path / "m.parquet")["stage"] == "normalize"


def test_a_run_killed_between_its_plots_and_its_table_reruns_but_a_foreign_png_is_kept(
    tmp_path: Path,
) -> None:
    """Plots are drawn first and the table appears last; a rerun may redraw its own plots of a
    run that never finished, never a file of the same name that it did not draw."""
    rows = [_row(f"u{i}", 2.0 + i * 0.3) for i in range(20)]
    src = _table(tmp_path / "src.parquet", rows)
    dst = tmp_path / "m.parquet"
    normalize(src, dst, "m")
    first = {name: path.read_bytes() for name, path in plot_paths(dst).items()}
    dst.unlink()  # as if killed after the plots, before the table's rename
    normalize(src, dst, "m")
    assert dst.is_file()
    assert {name: path.read_bytes() for name, path in plot_paths(dst).items()} == first
    dst.unlink()
    foreign = plot_paths(dst)["rates"]
    foreign.write_bytes(b"a user's own picture")
    with pytest.raises(PrettyMeterError, match="already exists"):
        normalize(src, dst, "m")
    assert foreign.read_bytes() == b"a user's own picture"
