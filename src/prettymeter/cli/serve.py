"""CLI verb: `pretty-meter serve`, the inference service (and the web page) on uvicorn."""

from __future__ import annotations

import logging
import logging.config
import sys
from pathlib import Path
from typing import Any

import typer

from prettymeter.cli.app import app


class OneLineStartupError(logging.Filter):
    """A model that fails to load while the app starts reaches uvicorn's log as a whole
    traceback; keep the one line that says what is wrong and what to do."""

    MARKER = "PrettyMeterError: "

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.MARKER in message:
            record.msg = "error: " + message.rsplit(self.MARKER, 1)[1].strip().splitlines()[0]
            record.args = ()
        return True


def configure_logging(level: str = "INFO") -> dict[str, Any]:
    """uvicorn's log config with our request lines as bare JSON on stdout."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"one_line_errors": {"()": OneLineStartupError}},
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
            "json": {"format": "%(message)s"},
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "plain",
                "stream": "ext://sys.stderr",
                "filters": ["one_line_errors"],
            },
            "access": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stdout",
            },
        },
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level},
            "uvicorn.error": {"level": level},
            "prettymeter": {"handlers": ["stderr"], "level": level, "propagate": False},
            "prettymeter.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        },
    }


@app.command()
def serve(
    man: Path | None = typer.Option(None, "--man", help="model directory for men (route 'man')"),
    woman: Path | None = typer.Option(None, "--woman", help="model directory for women"),
    host: str = typer.Option("127.0.0.1", help="address to listen on (0.0.0.0 for all)"),
    port: int = typer.Option(8000, help="port to listen on"),
    config: Path | None = typer.Option(
        None, "--config", help="TOML or JSON settings file (default: $PRETTYMETER_CONFIG)"
    ),
    web_dir: Path | None = typer.Option(None, "--web-dir", help="the built page to serve at /"),
    engine: str | None = typer.Option(
        None, help="auto, onnxruntime, openvino, openvino-bf16 or -int8 (default auto)"
    ),
    device: str | None = typer.Option(None, help="cpu or cuda"),
    threads: int | None = typer.Option(None, help="inference threads per model"),
    detect: bool | None = typer.Option(
        None, "--detect/--no-detect", help="find the person on each photo (default on)"
    ),
    root_path: str | None = typer.Option(None, help="path prefix behind a proxy, e.g. /api"),
    log_level: str = typer.Option("info", help="debug, info, warning or error"),
) -> None:
    """Serve the models over HTTP: the original API, /v1, /docs, /metrics and the web page at /."""
    import uvicorn

    from prettymeter.console import summary
    from prettymeter.memory import tune_malloc
    from prettymeter.serve import create_app, load_settings
    from prettymeter.serve.state import ServiceState

    tune_malloc()  # first: before any thread allocates
    overrides: dict[str, Any] = {
        "web_dir": web_dir,
        "engine": engine,
        "device": device,
        "threads": threads,
        "detect": detect,
        "root_path": root_path,
    }
    settings = load_settings(config, **overrides)
    models = dict(settings.models)
    if man is not None:
        models["man"] = man
    if woman is not None:
        models["woman"] = woman
    settings = settings.model_copy(update={"models": models})
    cards = ServiceState(settings).check_model_dirs()  # a broken model dir stops us here, clearly
    summary(
        "pretty-meter serve",
        {
            "url": f"http://{host}:{port}{settings.root_path}/",
            "models": ", ".join(f"{r}={settings.models[r]} ({c.name})" for r, c in cards.items()),
            "engine / device": f"{settings.engine} / {settings.device}",
            "person detection": "on" if settings.detect else "off (whole image)",
            "web page": str(settings.web_dir) if settings.web_dir else "not served (no build)",
            "API docs": f"http://{host}:{port}{settings.root_path}/docs",
            "stop": "Ctrl+C (finishes the requests in flight)",
        },
    )
    level = log_level.upper()
    logging.config.dictConfig(configure_logging(level))
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_config=configure_logging(level),
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=10,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )
    sys.exit(0)
