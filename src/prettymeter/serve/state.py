"""What a running service holds: loaded models, their batchers, thread pools and admission."""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from prettymeter.card import CARD_FILE, ModelCard, load_model_dir
from prettymeter.errors import ImageError, PrettyMeterError
from prettymeter.hardware import usable_cores
from prettymeter.inference import InputSpec, Prepared, Rating
from prettymeter.rating_model import RatingModel, distinct_inputs
from prettymeter.serve.batching import MicroBatcher
from prettymeter.serve.metrics import Metrics
from prettymeter.serve.settings import ORIGINAL_ROUTES, Settings

if TYPE_CHECKING:
    import numpy as np

    from prettymeter.faces.mtcnn import FaceDetector
    from prettymeter.scoring import Scorer  # made only inside RatingModel

log = logging.getLogger("prettymeter.serve")


@dataclass
class ServedModel:
    """One route's model: the loaded model (photo → rating) and the micro-batcher in front of
    its engine."""

    route: str
    model: RatingModel
    batcher: MicroBatcher

    @property
    def card(self) -> ModelCard:
        return self.model.card

    @property
    def scorer(self) -> Scorer:
        return self.model.scorer


@dataclass
class ServiceState:
    settings: Settings
    metrics: Metrics = field(default_factory=Metrics)
    models: dict[str, ServedModel] = field(default_factory=dict)
    ready: bool = False
    in_flight: int = 0
    prep_pool: ThreadPoolExecutor | None = None
    inference_pool: ThreadPoolExecutor | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def check_model_dirs(self) -> dict[str, ModelCard]:
        """Verify every configured model directory (card schema, ONNX hash, a preprocessing this
        code can honour, the gender an original route needs) without loading it: what `serve` does
        before it binds the port. `start` checks the same while it loads."""
        self._check_configured()
        cards = {}
        for route, model_dir in self.settings.models.items():
            card, _ = load_model_dir(Path(model_dir))
            InputSpec.from_card(card, str(Path(model_dir) / CARD_FILE))
            self._check_route(route, model_dir, card)
            cards[route] = card
        return cards

    def _check_configured(self) -> None:
        if not self.settings.models:
            raise PrettyMeterError(
                "no model configured; pass --man DIR and/or --woman DIR, set models in the "
                "config file, or run `pretty-meter demo`"
            )

    @staticmethod
    def _check_route(route: str, model_dir: Path, card: ModelCard) -> None:
        expected = ORIGINAL_ROUTES.get(route)
        if expected is not None and card.gender != expected:
            raise PrettyMeterError(
                f"{model_dir} is a model for gender {card.gender!r} but is configured as "
                f"route {route!r} (gender {expected!r}); swap --man and --woman"
            )

    async def start(self) -> None:
        """Load every model (refusing a broken one with its message), then become ready."""
        self._check_configured()
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
        # one detector for every model: the one-person rule's and the person crops'
        detector: FaceDetector | None = None
        if settings.detect:
            from prettymeter.inference import load_detector

            detector = await loop.run_in_executor(self.prep_pool, load_detector)
        for route, model_dir in settings.models.items():
            started = time.perf_counter()
            model = await loop.run_in_executor(
                self.inference_pool, self._load_model, route, Path(model_dir), detector
            )
            detector = detector or model.detector  # a person-crop model's, for the next ones
            batcher = MicroBatcher(
                model.scorer,
                self.inference_pool,
                settings.batching.max_batch_size,
                settings.batching.max_wait_ms,
                observe=self._observer(route),
                parallel=settings.batching.parallel,
            )
            batcher.start()
            self.models[route] = ServedModel(route, model, batcher)
            scorer = model.scorer
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

    def _load_model(
        self, route: str, model_dir: Path, detector: FaceDetector | None
    ) -> RatingModel:
        settings = self.settings
        parallel = settings.batching.parallel
        threads = settings.threads
        if threads is None and parallel > 1:  # the cores shared by the batches running at once
            threads = max(1, usable_cores() // parallel)
        model = RatingModel(
            model_dir,
            engine=settings.engine,
            device=settings.device,
            threads=threads,
            streams=parallel,
            one_person=settings.detect,
            detector=detector,
            max_pixels=settings.limits.max_pixels,
            compact=True,  # a photo waits for its batch as uint8 pixels, normalized at the batch
        )
        self._check_route(route, model_dir, model.card)
        model.warmup(settings.batching.max_batch_size)
        return model

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

    def find_model(self, gender: str | None = None, name: str | None = None) -> ServedModel | None:
        """By route or card name, else by gender (the original route of that gender first)."""
        if name is not None:
            if name in self.models:
                return self.models[name]
            return next((m for m in self.models.values() if m.card.name == name), None)
        for route, original_gender in ORIGINAL_ROUTES.items():
            if original_gender == gender and route in self.models:
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
        self,
        served: ServedModel,
        payloads: list[bytes | ImageError],
        strict: bool,
        faces: str = "one",
        explain: bool = False,
    ) -> list[Rating]:
        """Every photo's rating: decode + detect in the thread pool (the model's `prepare`), the
        good ones (and with `faces="all"` every face's crop) scored through the micro-batcher,
        each rated by the model; `payloads` is emptied once they are decoded. `explain`: each
        photo's occluded variants then go to the engine directly in the inference pool, one
        batch per face (`RatingModel.explained`): they are one request's own batch already, and
        the micro-batcher's largest batch would split them."""
        assert self.prep_pool is not None
        loop = asyncio.get_running_loop()
        model = served.model

        async def prepare(payload: bytes | ImageError) -> Prepared:
            if isinstance(payload, ImageError):
                return Prepared(error=payload)
            return await loop.run_in_executor(self.prep_pool, model.prepare, payload, strict, faces)

        coming = sum(not isinstance(p, ImageError) for p in payloads)
        served.batcher.preparing += coming
        try:
            prepared = await asyncio.gather(*(prepare(p) for p in payloads))
        finally:
            served.batcher.preparing -= coming
        payloads.clear()  # decoded: the encoded photos need not wait for the model with them
        futures = [_submit_once(served.batcher, p.inputs()) for p in prepared]
        self.metrics.queue_depth.labels(served.route).set(served.batcher.depth)
        ratings = []
        try:
            for item, row in zip(prepared, futures, strict=True):
                scored = [await f if f is not None else (None, None) for f in row]
                (label, std), *face_scores = scored
                ratings.append(model.rating(item, label, std, faces=face_scores))
        finally:  # a timed-out request takes its photos out of the next batch
            for future in (f for row in futures for f in row):
                if future is not None and not future.done():
                    future.cancel()
        if explain:
            assert self.inference_pool is not None
            ratings = list(
                await asyncio.gather(
                    *(
                        loop.run_in_executor(self.inference_pool, model.explained, p, r)
                        for p, r in zip(prepared, ratings, strict=True)
                    )
                )
            )
        for r in ratings:
            self.metrics.images.labels(
                "scored" if r.score is not None or r.error is None else r.error
            ).inc()
        return ratings


def _submit_once(
    batcher: MicroBatcher, inputs: list[np.ndarray | None]
) -> list[asyncio.Future[tuple[float, float | None]] | None]:
    """One future per input; an input given twice (a photo's main face is its own input) is
    submitted once and shares its future."""
    unique, where = distinct_inputs(inputs)
    futures = [batcher.submit(array) for array in unique]
    return [None if w is None else futures[w] for w in where]
