"""What a running service holds: loaded models, their batchers, thread pools and admission."""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from prettymeter.card import ModelCard, load_model_dir
from prettymeter.errors import ImageError, PrettyMeterError
from prettymeter.hardware import usable_cores
from prettymeter.inference import InputSpec, PhotoPath, Prepared
from prettymeter.memory import release_free_memory
from prettymeter.scoring import Scorer
from prettymeter.serve.batching import MicroBatcher
from prettymeter.serve.metrics import Metrics
from prettymeter.serve.settings import SEED_ROUTES, Settings

log = logging.getLogger("prettymeter.serve")


@dataclass
class LoadedModel:
    route: str
    card: ModelCard
    scorer: Scorer
    batcher: MicroBatcher
    path: PhotoPath  # photo → this model's input, as its card says


@dataclass
class Outcome:
    """One photo's answer: the prepared photo plus the model's label (None on error)."""

    prepared: Prepared
    label: float | None = None
    std: float | None = None


@dataclass
class ServiceState:
    settings: Settings
    metrics: Metrics = field(default_factory=Metrics)
    models: dict[str, LoadedModel] = field(default_factory=dict)
    ready: bool = False
    in_flight: int = 0
    prep_pool: ThreadPoolExecutor | None = None
    inference_pool: ThreadPoolExecutor | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def check_model_dirs(self) -> dict[str, ModelCard]:
        """Verify every configured model directory (card schema, ONNX hash, a preprocessing this
        code can honour) before loading."""
        if not self.settings.models:
            raise PrettyMeterError(
                "no model configured; pass --man DIR and/or --woman DIR, set models in the "
                "config file, or run `pretty-meter demo`"
            )
        cards = {}
        for route, model_dir in self.settings.models.items():
            card, _ = load_model_dir(Path(model_dir))
            InputSpec.from_card(card, str(Path(model_dir) / "card.json"))
            expected = SEED_ROUTES.get(route)
            if expected is not None and card.gender != expected:
                raise PrettyMeterError(
                    f"{model_dir} is a model for gender {card.gender!r} but is configured as "
                    f"route {route!r} (gender {expected!r}); swap --man and --woman"
                )
            cards[route] = card
        return cards

    async def start(self) -> None:
        """Load every model (refusing a broken one with its message), then become ready."""
        cards = self.check_model_dirs()
        settings = self.settings
        cpus = usable_cores()
        self.prep_pool = ThreadPoolExecutor(
            max_workers=settings.prep_workers or cpus, thread_name_prefix="prep"
        )
        self.inference_pool = ThreadPoolExecutor(  # room for one model's parallel batches
            max_workers=max(settings.inference_workers, settings.batching.parallel),
            thread_name_prefix="infer",
        )
        loop = asyncio.get_running_loop()
        specs = {
            route: InputSpec.from_card(card, str(settings.models[route]))
            for route, card in cards.items()
        }
        detector = None  # one detector for every model: the policy's and the person crops'
        if settings.detect or any(spec.crops_person for spec in specs.values()):
            from prettymeter.inference import load_detector

            detector = await loop.run_in_executor(self.prep_pool, load_detector)
        for route, model_dir in settings.models.items():
            started = time.perf_counter()
            scorer = await loop.run_in_executor(self.inference_pool, self._load_scorer, model_dir)
            batcher = MicroBatcher(
                scorer,
                self.inference_pool,
                settings.batching.max_batch_size,
                settings.batching.max_wait_ms,
                observe=self._observer(route),
                parallel=settings.batching.parallel,
            )
            batcher.start()
            path = PhotoPath(
                specs[route],
                detector,
                one_person=settings.detect,
                max_pixels=settings.limits.max_pixels,
            )
            self.models[route] = LoadedModel(route, scorer.card, scorer, batcher, path)
            log.info(
                "model %s loaded from %s in %.1f s on %s%s",
                route,
                model_dir,
                time.perf_counter() - started,
                scorer.describe(),
                "".join(f"; {e} failed the tripwire ({d:.3f})" for e, d in scorer.refused.items()),
            )
        self.ready = True
        self.metrics.ready.set(1)

    def _load_scorer(self, model_dir: Path) -> Scorer:
        parallel = self.settings.batching.parallel
        threads = self.settings.threads
        if threads is None and parallel > 1:  # the cores shared by the batches running at once
            threads = max(1, usable_cores() // parallel)
        scorer = Scorer(
            model_dir, self.settings.engine, threads, device=self.settings.device, streams=parallel
        )
        scorer.warmup(self.settings.batching.max_batch_size)
        release_free_memory()
        return scorer

    def _observer(self, route: str):  # type: ignore[no-untyped-def]
        batch_size = self.metrics.batch_size.labels(route)
        inference = self.metrics.inference.labels(route)

        def observe(size: int, seconds: float) -> None:
            batch_size.observe(size)
            inference.observe(seconds)

        return observe

    async def stop(self) -> None:
        self.ready = False
        self.metrics.ready.set(0)
        for model in self.models.values():
            await model.batcher.stop()
        for pool in (self.prep_pool, self.inference_pool):
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)

    # -- model choice ----------------------------------------------------------------------------

    def find_model(self, gender: str | None = None, name: str | None = None) -> LoadedModel | None:
        """By route or card name, else by gender (the seed route of that gender first)."""
        if name is not None:
            if name in self.models:
                return self.models[name]
            return next((m for m in self.models.values() if m.card.name == name), None)
        for route, seed_gender in SEED_ROUTES.items():
            if seed_gender == gender and route in self.models:
                return self.models[route]
        return next((m for m in self.models.values() if m.card.gender == gender), None)

    # -- admission -------------------------------------------------------------------------------

    def admit(self, count: int) -> bool:
        """Take room for `count` photos, or say no at once (the caller answers 429)."""
        if self.in_flight + count > self.settings.batching.queue_size:
            return False
        self.in_flight += count
        self.metrics.in_flight.set(self.in_flight)
        return True

    def release(self, count: int) -> None:
        self.in_flight = max(0, self.in_flight - count)
        self.metrics.in_flight.set(self.in_flight)

    # -- scoring ---------------------------------------------------------------------------------

    async def score(
        self, model: LoadedModel, payloads: list[bytes | ImageError], strict: bool
    ) -> list[Outcome]:
        """Decode + detect every photo in the thread pool (the model's own photo path), then
        score the good ones in batches."""
        assert self.prep_pool is not None
        loop = asyncio.get_running_loop()

        async def prepare(payload: bytes | ImageError) -> Prepared:
            if isinstance(payload, ImageError):
                return Prepared(error=payload)
            return await loop.run_in_executor(self.prep_pool, model.path.prepare, payload, strict)

        prepared = await asyncio.gather(*(prepare(p) for p in payloads))
        futures = [model.batcher.submit(p.array) if p.array is not None else None for p in prepared]
        self.metrics.queue_depth.labels(model.route).set(model.batcher.depth)
        outcomes = []
        try:
            for item, future in zip(prepared, futures, strict=True):
                if future is None:
                    outcomes.append(Outcome(item))
                    continue
                label, std = await future
                outcomes.append(Outcome(item, label, std))
        finally:  # a timed-out request takes its photos out of the next batch
            for future in futures:
                if future is not None and not future.done():
                    future.cancel()
        for outcome in outcomes:
            error = outcome.prepared.error
            scored = outcome.label is not None
            self.metrics.images.labels("scored" if scored or error is None else error.code).inc()
        return outcomes
