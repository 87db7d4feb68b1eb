"""Batch scoring: rate every photo of a folder, a list file or a stage table into one table.

Each photo goes through `inference.Rater` (the card's one photo path, the service's v1 policy);
this module only adds the collection, parallel preparation, batched model calls, resumable parts
and sharding. Decisions (docs/cli.md, "rate"):

- Order: a folder's photos sorted by relative path, a list file's in its order, a table's in row
  order; `position` is a photo's place in the whole collection.
- Shards: `--shard I/N` rates the photos whose path hashes (sha256) to I modulo N, in the same
  order. Every shard sees the whole collection, so the N outputs, concatenated and sorted by
  `position`, are the single-machine table; a photo's shard depends on its path alone.
- Resume: finished parts of `part_rows` photos go to the hidden `.OUT.partial/` beside OUT; a
  rerun of the same command skips them. OUT appears complete, in one rename, or not at all.
- Threads, not processes: measured, 70-80 % of a photo's preparation (ONNX Runtime, PIL decode,
  numpy on whole arrays) runs without the GIL, so one process with a thread per core keeps the
  cores busy without copying arrays between processes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from prettymeter import imaging
from prettymeter.errors import ImageError, PrettyMeterError
from prettymeter.inference import Prepared, Rating, rating
from prettymeter.io import atomic_path, ensure_new_output

if TYPE_CHECKING:
    from rich.progress import Task
    from rich.text import Text

    from prettymeter.inference import Rater

PART_ROWS = 64  # photos per finished part in .OUT.partial/: what a kill can lose at most
MANIFEST = "manifest.json"
MERGED = "merged.json"  # written once the whole table is in .OUT.partial/result.*
OUTPUT_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}
TABLE_SUFFIXES = (".parquet", ".pq")

Photo = Path | bytes | None

RESULT_SCHEMA = pa.schema(
    [
        pa.field("position", pa.int64()),
        pa.field("path", pa.string()),
        pa.field("score", pa.float64()),
        pa.field("rate", pa.float64()),
        pa.field("percentile", pa.float64()),
        pa.field("uncertainty", pa.float64()),
        pa.field("box", pa.list_(pa.float64())),
        pa.field("region", pa.list_(pa.float64())),
        pa.field("width", pa.int64()),
        pa.field("height", pa.int64()),
        pa.field("error", pa.string()),
        pa.field("message", pa.string()),
    ]
)


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
        from prettymeter.data.photo import walk_files  # as ingest: hidden folders skipped

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
        from prettymeter.data.tables import open_table

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
        import bisect

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


# -- the run --------------------------------------------------------------------------------------


def partial_dir(out: Path) -> Path:
    """Where an unfinished run keeps its finished parts (hidden, beside OUT)."""
    return out.with_name(f".{out.name}.partial")


def output_format(out: Path) -> str:
    fmt = OUTPUT_FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise PrettyMeterError(
            f"--out {out}: the extension says the format; end it in .parquet or .csv"
        )
    return fmt


def rate_collection(
    source: Path,
    out: Path,
    model: Path | None = None,
    *,
    rater: Rater | None = None,
    whole: bool = False,
    shard: Shard | str | None = None,
    threads: int | None = None,
    batch_size: int = 32,
    engine: str = "auto",
    part_rows: int = PART_ROWS,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Rate every photo of `source` (this shard's share) into `out`; returns the summary.

    A photo that cannot be scored gets its error code and message in the table; it never stops
    the run. Pass a loaded `rater` to reuse it (then `model`, `engine`, `batch_size` are unused).
    """
    source, out = Path(source), Path(out)
    fmt = output_format(out)
    shard = shard if isinstance(shard, Shard) else Shard.parse(shard)
    if part_rows < 1 or batch_size < 1:
        raise PrettyMeterError("--part-rows and --batch-size must be at least 1")
    work = partial_dir(out)
    _remove_trash(work)
    if not (work / MERGED).is_file():  # else a killed run's finished table is being moved in
        ensure_new_output(out, overwrite, "--out")
    collection = open_collection(source)
    if not collection.items:
        raise PrettyMeterError(
            f"{source} holds no photos ({collection.kind}); photo extensions looked for: "
            f"{', '.join(sorted(imaging.IMAGE_EXTENSIONS))}"
        )
    if rater is None:
        from prettymeter.inference import Rater

        if model is None:
            raise PrettyMeterError("no model given; pass --model DIR (an exported model folder)")
        rater = Rater(Path(model), engine=engine, batch_size=batch_size)
    card = rater.card
    manifest = {
        "collection": collection.identity,
        "model": card.name,
        "onnx_sha256": card.onnx_sha256,
        "engine": rater.scorer.engine,
        "whole": whole,
        "shard": str(shard),
        "part_rows": part_rows,
        "format": fmt,
    }
    summary: dict[str, Any] = {
        "source": str(source),
        "kind": collection.kind,
        "output": str(out),
        "model": card.name,
        "engine": rater.scorer.engine,
        "shard": str(shard),
        "collection": len(collection.items),
    }
    started = time.perf_counter()
    finished = _finish_merged(work, out, manifest)
    if finished is not None:  # a run killed after writing the whole table: nothing left to do
        return {**summary, **finished, "resumed_rows": finished["photos"], "processed_rows": 0}
    ensure_new_output(out, overwrite, "--out")
    mine = [item for item in collection.items if shard.owns(item.path)]
    chunks = [mine[i : i + part_rows] for i in range(0, len(mine), part_rows)]
    _open_partial(work, manifest, overwrite)
    done = {number for number in range(len(chunks)) if _part(work, number).is_file()}
    resumed = sum(len(chunks[n]) for n in done)
    todo = [(n, chunks[n]) for n in range(len(chunks)) if n not in done]
    workers = max(1, threads if threads is not None else _usable_cores())

    processed = 0
    with _progress() as bar, ThreadPoolExecutor(max_workers=workers) as pool:
        task = bar.add_task("rate", total=len(mine), completed=resumed)
        ahead = max(2, -(-2 * workers // part_rows))
        for number, chunk, prepared in _prepared_chunks(
            todo, collection, rater, not whole, pool, ahead
        ):
            scored = rater.score(prepared)
            ratings = [
                rating(card, p, label, std)
                for p, (label, std) in zip(prepared, scored, strict=True)
            ]
            with atomic_path(_part(work, number)) as tmp:
                pq.write_table(_results_table(chunk, ratings), tmp)
            processed += len(chunk)
            bar.advance(task, len(chunk))
    seconds = time.perf_counter() - started

    counts = _merge(work, out, fmt, len(chunks), _metadata(manifest, collection, card.demo))
    _cleanup(work)
    return {
        **summary,
        **counts,
        "resumed_rows": resumed,
        "processed_rows": processed,
        "seconds": round(seconds, 2),
        "images_per_s": round(processed / seconds, 1) if seconds > 0 and processed else None,
    }


def _usable_cores() -> int:
    """The cores this process may run on (taskset, container cpusets), else every core."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _prepare_one(rater: Rater, photo: Photo, strict: bool) -> Prepared:
    """`Rater.prepare`, with anything unexpected turned into this photo's error."""
    if photo is None:
        return Prepared(error=ImageError("not_an_image", "the table row has no image bytes"))
    if isinstance(photo, Path) and photo.exists() and not photo.is_file():
        # reading a named pipe or a device would block or never end
        return Prepared(
            error=ImageError("not_an_image", f"{photo} is not a regular file (pipe or device)")
        )
    try:
        return rater.prepare(photo, strict)
    except ImageError as exc:
        return Prepared(error=exc)
    except Exception as exc:  # one bad file never stops the run
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return Prepared(
            error=ImageError(
                "failed", f"this photo could not be scored ({type(exc).__name__}: {first})"
            )
        )


def _prepared_chunks(
    todo: list[tuple[int, list[Item]]],
    collection: Collection,
    rater: Rater,
    strict: bool,
    pool: ThreadPoolExecutor,
    ahead: int,
) -> Iterator[tuple[int, list[Item], list[Prepared]]]:
    """Chunks with every photo prepared on the pool, `ahead` chunks in flight, in order."""
    pending: deque[tuple[int, list[Item], list[Future[Prepared]]]] = deque()
    queue = iter(todo)

    def submit() -> None:
        for number, chunk in queue:
            photos = collection.load(chunk)
            futures = [pool.submit(_prepare_one, rater, photo, strict) for photo in photos]
            pending.append((number, chunk, futures))
            return

    for _ in range(ahead):
        submit()
    try:
        while pending:
            number, chunk, futures = pending.popleft()
            submit()
            yield number, chunk, [f.result() for f in futures]
    finally:
        for _, _, futures in pending:
            for f in futures:
                f.cancel()


def _box(box: Sequence[float] | None) -> list[float] | None:
    return [float(v) for v in box] if box is not None else None


def _results_table(chunk: list[Item], ratings: list[Rating]) -> pa.Table:
    columns: dict[str, list[Any]] = {
        "position": [item.position for item in chunk],
        "path": [item.path for item in chunk],
        "score": [r.score for r in ratings],
        "rate": [r.rate for r in ratings],
        "percentile": [r.percentile for r in ratings],
        "uncertainty": [r.uncertainty for r in ratings],
        # the box the score was given for, as the v1 API answers
        "box": [_box(r.box) if r.score is not None else None for r in ratings],
        "region": [_box(r.region) for r in ratings],
        "width": [r.image_size[0] if r.image_size else None for r in ratings],
        "height": [r.image_size[1] if r.image_size else None for r in ratings],
        "error": [r.error for r in ratings],
        "message": [r.message for r in ratings],
    }
    return pa.Table.from_arrays(
        [pa.array(columns[f.name], type=f.type) for f in RESULT_SCHEMA], schema=RESULT_SCHEMA
    )


# -- the parts folder -----------------------------------------------------------------------------


def _part(work: Path, number: int) -> Path:
    return work / f"part-{number:08d}.parquet"


def _trash(work: Path) -> Path:
    return work.with_name(work.name + ".trash")


def _remove_trash(work: Path) -> None:
    if _trash(work).exists():
        shutil.rmtree(_trash(work), ignore_errors=True)


def _cleanup(work: Path) -> None:
    """Remove the parts folder: renamed away first, so a kill during the removal leaves no
    half-deleted folder that could look like an unfinished run."""
    os.replace(work, _trash(work))
    shutil.rmtree(_trash(work), ignore_errors=True)


def _read_manifest(work: Path) -> dict[str, Any] | None:
    try:
        found = json.loads((work / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return found if isinstance(found, dict) else None


def _mismatch(work: Path) -> PrettyMeterError:
    return PrettyMeterError(
        f"{work} holds an unfinished `rate` run with another collection, model or settings; "
        "rerun that command to finish it, or pass --overwrite to start over"
    )


def _open_partial(work: Path, manifest: dict[str, Any], overwrite: bool) -> None:
    """Make .OUT.partial/ or check that it belongs to this very run."""
    if work.is_dir() and _read_manifest(work) != manifest:
        if not overwrite:
            raise _mismatch(work)
        shutil.rmtree(work)
    if not work.is_dir():
        work.mkdir(parents=True)
        with atomic_path(work / MANIFEST) as tmp:
            tmp.write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def _finish_merged(work: Path, out: Path, manifest: dict[str, Any]) -> dict[str, Any] | None:
    """A run killed after the whole table was written: move it into place (if it is not there
    yet) and return its counts; None when there is no such run."""
    marker = work / MERGED
    if not marker.is_file():
        return None
    if _read_manifest(work) != manifest:
        raise _mismatch(work)
    counts: dict[str, Any] = json.loads(marker.read_text(encoding="utf-8"))
    result = work / f"result{out.suffix}"
    if result.is_file():
        os.replace(result, out)
    _cleanup(work)
    return counts


def _metadata(manifest: dict[str, Any], collection: Collection, demo: bool) -> dict[str, Any]:
    from prettymeter import __version__

    return {
        "stage": "rate",
        "source": collection.identity,
        "model": manifest["model"],
        "onnx_sha256": manifest["onnx_sha256"],
        "engine": manifest["engine"],
        "demo_model": demo,
        "whole": manifest["whole"],
        "shard": manifest["shard"],
        "version": __version__,
    }


def _merge(work: Path, out: Path, fmt: str, parts: int, metadata: dict[str, Any]) -> dict[str, Any]:
    """Join the parts into .OUT.partial/result.*, mark it merged, then rename it to OUT."""
    from prettymeter.data.tables import METADATA_KEY

    errors: Counter[str] = Counter()
    rows = scored = 0
    result = work / f"result{out.suffix}"
    with atomic_path(result) as tmp:
        writer: Any
        if fmt == "parquet":
            schema = RESULT_SCHEMA.with_metadata({METADATA_KEY: json.dumps(metadata).encode()})
            writer = pq.ParquetWriter(str(tmp), schema, compression="zstd")
        else:
            from pyarrow import csv

            writer = csv.CSVWriter(str(tmp), _csv_schema())
        with writer:
            for number in range(parts):
                table = pq.read_table(_part(work, number), schema=RESULT_SCHEMA)
                rows += table.num_rows
                scored += table.num_rows - table.column("score").null_count
                errors.update(e for e in table.column("error").to_pylist() if e)
                writer.write_table(table if fmt == "parquet" else _csv_table(table))
    counts = {"photos": rows, "scored": scored, "errors": dict(sorted(errors.items()))}
    with atomic_path(work / MERGED) as tmp:
        tmp.write_text(json.dumps(counts), encoding="utf-8")
    os.replace(result, out)
    return counts


def _csv_schema() -> pa.Schema:
    return pa.schema(
        [pa.field(f.name, pa.string()) if pa.types.is_list(f.type) else f for f in RESULT_SCHEMA]
    )


def _csv_table(table: pa.Table) -> pa.Table:
    """CSV has no lists: a box is written as JSON text, `[x0, y0, x1, y1]`."""
    for name in ("box", "region"):
        values = [json.dumps(v) if v is not None else None for v in table.column(name).to_pylist()]
        table = table.set_column(
            table.schema.get_field_index(name), name, pa.array(values, pa.string())
        )
    return table


def read_results(path: Path) -> pa.Table:
    """A `rate` output (Parquet or CSV) as an Arrow table with RESULT_SCHEMA's types."""
    path = Path(path)
    if output_format(path) == "parquet":
        return pq.read_table(path, schema=RESULT_SCHEMA)
    from pyarrow import csv

    options = csv.ConvertOptions(column_types=_csv_schema(), strings_can_be_null=True)
    table = csv.read_csv(path, convert_options=options)
    for name in ("box", "region"):
        values = [json.loads(v) if v else None for v in table.column(name).to_pylist()]
        table = table.set_column(
            table.schema.get_field_index(name), name, pa.array(values, pa.list_(pa.float64()))
        )
    return table.select(RESULT_SCHEMA.names).cast(RESULT_SCHEMA)


# -- progress -------------------------------------------------------------------------------------


def _progress() -> Any:
    """The shared progress bar's columns, with the photos per second before the ETA."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    from prettymeter.console import progress_bar

    class RateColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:.1f} img/s" if speed else "- img/s", style="progress.data.speed")

    bar = progress_bar()
    columns = list(bar.columns)
    bar.columns = (*columns[:-1], RateColumn(), columns[-1])
    return bar
