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

    The first photo of a batch waits at most `max_wait_ms` for company; photos that arrive
    while a batch runs form the next one, so under load batches fill up by themselves.
    """

    def __init__(
        self,
        scorer: Scorer,
        executor: Executor,
        max_batch_size: int,
        max_wait_ms: float,
        observe: Observer | None = None,
    ) -> None:
        self.scorer = scorer
        self.executor = executor
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_ms / 1000.0
        self.observe = observe
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="micro-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
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
        while len(batch) < self.max_batch_size:
            if not self._queue.empty():
                batch.append(self._queue.get_nowait())
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), remaining))
            except TimeoutError:
                break
        return [item for item in batch if not item.future.done()]  # drop timed-out requests

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._gather()
            if not batch:
                continue
            stacked = np.stack([item.array for item in batch])
            started = time.perf_counter()
            try:
                labels, stds = await loop.run_in_executor(self.executor, self.scorer.run, stacked)
            except asyncio.CancelledError:
                for item in batch:
                    if not item.future.done():
                        item.future.cancel()
                raise
            except Exception as exc:  # the model failed: every waiting request hears about it
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(exc)
                continue
            if self.observe is not None:
                self.observe(len(batch), time.perf_counter() - started)
            for i, item in enumerate(batch):
                if not item.future.done():
                    std = float(stds[i]) if stds is not None else None
                    item.future.set_result((float(labels[i]), std))
