"""batching.parallel: several batches of one model in flight at once, same answers."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest

from prettymeter.errors import PrettyMeterError
from prettymeter.hardware import usable_cores
from prettymeter.scoring import Scorer
from prettymeter.serve import load_settings
from prettymeter.serve.batching import MicroBatcher
from tests.support.live import LiveServer
from tests.support.models import whole_photo_model
from tests.support.photos import b64, encode, fixture_variants
from tests.support.settings import service_settings


def concurrent_posts(url: str, bodies: list[dict[str, object]]) -> list[httpx.Response]:
    """Every body POSTed to /man/predict at the same moment, one client thread each."""
    barrier = threading.Barrier(len(bodies))
    answers: list[httpx.Response | None] = [None] * len(bodies)

    def client(i: int) -> None:
        barrier.wait()
        answers[i] = httpx.post(f"{url}/man/predict", json=bodies[i], timeout=60)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(a is not None for a in answers)
    return answers  # type: ignore[return-value]


def peak_overlap(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at one moment."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    peak = now = 0
    for _, step in events:
        now += step
        peak = max(peak, now)
    return peak


def test_parallel_batches_answer_the_same_scores_as_one_batch_at_a_time(
    model_dirs: dict[str, Path], tmp_path: Path
) -> None:
    model = whole_photo_model(model_dirs["man"], tmp_path / "man")
    bodies = [{"instances": [b64(encode(p, "PNG"))]} for p in fixture_variants()]
    scores = {}
    for parallel in (1, 2):
        batching = {"max_batch_size": 4, "max_wait_ms": 50, "queue_size": 64, "parallel": parallel}
        settings = service_settings({"man": model}, detect=False, batching=batching)
        with LiveServer(settings) as server:
            answers = concurrent_posts(server.url, bodies)
        assert [a.status_code for a in answers] == [200] * len(bodies), answers
        scores[parallel] = [a.json()["predictions"][0] for a in answers]
    assert len(set(scores[1])) > len(bodies) // 2, scores  # a mix-up of photos would show
    assert scores[2] == scores[1]


# 1 worker: the pool must grow to 2 by itself; 4 workers: the batcher alone must stop at 2
@pytest.mark.parametrize("inference_workers", [1, 4])
def test_with_parallel_2_two_batches_of_one_model_run_at_once_and_never_three(
    model_dirs: dict[str, Path], tmp_path: Path, inference_workers: int
) -> None:
    model = whole_photo_model(model_dirs["man"], tmp_path / "man")
    batching = {"max_batch_size": 1, "max_wait_ms": 0, "queue_size": 64, "parallel": 2}
    settings = service_settings(  # threads unset: each batch gets its share of the cores
        {"man": model},
        detect=False,
        threads=None,
        inference_workers=inference_workers,
        batching=batching,
    )
    calls: list[tuple[float, float]] = []
    photo = b64(encode(fixture_variants()[0], "PNG"))
    with LiveServer(settings) as server:
        scorer = server.app.state.service.models["man"].scorer
        real_run = scorer.run

        def slow_run(batch):  # type: ignore[no-untyped-def]
            started = time.monotonic()
            result = real_run(batch)
            time.sleep(0.15)  # a slow model: batches gathered meanwhile must not wait for it
            calls.append((started, time.monotonic()))
            return result

        scorer.run = slow_run  # a spy: the real model still answers
        answers = concurrent_posts(server.url, [{"instances": [photo]}] * 6)
    assert [a.status_code for a in answers] == [200] * 6
    assert len({a.json()["predictions"][0] for a in answers}) == 1
    assert len(calls) == 6, calls
    assert peak_overlap(calls) == 2, calls
    assert scorer.threads == max(1, usable_cores() // 2) and scorer.streams == 2


def test_stopping_cancels_the_running_batches_and_the_queued_photos(
    model_dirs: dict[str, Path],
) -> None:
    scorer = Scorer(model_dirs["man"], "onnxruntime", 1)
    size = scorer.input_size
    started = threading.Semaphore(0)
    release = threading.Event()
    real_run = scorer.run

    def blocked_run(batch):  # type: ignore[no-untyped-def]
        started.release()
        release.wait(10)
        return real_run(batch)

    scorer.run = blocked_run  # type: ignore[method-assign]

    async def scenario() -> list[bool]:
        with ThreadPoolExecutor(2) as pool:
            batcher = MicroBatcher(scorer, pool, max_batch_size=1, max_wait_ms=0, parallel=2)
            batcher.start()
            futures = [batcher.submit(np.zeros((3, size, size), np.float32)) for _ in range(5)]
            loop = asyncio.get_running_loop()
            for _ in range(2):  # both slots busy
                assert await loop.run_in_executor(None, started.acquire, True, 10)
            await asyncio.wait_for(batcher.stop(), 5)
            cancelled = [f.cancelled() for f in futures]  # before the model calls return
            release.set()
        return cancelled

    assert asyncio.run(scenario()) == [True] * 5


def test_parallel_is_set_from_the_environment_and_must_be_at_least_1(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PRETTYMETER_BATCHING__PARALLEL", "2")
    assert load_settings().batching.parallel == 2
    monkeypatch.setenv("PRETTYMETER_BATCHING__PARALLEL", "0")
    with pytest.raises(PrettyMeterError, match=r"batching\.parallel is invalid"):
        load_settings()


def test_openvino_with_2_streams_scores_from_2_threads_at_once_like_one_at_a_time(
    model_dirs: dict[str, Path],
) -> None:
    scorer = Scorer(model_dirs["man"], "openvino", threads=1, streams=2, verify=False)
    assert scorer._ov.get_property("NUM_STREAMS") == 2
    assert scorer._ov.get_property("INFERENCE_NUM_THREADS") == 2  # 1 thread per stream
    size = scorer.input_size
    batches = np.random.default_rng(0).random((2, 4, 3, size, size), dtype=np.float32)
    alone = [scorer.run(batch)[0] for batch in batches]
    barrier = threading.Barrier(2)

    def score(i: int) -> list[np.ndarray]:
        barrier.wait()
        return [scorer.run(batches[i])[0] for _ in range(10)]

    with ThreadPoolExecutor(2) as pool:
        together = list(pool.map(score, range(2)))
    for i in range(2):
        assert all(np.array_equal(labels, alone[i]) for labels in together[i])
