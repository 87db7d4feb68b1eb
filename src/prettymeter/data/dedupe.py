"""The dedupe stage: exact (sha256) and near (pHash) duplicate clusters merged into one row."""

from __future__ import annotations

import hashlib
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from prettymeter.errors import PrettyMeterError
from prettymeter.io import atomic_path, ensure_new_output
from prettymeter.photo import perceptual_hash_bytes
from prettymeter.tables import (
    DEDUPE_FIELDS,
    BatchWriter,
    carried_schema,
    iter_batches,
    iter_kept_rows,
    open_table,
    put_column,
    track_batches,
    with_fields,
)

MERGE_MODES = ("all", "exact")
DEFAULT_THRESHOLD = 6
PAIR_BLOCK = 4_000_000  # hash pairs compared per numpy block: bounds memory at ~32 MB


class UnionFind:
    """Disjoint sets over 0..n-1 with path halving and union by size."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))
        self.size = [1] * n

    def find(self, i: int) -> int:
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        a, b = self.find(a), self.find(b)
        if a == b:
            return
        if self.size[a] < self.size[b]:
            a, b = b, a
        self.parent[b] = a
        self.size[a] += self.size[b]


def near_pairs(hashes: np.ndarray, threshold: int) -> np.ndarray:
    """Pairs (i < j) of 64-bit hashes within `threshold` Hamming distance, as an (m, 2) array."""
    n = len(hashes)
    found = []
    block = max(1, PAIR_BLOCK // max(n, 1))
    for start in range(0, n, block):
        rows = hashes[start : start + block]
        distance = np.bitwise_count(rows[:, None] ^ hashes[None, :])
        i, j = np.nonzero(distance <= threshold)
        i = i + start
        keep = i < j
        found.append(np.stack([i[keep], j[keep]], axis=1))
    return np.concatenate(found) if found else np.zeros((0, 2), dtype=np.int64)


def cluster(sha256: list[str], phash: list[str], threshold: int) -> tuple[UnionFind, int]:
    """Union exact (same sha256) and near (pHash distance ≤ threshold) duplicates.

    Returns the union-find and the number of near pairs found."""
    n = len(sha256)
    sets = UnionFind(n)
    first_of: dict[str, int] = {}
    for i, digest in enumerate(sha256):
        sets.union(first_of.setdefault(digest, i), i)
    pair_count = 0
    if threshold >= 0 and n > 1:
        # Equal hashes are joined directly and pairs are searched among distinct hashes only:
        # 10,000 copies of one photo were 50 M pairs (GBs of memory, minutes) the other way.
        first_of_hash: dict[str, int] = {}
        for i, value in enumerate(phash):
            sets.union(first_of_hash.setdefault(value, i), i)
        firsts = list(first_of_hash.values())
        counts = Counter(phash)
        copies = np.array([counts[phash[i]] for i in firsts], dtype=np.int64)
        hashes = np.array([int(phash[i], 16) for i in firsts], dtype=np.uint64)
        pairs = near_pairs(hashes, threshold)
        for a, b in pairs.tolist():
            sets.union(firsts[a], firsts[b])
        # the same count as pairs over every row: within equal hashes, then across
        pair_count = int((copies * (copies - 1) // 2).sum())
        pair_count += int((copies[pairs[:, 0]] * copies[pairs[:, 1]]).sum()) if len(pairs) else 0
    return sets, pair_count


@dataclass(frozen=True)
class MergedRows:
    """Rows after merging each set of copies into one kept row (`heads`: row numbers in the
    source, ascending; the other arrays are in the same order)."""

    heads: np.ndarray
    rates: np.ndarray
    voices: np.ndarray
    paths: list[list[str]]
    merged: np.ndarray


def merge_copies(
    sets: Iterable[list[int]],
    rates: np.ndarray,
    voices: np.ndarray,
    paths: list[list[str]],
    merged: np.ndarray,
    keep: Callable[[list[int]], int],
) -> MergedRows:
    """Each set of rows (copies of one photo, rows ascending) becomes the row `keep` picks:
    rate = voices-weighted mean, voices = sum, paths = every source path in row order,
    merged = how many source rows. The one rule for dedupe and normalize."""
    kept: dict[int, list[int]] = {keep(rows): rows for rows in sets}
    heads = np.array(sorted(kept), dtype=np.int64)
    out_rates, out_voices = rates[heads].astype(np.float64), voices[heads].copy()
    out_paths = [paths[i] for i in heads]
    out_merged = merged[heads].copy()
    for at, head in enumerate(heads.tolist()):
        rows = kept[head]
        if len(rows) > 1:
            weights = voices[rows].astype(np.float64)
            out_rates[at] = float(np.dot(rates[rows], weights) / weights.sum())
            out_voices[at] = int(voices[rows].sum())
            out_paths[at] = [p for i in rows for p in paths[i]]
            out_merged[at] = int(merged[rows].sum())
    return MergedRows(heads, out_rates, out_voices, out_paths, out_merged)


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def dedupe(
    src: Path,
    dst: Path,
    *,
    threshold: int = DEFAULT_THRESHOLD,
    merge: str = "all",
    ds: Path | None = None,
    quarantine: Path | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Find duplicate clusters in `src`, give each a `group`, merge them, write `dst`.

    Merged rows: rate = voices-weighted mean, voices = sum, `paths` = every source path,
    `merged` = how many source rows. `merge="all"` merges whole clusters (exact and near);
    `merge="exact"` merges only byte-identical rows and keeps near copies as their own rows in
    the same group. With `ds` and `quarantine` the duplicate files are moved (never removed)
    from `ds` to `quarantine`. Returns the summary.
    """
    started = time.perf_counter()
    src, dst = Path(src), Path(dst)
    if merge not in MERGE_MODES:
        raise PrettyMeterError(f"--merge {merge!r} is unknown; use one of {', '.join(MERGE_MODES)}")
    if threshold < 0 or threshold > 64:
        raise PrettyMeterError(f"--threshold {threshold} is outside 0..64 (pHash bits differing)")
    if (quarantine is None) != (ds is None):
        raise PrettyMeterError(
            "moving duplicates needs both --ds (the dataset folder) and --quarantine (where to "
            "move them); give both, or neither to leave the files alone"
        )
    if ds is not None and not Path(ds).is_dir():
        raise PrettyMeterError(f"dataset folder {ds} does not exist; give the folder ingested")
    parquet = open_table(src, ["path", "rate", "voices", "sha256", "image"])
    if src.resolve() == dst.resolve():
        raise PrettyMeterError(f"--dst {dst} is the --src table; write to a new file")
    ensure_new_output(dst, overwrite)

    names = parquet.schema_arrow.names
    small = ["path", "rate", "voices", "sha256", "width", "height"]
    small += [c for c in ("phash", "paths", "merged") if c in names]
    table = parquet.read(columns=[c for c in small if c in names])
    n = table.num_rows
    if n == 0:
        raise PrettyMeterError(f"{src} has no rows; ingest a dataset first")
    paths: list[str] = table.column("path").to_pylist()
    sha: list[str] = table.column("sha256").to_pylist()
    rates = np.asarray(table.column("rate").to_numpy(), dtype=np.float64)
    voices = np.asarray(table.column("voices").to_numpy(), dtype=np.int64)
    pixels = (
        np.asarray(table.column("width").to_numpy(), dtype=np.int64)
        * np.asarray(table.column("height").to_numpy(), dtype=np.int64)
        if "width" in names and "height" in names
        else np.zeros(n, dtype=np.int64)
    )
    source_paths: list[list[str]] = (
        [list(p) if p else [paths[i]] for i, p in enumerate(table.column("paths").to_pylist())]
        if "paths" in names
        else [[p] for p in paths]
    )
    source_merged = (
        np.asarray(table.column("merged").to_numpy(), dtype=np.int64)
        if "merged" in names
        else np.ones(n, dtype=np.int64)
    )
    if "phash" in names and table.column("phash").null_count == 0:
        phash: list[str] = table.column("phash").to_pylist()
    else:  # a table from elsewhere: hash the stored bytes
        phash = []
        batches = iter_batches(parquet, ["image"])
        for batch in track_batches(batches, "hashing", n):
            phash.extend(perceptual_hash_bytes(data) for data in batch.column(0).to_pylist())

    sets, pair_count = cluster(sha, phash, threshold)
    roots = [sets.find(i) for i in range(n)]
    group_of_root: dict[int, int] = {}
    group = np.array([group_of_root.setdefault(r, len(group_of_root)) for r in roots], np.int64)
    # The rows merged into one: a whole cluster, or within it the byte-identical rows.
    merge_key: list[Any] = roots if merge == "all" else [(roots[i], sha[i]) for i in range(n)]
    members: dict[Any, list[int]] = {}
    for i, key in enumerate(merge_key):
        members.setdefault(key, []).append(i)

    # Keep the largest image of the set (the best copy); ties go to the first row.
    kept = merge_copies(
        members.values(),
        rates,
        voices,
        source_paths,
        source_merged,
        keep=lambda rows: max(rows, key=lambda i: (pixels[i], -i)),
    )
    keep = np.zeros(n, dtype=bool)
    keep[kept.heads] = True
    at_head = np.full(n, -1, dtype=np.int64)
    at_head[kept.heads] = np.arange(len(kept.heads))
    moved_rows = [i for i in range(n) if not keep[i]]

    schema = with_fields(carried_schema(parquet.schema_arrow), DEDUPE_FIELDS)
    with atomic_path(dst) as tmp:
        writer = BatchWriter(tmp, schema)
        try:
            for part, chosen in iter_kept_rows(parquet, keep, "dedupe"):
                at = at_head[chosen]
                updates = {
                    "rate": pa.array(kept.rates[at], pa.float64()),
                    "voices": pa.array(kept.voices[at], pa.int64()),
                    "group": pa.array(group[chosen], pa.int64()),
                    "paths": pa.array([kept.paths[i] for i in at], pa.list_(pa.string())),
                    "merged": pa.array(kept.merged[at], pa.int64()),
                }
                for name, column in updates.items():
                    part = put_column(part, name, column)
                writer.write_table(part)
        finally:
            writer.close(metadata={"stage": "dedupe", "threshold": threshold, "merge": merge})

    moved = []
    if quarantine is not None and ds is not None:
        moved = _quarantine(Path(ds), Path(quarantine), [(paths[i], sha[i]) for i in moved_rows])

    sizes = np.bincount(group)
    seconds = time.perf_counter() - started
    return {
        "dst": str(dst),
        "rows_in": n,
        "rows_out": int(keep.sum()),
        "clusters": int((sizes > 1).sum()),
        "rows_in_clusters": int(sizes[sizes > 1].sum()),
        "exact_copies": n - len(set(sha)),
        "near_pairs": pair_count,
        "rows_merged": n - int(keep.sum()),
        "threshold": threshold,
        "merge": merge,
        "moved_to_quarantine": len(moved),
        "seconds": round(seconds, 2),
    }


def _quarantine(ds: Path, quarantine: Path, files: list[tuple[str, str]]) -> list[str]:
    """Move duplicate files from ds to quarantine (same relative path); check all before any."""
    plan = []
    for rel, digest in files:
        source, target = ds / rel, quarantine / rel
        if not source.is_file():
            raise PrettyMeterError(
                f"{source} is not there to move (nothing was moved); is --ds the folder that "
                "was ingested?"
            )
        if _sha256_file(source) != digest:
            raise PrettyMeterError(
                f"{source} differs from the ingested photo (nothing was moved); re-run ingest "
                "before moving duplicates"
            )
        if target.exists():
            raise PrettyMeterError(
                f"{target} already exists (nothing was moved); choose an empty --quarantine"
            )
        plan.append((source, target))
    for source, target in plan:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(source), str(target))
        print(f"moved: {source} → {target}", file=sys.stderr)
    return [str(target) for _, target in plan]
