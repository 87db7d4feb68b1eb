"""The settings of a test service: the one builder the service and hardening tests share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

BODY_LIMIT = 3 * 1024 * 1024
# The hardening service's body timeout: a client that stops sending is cut after this.
BODY_TIMEOUT_S = 2.0


def service_settings(
    model_dirs: dict[str, Path], *, body_timeout_s: float | None = None, **changes: object
) -> Any:
    """Settings for a test service: ONNX Runtime, 1 thread, no page, no request log, 3 MB bodies
    and 16 photos a request. `changes` replace whole fields (`limits=` replaces every limit);
    `body_timeout_s` is set inside whichever limits are used."""
    from prettymeter.serve import Settings

    base: dict[str, object] = {
        "models": model_dirs,
        "engine": "onnxruntime",
        "threads": 1,
        "web_dir": None,
        "log_requests": False,
        "limits": {"max_body_bytes": BODY_LIMIT, "max_instances": 16},
    }
    base.update(changes)
    if body_timeout_s is not None:
        base["limits"] = {**base["limits"], "body_timeout_s": body_timeout_s}  # type: ignore[dict-item]
    return Settings(**base)  # type: ignore[arg-type]
