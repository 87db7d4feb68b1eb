"""`rate`: every photo of a collection through one loaded model into one table, in parallel.

Each photo goes through `rating_model.RatingModel` (the card's one photo path, the service's v1
policy); this module adds parallel preparation and batched model calls over the collection
(`batch.sources`), writing finished parts that a rerun resumes (`parts`). Decisions
(docs/cli.md, "rate"): threads, not processes: measured, 70-80 % of a photo's preparation (ONNX
Runtime, PIL decode, numpy on whole arrays) runs without the GIL, so one process with a thread
per core keeps the cores busy without copying arrays between processes.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq

from prettymeter import imaging
from prettymeter.batch.results import joiner, output_format, results_table
from prettymeter.batch.sources import Collection, Item, Photo, Shard, open_collection
from prettymeter.errors import ImageError, PrettyMeterError
from prettymeter.hardware import usable_cores
from prettymeter.inference import FACE_MODES, Prepared
from prettymeter.io import atomic_path
from prettymeter.parts import PartsFolder

if TYPE_CHECKING:
    from rich.progress import Task
    from rich.text import Text

    from prettymeter.rating_model import Rater, RatingModel

PART_ROWS = 64  # photos per finished part in .OUT.partial/: what a kill can lose at most


def rate_collection(
    source: Path,
    out: Path,
    model: Path | None = None,
    *,
    rater: Rater | None = None,
    whole: bool = False,
    faces: str = "one",
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
    `faces="all"`: a row per face of each photo (RatingModel.rate's `faces`).
    """
    source, out = Path(source), Path(out)
    fmt = output_format(out)
    shard = shard if isinstance(shard, Shard) else Shard.parse(shard)
    if part_rows < 1 or batch_size < 1:
        raise PrettyMeterError("--part-rows and --batch-size must be at least 1")
    if faces not in FACE_MODES:
        raise PrettyMeterError(f"--faces {faces!r} is unknown; use 'one' or 'all'")
    folder = PartsFolder(out, "rate")
    folder.check_output(overwrite, "--out")
    collection = open_collection(source)
    if not collection.items:
        raise PrettyMeterError(
            f"{source} holds no photos ({collection.kind}); photo extensions looked for: "
            f"{', '.join(sorted(imaging.IMAGE_EXTENSIONS))}"
        )
    if rater is None:
        from prettymeter.rating_model import RatingModel

        if model is None:
            raise PrettyMeterError("no model given; pass --model DIR (an exported model folder)")
        loaded = RatingModel(Path(model), engine=engine, batch_size=batch_size)
    else:
        loaded = rater.model
    card = loaded.card
    manifest = {
        "collection": collection.identity,
        "model": card.name,
        "onnx_sha256": card.onnx_sha256,
        "engine": loaded.engine,
        "whole": whole,
        "shard": str(shard),
        "part_rows": part_rows,
        "format": fmt,
        **({"faces": faces} if faces != "one" else {}),  # a plain run's manifest as before
    }
    summary: dict[str, Any] = {
        "source": str(source),
        "kind": collection.kind,
        "output": str(out),
        "model": card.name,
        "engine": loaded.engine,
        "shard": str(shard),
        "collection": len(collection.items),
    }
    started = time.perf_counter()
    finished = folder.begin(manifest, overwrite, "--out")
    if finished is not None:  # a run killed after writing the whole table: nothing left to do
        return {**summary, **finished, "resumed_rows": finished["photos"], "processed_rows": 0}
    mine = [item for item in collection.items if shard.owns(item.path)]
    chunks = [mine[i : i + part_rows] for i in range(0, len(mine), part_rows)]
    done = {number for number, _ in folder.parts() if number < len(chunks)}
    resumed = sum(len(chunks[n]) for n in done)
    todo = [(n, chunks[n]) for n in range(len(chunks)) if n not in done]
    workers = max(1, threads if threads is not None else usable_cores())

    processed = 0
    with _progress() as bar, ThreadPoolExecutor(max_workers=workers) as pool:
        task = bar.add_task("rate", total=len(mine), completed=resumed)
        ahead = max(2, -(-2 * workers // part_rows))
        for number, chunk, prepared in _prepared_chunks(
            todo, collection, loaded, (not whole, faces), pool, ahead
        ):
            ratings = loaded.rate_prepared(prepared)
            with atomic_path(folder.part(number)) as tmp:
                pq.write_table(results_table(chunk, ratings), tmp)
            processed += len(chunk)
            bar.advance(task, len(chunk))
    seconds = time.perf_counter() - started

    parts = [folder.part(number) for number in range(len(chunks))]
    counts = folder.commit(joiner(parts, fmt, _metadata(manifest, collection, card.demo)))
    return {
        **summary,
        **counts,
        "resumed_rows": resumed,
        "processed_rows": processed,
        "seconds": round(seconds, 2),
        "images_per_s": round(processed / seconds, 1) if seconds > 0 and processed else None,
    }


def _prepare_one(loaded: RatingModel, photo: Photo, how: tuple[bool, str]) -> Prepared:
    """`RatingModel.prepare`, with anything unexpected turned into this photo's error."""
    if photo is None:
        return Prepared(error=ImageError("not_an_image", "the table row has no image bytes"))
    if isinstance(photo, Path) and photo.exists() and not photo.is_file():
        # reading a named pipe or a device would block or never end
        return Prepared(
            error=ImageError("not_an_image", f"{photo} is not a regular file (pipe or device)")
        )
    try:
        return loaded.prepare(photo, *how)
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
    loaded: RatingModel,
    how: tuple[bool, str],
    pool: ThreadPoolExecutor,
    ahead: int,
) -> Iterator[tuple[int, list[Item], list[Prepared]]]:
    """Chunks with every photo prepared on the pool (`how`: strict, faces), `ahead` chunks in
    flight, in order."""
    pending: deque[tuple[int, list[Item], list[Future[Prepared]]]] = deque()
    queue = iter(todo)

    def submit() -> None:
        for number, chunk in queue:
            photos = collection.load(chunk)
            futures = [pool.submit(_prepare_one, loaded, photo, how) for photo in photos]
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
        "faces": manifest.get("faces", "one"),
        "shard": manifest["shard"],
        "version": __version__,
    }


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
