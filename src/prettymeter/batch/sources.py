"""The photos `rate` scores: a folder, a list file or a stage table, in order, and the shards.

- Order: a folder's photos sorted by relative path, a list file's in its order, a table's in row
  order; `position` is a photo's place in the whole collection.
- Shards: `--shard I/N` rates the photos whose path hashes (sha256) to I modulo N, in the same
  order. Every shard sees the whole collection, so the N outputs, concatenated and sorted by
  `position`, are the single-machine table; a photo's shard depends on its path alone.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from prettymeter import imaging
from prettymeter.errors import PrettyMeterError

TABLE_SUFFIXES = (".parquet", ".pq")

Photo = Path | bytes | None  # what `Rater.prepare` is given: a file, the bytes, or a missing row


# -- shards ---------------------------------------------------------------------------------------


def shard_of(path: str, count: int) -> int:
    """The shard (0 … count-1) a photo's path belongs to: stable across machines and runs."""
    digest = hashlib.sha256(path.encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big") % count


@dataclass(frozen=True)
class Shard:
    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str | None) -> Shard:
        """`I/N` with 0 ≤ I < N, or one line saying what is wrong."""
        if text is None or text == "":
            return cls()
        first, slash, second = text.partition("/")
        if not slash or not first.strip().isdigit() or not second.strip().isdigit():
            raise PrettyMeterError(
                f"--shard {text!r} is not I/N; give this machine's number and the count of "
                "machines, e.g. --shard 0/4 … --shard 3/4"
            )
        index, count = int(first), int(second)
        if count < 1 or index >= count:
            raise PrettyMeterError(
                f"--shard {text}: I must be 0 … N-1 and N at least 1 (e.g. --shard 0/2 and 1/2)"
            )
        return cls(index, count)

    def owns(self, path: str) -> bool:
        return self.count == 1 or shard_of(path, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


# -- collections ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    position: int  # place in the whole collection
    path: str  # as written to the output: relative to a folder, as listed, a table's `path`


class Collection:
    """The photos of a source, in order, and how to read them."""

    kind = ""

    def __init__(self, source: Path, items: list[Item], identity: dict[str, Any]) -> None:
        self.source = source
        self.items = items
        digest = hashlib.sha256()
        for item in items:
            digest.update(item.path.encode("utf-8", "surrogateescape") + b"\n")
        self.identity = {
            "kind": self.kind,
            "source": str(source.resolve()),
            "photos": len(items),
            "paths_sha256": digest.hexdigest(),
            **identity,
        }

    def load(self, items: Sequence[Item]) -> list[Photo]:
        """What `Rater.prepare` is given for each item: a file path or the image bytes."""
        raise NotImplementedError


class FolderCollection(Collection):
    kind = "folder"

    def __init__(self, root: Path) -> None:
        from prettymeter.photo import walk_files  # as ingest: hidden folders skipped

        files, _ = walk_files(root)
        photos = [f for f in files if Path(f).suffix.lower() in imaging.IMAGE_EXTENSIONS]
        super().__init__(root, [Item(i, p) for i, p in enumerate(photos)], {})

    def load(self, items: Sequence[Item]) -> list[Photo]:
        return [self.source / item.path for item in items]


class ListCollection(Collection):
    """One path a line; blank lines and lines starting with # are skipped; a relative path is
    relative to the list file's folder (so the run does not depend on the working directory)."""

    kind = "list"

    def __init__(self, list_file: Path) -> None:
        try:
            text = list_file.read_text(encoding="utf-8", errors="surrogateescape")
        except OSError as exc:
            raise PrettyMeterError(f"{list_file} cannot be read ({exc.strerror})") from exc
        if "\0" in text[:4096]:
            raise PrettyMeterError(
                f"{list_file} is not a text list of photo paths; give a folder, a list file "
                "(one path a line) or a Parquet table with `path` and `image` columns"
            )
        lines = [line.strip() for line in text.splitlines()]
        paths = [line for line in lines if line and not line.startswith("#")]
        super().__init__(list_file, [Item(i, p) for i, p in enumerate(paths)], {})

    def load(self, items: Sequence[Item]) -> list[Photo]:
        return [self.source.parent / item.path for item in items]  # an absolute path stays


class TableCollection(Collection):
    """A pipeline stage's Parquet table: the `image` bytes of every row, named by `path`."""

    kind = "table"

    def __init__(self, table: Path) -> None:
        from prettymeter.tables import open_table

        self.parquet = open_table(table, required=("path", "image"))
        paths = self.parquet.read(columns=["path"]).column("path").to_pylist()
        items = [Item(i, p if p is not None else f"row {i}") for i, p in enumerate(paths)]
        stat = table.stat()
        super().__init__(table, items, {"bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns})
        meta = self.parquet.metadata
        self._group_starts = [0]
        for g in range(meta.num_row_groups):
            self._group_starts.append(self._group_starts[-1] + meta.row_group(g).num_rows)
        self._cached: tuple[int, pa.Array] | None = None

    def _group(self, g: int) -> pa.Array:
        if self._cached is None or self._cached[0] != g:
            self._cached = (g, self.parquet.read_row_group(g, columns=["image"]).column("image"))
        return self._cached[1]

    def load(self, items: Sequence[Item]) -> list[Photo]:
        out: list[Photo] = []
        for item in items:
            g = bisect.bisect_right(self._group_starts, item.position) - 1
            out.append(self._group(g)[item.position - self._group_starts[g]].as_py())
        return out


def open_collection(source: Path) -> Collection:
    """A folder, a Parquet table or a list file; one line when it is none of these."""
    source = Path(source)
    if source.is_dir():
        return FolderCollection(source)
    if not source.exists():
        raise PrettyMeterError(
            f"{source} does not exist; give a folder of photos, a list file or a Parquet table"
        )
    if source.suffix.lower() in TABLE_SUFFIXES:
        return TableCollection(source)
    if source.suffix.lower() in imaging.IMAGE_EXTENSIONS:
        raise PrettyMeterError(
            f"{source} is one photo; use `pretty-meter predict {source} --model DIR`, or give "
            "a folder, a list file or a table to `rate`"
        )
    return ListCollection(source)
