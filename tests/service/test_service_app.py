"""The app around the routes: health, metrics, docs, the page, CORS, logs, settings, startup."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import struct
import subprocess
import threading
from pathlib import Path

import httpx
import pytest

from prettymeter.errors import PrettyMeterError
from prettymeter.serve import create_app, load_settings
from tests.support.live import LiveServer
from tests.support.models import whole_photo_model
from tests.support.paths import CLI
from tests.support.photos import b64, photo_bytes
from tests.support.settings import service_settings


def test_health_readiness_metrics_and_docs_answer(service_url: str) -> None:
    assert httpx.get(f"{service_url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{service_url}/readyz")
    assert ready.status_code == 200 and ready.json() == {"ready": True, "models": ["man", "woman"]}
    httpx.post(f"{service_url}/man/predict", json={"instances": [b64(photo_bytes("man.png"))]})
    metrics = httpx.get(f"{service_url}/metrics").text
    assert 'prettymeter_requests_total{route="/man/predict",status="200"}' in metrics
    assert 'prettymeter_batch_size_count{model="man"}' in metrics
    assert "prettymeter_images_in_flight" in metrics and "prettymeter_ready 1.0" in metrics
    assert 'prettymeter_images_total{outcome="scored"}' in metrics
    assert httpx.get(f"{service_url}/docs").status_code == 200
    schema = httpx.get(f"{service_url}/openapi.json").json()
    for path in ("/man/predict", "/woman/predict", "/v1/rate", "/v1/models", "/readyz"):
        assert path in schema["paths"]
    rate = schema["paths"]["/v1/rate"]["post"]
    assert set(rate["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
    assert {"413", "415", "429", "504"} <= set(rate["responses"])


def histogram(metrics: str, name: str, labels: str) -> dict[str, float]:
    """`_count`, `_sum` and each `le` bucket of one Prometheus histogram series."""
    values = {}
    for line in metrics.splitlines():
        if line.startswith(f"{name}_bucket{{") and labels in line:
            le = line.split('le="', 1)[1].split('"', 1)[0]
            values[le] = float(line.rsplit(" ", 1)[1])
        for part in ("count", "sum"):
            if line.startswith(f"{name}_{part}{{{labels}}}"):
                values[part] = float(line.rsplit(" ", 1)[1])
    return values


def test_concurrent_requests_share_model_calls_off_the_event_loop_and_a_lone_photo_never_waits(
    model_dirs: dict[str, Path], tmp_path: Path
) -> None:
    model = whole_photo_model(model_dirs["man"], tmp_path / "man")
    settings = service_settings(
        {"man": model}, batching={"max_batch_size": 8, "max_wait_ms": 300, "queue_size": 64}
    )
    calls: list[tuple[int, str, bool]] = []  # (batch size, thread name, an event loop runs there)
    photo = b64(photo_bytes("man.png"))
    with LiveServer(settings) as server:
        scorer = server.app.state.service.models["man"].scorer
        real_run = scorer.run

        def recording_run(batch):  # type: ignore[no-untyped-def]
            try:
                asyncio.get_running_loop()
                on_a_loop = True
            except RuntimeError:
                on_a_loop = False
            calls.append((len(batch), threading.current_thread().name, on_a_loop))
            return real_run(batch)

        scorer.run = recording_run  # a spy: the real model still answers
        barrier = threading.Barrier(8)
        answers: list[int] = []

        def client() -> None:
            barrier.wait()
            body = {"instances": [photo]}
            answers.append(
                httpx.post(f"{server.url}/man/predict", json=body, timeout=60).status_code
            )

        threads = [threading.Thread(target=client) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        metrics = httpx.get(f"{server.url}/metrics").text
        loop_thread = server.thread.name
        calls_before = len(calls)
        # Alone, a photo has no company on its way: it must not sit out the batch's wait.
        server.app.state.service.models["man"].batcher.max_wait_s = 20.0
        lone = httpx.post(f"{server.url}/man/predict", json={"instances": [photo]}, timeout=60)
    assert lone.status_code == 200 and lone.elapsed.total_seconds() < 10, lone.elapsed
    assert len(calls) == calls_before + 1
    del calls[calls_before:]
    assert answers == [200] * 8
    assert sum(size for size, _, _ in calls) == 8, calls
    assert max(size for size, _, _ in calls) > 1, f"no batch held more than one photo: {calls}"
    assert all(name != loop_thread and not on_loop for _, name, on_loop in calls), calls
    batches = histogram(metrics, "prettymeter_batch_size", 'model="man"')
    assert batches["sum"] == 8 and batches["count"] == len(calls) < 8, batches
    assert batches["1.0"] < batches["count"], batches  # some batch was bigger than 1


def test_config_json_is_served_when_the_page_has_none(service_url: str) -> None:
    answer = httpx.get(f"{service_url}/config.json")
    assert answer.json() == {"apiBaseUrl": "", "maxFiles": 4, "analyticsId": None}


def test_the_built_page_is_served_at_the_root_after_the_api(
    model_dirs: dict[str, Path], tmp_path: Path
) -> None:
    web = tmp_path / "dist"
    web.mkdir()
    (web / "index.html").write_text("<!doctype html><title>pretty-meter</title>")
    (web / "config.json").write_text('{"apiBaseUrl": "https://api.example", "maxFiles": 2}')
    (web / "healthz").write_text("a file that must not shadow the API")
    with LiveServer(service_settings({"man": model_dirs["man"]}, web_dir=web)) as server:
        page = httpx.get(f"{server.url}/")
        assert page.status_code == 200 and "<title>pretty-meter</title>" in page.text
        assert httpx.get(f"{server.url}/config.json").json()["apiBaseUrl"] == "https://api.example"
        assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
        assert httpx.get(f"{server.url}/nothing-here").status_code == 404


def test_cors_headers_reach_a_page_on_another_origin_even_on_errors(
    model_dirs: dict[str, Path],
) -> None:
    origin = "https://page.example"
    settings = service_settings({"man": model_dirs["man"]}, cors_origins=[origin])
    with LiveServer(settings) as server:
        preflight = httpx.options(
            f"{server.url}/v1/rate",
            headers={"origin": origin, "access-control-request-method": "POST"},
        )
        assert preflight.headers["access-control-allow-origin"] == origin
        too_big = httpx.post(
            f"{server.url}/v1/rate",
            content=b"x" * (4 * 1024 * 1024),
            headers={"origin": origin, "content-type": "multipart/form-data; boundary=x"},
        )
        assert too_big.status_code == 413
        assert too_big.headers["access-control-allow-origin"] == origin
        # a V2 binary request: the page may send where its JSON header ends ...
        binary_preflight = httpx.options(
            f"{server.url}/v2/models/man/infer",
            headers={
                "origin": origin,
                "access-control-request-method": "POST",
                "access-control-request-headers": "inference-header-content-length",
            },
        )
        assert binary_preflight.status_code == 200
        allowed = binary_preflight.headers["access-control-allow-headers"].lower()
        assert "inference-header-content-length" in allowed.split(", ")
        # ... and a V2 binary answer: the page must read where its JSON header ends
        photo = photo_bytes("man.png")
        tensor = {"name": "photo", "datatype": "BYTES", "shape": [1]}
        head = json.dumps(
            {
                "inputs": [{**tensor, "parameters": {"binary_data_size": 4 + len(photo)}}],
                "parameters": {"binary_data_output": True},
            }
        ).encode()
        binary = httpx.post(
            f"{server.url}/v2/models/man/infer",
            content=head + struct.pack("<I", len(photo)) + photo,
            headers={"origin": origin, "inference-header-content-length": str(len(head))},
            timeout=60,
        )
        assert binary.status_code == 200 and "inference-header-content-length" in binary.headers
        exposed = binary.headers["access-control-expose-headers"].lower().split(",")
        assert "inference-header-content-length" in [name.strip() for name in exposed]
        other = httpx.get(f"{server.url}/healthz", headers={"origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_one_json_log_line_per_request_with_timing_and_no_photo(
    model_dirs: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    settings = service_settings({"man": model_dirs["man"]}, log_requests=True)
    photo = b64(photo_bytes("man.png"))
    with caplog.at_level(logging.INFO, logger="prettymeter.access"), LiveServer(settings) as server:
        httpx.post(f"{server.url}/man/predict", json={"instances": [photo, photo]})
        httpx.post(f"{server.url}/v1/rate", json={"instances": ["@@"], "gender": "m"})
    lines = [r.getMessage() for r in caplog.records if r.name == "prettymeter.access"]
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["path"] == "/man/predict" and first["status"] == 200
    assert first["images"] == 2 and first["model"] == "man" and first["ms"] > 0
    assert second["errors"] == ["invalid_base64"]
    assert all(photo[:40] not in line for line in lines)


def test_a_broken_model_directory_refuses_startup_with_a_clear_message(
    model_dirs: dict[str, Path], tmp_path: Path
) -> None:
    broken = tmp_path / "man"
    shutil.copytree(model_dirs["man"], broken)
    with open(broken / "model.onnx", "ab") as handle:
        handle.write(b"tampered")
    app = create_app(service_settings({"man": broken}))

    async def start() -> None:
        async with app.router.lifespan_context(app):
            pass

    with pytest.raises(PrettyMeterError, match="does not match its card"):
        asyncio.run(start())
    assert app.state.service.ready is False


def test_the_serve_verb_refuses_a_missing_model_directory_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(CLI), "serve", "--man", str(tmp_path / "nowhere"), "--port", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1].startswith("error: model directory")


def test_a_model_for_the_wrong_gender_on_a_original_route_is_refused(
    model_dirs: dict[str, Path],
) -> None:
    app = create_app(service_settings({"man": model_dirs["woman"]}))

    async def start() -> None:
        async with app.router.lifespan_context(app):
            pass

    with pytest.raises(PrettyMeterError, match="swap --man and --woman"):
        asyncio.run(start())


def test_settings_come_from_a_file_and_the_environment_overrides_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "serve.toml"
    config.write_text(
        'engine = "openvino"\ndetect = false\n[models]\nman = "models/man"\n'
        "[limits]\nmax_instances = 4\n[batching]\nmax_batch_size = 4\n"
    )
    monkeypatch.setenv("PRETTYMETER_CONFIG", str(config))
    monkeypatch.setenv("PRETTYMETER_LIMITS__MAX_INSTANCES", "8")
    settings = load_settings()
    assert settings.engine == "openvino" and settings.detect is False
    assert settings.models == {"man": tmp_path / "models" / "man"}
    assert settings.limits.max_instances == 8  # env beats the file
    assert settings.batching.max_batch_size == 4
    assert load_settings(engine="onnxruntime").engine == "onnxruntime"  # flags beat both
    json_config = tmp_path / "serve.json"
    json_config.write_text(json.dumps({"root_path": "api/", "cors_origins": ["https://a.b"]}))
    from_json = load_settings(json_config)
    assert from_json.root_path == "/api" and from_json.cors_origins == ["https://a.b"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('engine = "tpu"', "setting engine is invalid"),
        ("[limits]\nmax_instances = 100", "queue_size"),
        ("not toml at all [", "cannot be read"),
        ('[models]\n"a/b" = "x"', "may hold only"),
    ],
)
def test_a_bad_setting_is_one_clear_line(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(text)
    with pytest.raises(PrettyMeterError, match=message):
        load_settings(config)
