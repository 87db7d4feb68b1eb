"""dedupe: exact and near duplicate clusters, the merge rule, groups and the quarantine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from prettymeter.data.dedupe import UnionFind, dedupe, near_pairs
from prettymeter.data.ingest import ingest
from prettymeter.errors import PrettyMeterError
from tests.support.pipeline import photo, resized_copy, tree_hashes, write


def _dataset(root: Path) -> Path:
    ds = root / "ds"
    first = photo(1)
    write(ds, "a_w_ru_8.0_100.jpg", first)
    write(ds, "b_w_ru_6.0_300.jpg", first)  # the same bytes, rated again
    write(ds, "c_w_unknown_7.0_50.jpg", resized_copy(first))  # re-encoded, slightly smaller
    write(ds, "d_m_ru_3.0_40.jpg", photo(2))
    write(ds, "e_m_ru_4.0_60.png", photo(3, fmt="PNG"))
    write(ds, "f_m_de_5.0_60.jpg", photo(3))  # the same picture as e, as a JPEG
    write(ds, "g_w_de_9.0_45.jpg", photo(4))
    return ds


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    ingest(_dataset(tmp_path), tmp_path / "raw.parquet")
    return tmp_path / "raw.parquet"


def _rows(path: Path) -> dict[str, dict]:
    return {row["uuid"]: row for row in pq.read_table(path).to_pylist()}


def test_exact_and_near_copies_are_merged_with_the_voices_weighted_rate(
    raw: Path, tmp_path: Path
) -> None:
    summary = dedupe(raw, tmp_path / "dedup.parquet")
    rows = _rows(tmp_path / "dedup.parquet")
    assert sorted(rows) == ["a", "d", "e", "g"]  # a absorbs b and c; e (PNG, first) absorbs f
    a = rows["a"]
    assert a["voices"] == 100 + 300 + 50
    assert a["rate"] == pytest.approx((8.0 * 100 + 6.0 * 300 + 7.0 * 50) / 450)
    assert sorted(a["paths"]) == [
        "a_w_ru_8.0_100.jpg",
        "b_w_ru_6.0_300.jpg",
        "c_w_unknown_7.0_50.jpg",
    ]
    assert a["merged"] == 3
    assert rows["e"]["rate"] == pytest.approx(4.5) and rows["e"]["voices"] == 120
    assert (rows["d"]["merged"], rows["d"]["paths"], rows["d"]["rate"]) == (
        1,
        ["d_m_ru_3.0_40.jpg"],
        3.0,
    )
    assert (
        summary["rows_in"],
        summary["rows_out"],
        summary["clusters"],
        summary["rows_merged"],
    ) == (7, 4, 2, 3)
    assert summary["exact_copies"] == 1


def test_every_row_gets_a_group_and_near_copies_share_it_when_kept_apart(
    raw: Path, tmp_path: Path
) -> None:
    dedupe(raw, tmp_path / "dedup.parquet", merge="exact")
    rows = _rows(tmp_path / "dedup.parquet")
    assert sorted(rows) == ["a", "c", "d", "e", "f", "g"]  # only b (same bytes as a) merged
    assert rows["a"]["group"] == rows["c"]["group"]
    assert rows["e"]["group"] == rows["f"]["group"]
    groups = {rows[k]["group"] for k in ("a", "d", "e", "g")}
    assert len(groups) == 4
    assert rows["a"]["voices"] == 400 and rows["c"]["voices"] == 50


def test_a_threshold_of_zero_finds_only_identical_hashes(raw: Path, tmp_path: Path) -> None:
    summary = dedupe(raw, tmp_path / "dedup.parquet", threshold=0, merge="exact")
    assert summary["rows_out"] == 6


def test_the_users_files_are_unchanged_after_ingest_and_dedupe(tmp_path: Path) -> None:
    ds = _dataset(tmp_path)
    before = tree_hashes(ds)
    ingest(ds, tmp_path / "raw.parquet")
    dedupe(tmp_path / "raw.parquet", tmp_path / "dedup.parquet")
    assert tree_hashes(ds) == before


def test_quarantine_moves_duplicates_aside_and_says_so(
    raw: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ds = tmp_path / "ds"
    before = tree_hashes(ds)
    summary = dedupe(raw, tmp_path / "dedup.parquet", ds=ds, quarantine=tmp_path / "q")
    moved = {"b_w_ru_6.0_300.jpg", "c_w_unknown_7.0_50.jpg", "f_m_de_5.0_60.jpg"}
    assert summary["moved_to_quarantine"] == 3
    assert set(tree_hashes(tmp_path / "q")) == moved
    assert {k: before[k] for k in moved} == tree_hashes(tmp_path / "q")  # moved, not altered
    assert set(tree_hashes(ds)) == set(before) - moved
    err = capsys.readouterr().err
    assert all(f"moved: {ds / name}" in err for name in moved)


def test_quarantine_refuses_to_move_a_file_that_changed_and_moves_nothing(
    raw: Path, tmp_path: Path
) -> None:
    ds = tmp_path / "ds"
    (ds / "f_m_de_5.0_60.jpg").write_bytes(photo(99))
    before = tree_hashes(ds)
    with pytest.raises(PrettyMeterError, match="nothing was moved"):
        dedupe(raw, tmp_path / "dedup.parquet", ds=ds, quarantine=tmp_path / "q")
    assert tree_hashes(ds) == before


def test_quarantine_needs_both_the_dataset_and_the_target(raw: Path, tmp_path: Path) -> None:
    with pytest.raises(PrettyMeterError, match="--quarantine"):
        dedupe(raw, tmp_path / "dedup.parquet", quarantine=tmp_path / "q")


def test_a_table_without_stored_phashes_is_hashed_from_its_bytes(raw: Path, tmp_path: Path) -> None:
    table = pq.read_table(raw).drop_columns(["phash"])
    pq.write_table(table, tmp_path / "plain.parquet")
    summary = dedupe(tmp_path / "plain.parquet", tmp_path / "dedup.parquet")
    assert summary["rows_out"] == 4


def test_near_pairs_match_a_brute_force_hamming_count() -> None:
    rng = np.random.default_rng(0)
    hashes = rng.integers(0, 2**63, 300, dtype=np.uint64)
    hashes[10] = hashes[3] ^ np.uint64(0b10110)  # distance 3
    hashes[20] = hashes[3] ^ np.uint64(0b1111111)  # distance 7
    found = {tuple(p) for p in near_pairs(hashes, 6).tolist()}
    brute = {
        (i, j)
        for i in range(300)
        for j in range(i + 1, 300)
        if bin(int(hashes[i]) ^ int(hashes[j])).count("1") <= 6
    }
    assert found == brute and (3, 10) in found and (3, 20) not in found


def test_union_find_joins_chains_into_one_set() -> None:
    sets = UnionFind(5)
    sets.union(0, 1)
    sets.union(3, 4)
    sets.union(1, 4)
    assert len({sets.find(i) for i in (0, 1, 3, 4)}) == 1
    assert sets.find(2) == 2


def test_our_phash_has_the_same_bits_as_imagehash() -> None:
    import io

    import imagehash
    from PIL import Image

    from prettymeter.photo import perceptual_hash

    for seed in range(20):
        image = Image.open(io.BytesIO(photo(seed, size=40 + seed)))
        assert perceptual_hash(image) == str(imagehash.phash(image))


def test_the_delete_flag_moves_duplicates_to_a_quarantine_beside_the_dataset(
    raw: Path, tmp_path: Path
) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "prettymeter",
            "dedupe",
            "--src",
            str(raw),
            "--dst",
            str(tmp_path / "dedup.parquet"),
            "--ds",
            str(tmp_path / "ds"),
            "--delete",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(tree_hashes(tmp_path / "ds.quarantine")) == [
        "b_w_ru_6.0_300.jpg",
        "c_w_unknown_7.0_50.jpg",
        "f_m_de_5.0_60.jpg",
    ]
    assert "moved:" in done.stderr
