"""Dynamic micro-batching: concurrent photos gathered into one model call, off the loop."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field

import numpy as np

from prettymeter.scoring import Scorer

Observer = Callable[[int, float], None]  # (batch size, seconds) → None


@dataclass
class _Item:
    array: np.ndarray
    future: asyncio.Future[tuple[float, float | None]] = field(repr=False)


class MicroBatcher:
    """One per model: a queue of photos and a task that runs them through the model in batches.

    The first photo of a batch waits at most `max_wait_ms` for company, and only while other
    photos for this model are being prepared (`preparing`, kept by the caller): a lone photo
    runs at once. Photos that arrive while a batch runs form the next one, so under load
    batches fill up by themselves. Up to `parallel` batches run at once (each in its own
    executor thread): the next batch is gathered while earlier ones run, and a semaphore holds
    the gathering back while `parallel` run.
    """

    def __init__(
        self,
        scorer: Scorer,
        executor: Executor,
        max_batch_size: int,
        max_wait_ms: float,
        observe: Observer | None = None,
        parallel: int = 1,
    ) -> None:
        self.scorer = scorer
        self.executor = executor
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_ms / 1000.0
        self.observe = observe
        self.parallel = max(1, parallel)
        self.preparing = 0  # photos decoding or detecting that will come here (event loop only)
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._batches: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="micro-batcher")

    async def stop(self) -> None:
        """Stop gathering, cancel the batches still running and every queued photo's future."""
        tasks = [self._task] if self._task is not None else []
        tasks += list(self._batches)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._task = None
        self._batches.clear()
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if not item.future.done():
                item.future.cancel()

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    def submit(self, array: np.ndarray) -> asyncio.Future[tuple[float, float | None]]:
        """Queue one preprocessed photo; the future gives (label, std or None)."""
        future: asyncio.Future[tuple[float, float | None]] = (
            asyncio.get_running_loop().create_future()
        )
        self._queue.put_nowait(_Item(array, future))
        return future

    async def _gather(self) -> list[_Item]:
        batch = [await self._queue.get()]
        deadline = time.monotonic() + self.max_wait_s
        try:
            while len(batch) < self.max_batch_size:
                if not self._queue.empty():
                    batch.append(self._queue.get_nowait())
                    continue
                if self.preparing == 0:  # no photo is on its way: waiting would only add latency
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), remaining))
                except TimeoutError:
                    break
        except asyncio.CancelledError:  # stopped mid-gathering: these photos get no answer
            _cancel(batch)
            raise
        return [item for item in batch if not item.future.done()]  # drop timed-out requests

    async def _run(self) -> None:
        slots = asyncio.Semaphore(self.parallel)
        while True:
            await slots.acquire()  # wait for a free slot first: photos queued meanwhile join
            try:
                batch = await self._gather()
            except BaseException:
                slots.release()
                raise
            if not batch:
                slots.release()
                continue
            task = asyncio.get_running_loop().create_task(self._run_batch(batch, slots))
            self._batches.add(task)
            task.add_done_callback(self._batches.discard)

    async def _run_batch(self, batch: list[_Item], slots: asyncio.Semaphore) -> None:
        loop = asyncio.get_running_loop()
        stacked = np.stack([item.array for item in batch])
        started = time.perf_counter()
        try:
            labels, stds = await loop.run_in_executor(self.executor, self.scorer.run, stacked)
        except asyncio.CancelledError:
            _cancel(batch)
            raise
        except Exception as exc:  # the model failed: every waiting request hears about it
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(exc)
            return
        finally:
            slots.release()
        if self.observe is not None:
            self.observe(len(batch), time.perf_counter() - started)
        for i, item in enumerate(batch):
            if not item.future.done():
                std = float(stds[i]) if stds is not None else None
                item.future.set_result((float(labels[i]), std))


def _cancel(batch: list[_Item]) -> None:
    for item in batch:
        if not item.future.done():
            item.future.cancel()
