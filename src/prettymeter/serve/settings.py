"""The service's one typed settings object: defaults, a TOML/JSON config file, PRETTYMETER_* env."""

from __future__ import annotations

import contextvars
import json
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from prettymeter.errors import PrettyMeterError

CONFIG_ENV = "PRETTYMETER_CONFIG"
ORIGINAL_ROUTES = {"man": "m", "woman": "w"}
_config_path: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "prettymeter_config_path", default=None
)


def default_web_dir() -> Path | None:
    """The built page: the package's static/ copy, else the repository's frontend/dist."""
    package_static = Path(__file__).resolve().parents[1] / "static"
    repo_dist = Path(__file__).resolve().parents[3] / "frontend" / "dist"
    for candidate in (package_static, repo_dist):
        if (candidate / "index.html").is_file():
            return candidate
    return None


class Limits(BaseModel):
    """What one request may send."""

    max_body_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024,
        description="request body limit (413 above), counted while read",
    )
    max_instances: int = Field(default=16, ge=1, description="photos per request (413 above)")
    max_pixels: int = Field(
        default=40_000_000,
        ge=1,
        description="pixels per photo; larger photos are refused as too_large",
    )
    request_timeout_s: float = Field(
        default=30.0, gt=0, description="per-request time limit (504 after)"
    )
    body_timeout_s: float = Field(
        default=60.0,
        ge=0,
        description="time a client may take to send its body (408 after; 0: no limit)",
    )


class Batching(BaseModel):
    """Dynamic micro-batching and admission control."""

    max_batch_size: int = Field(
        default=8, ge=1, description="most photos run through a model at once"
    )
    max_wait_ms: float = Field(
        default=2.0,
        ge=0,
        description="how long a batch waits for more photos after its first one, while other "
        "photos are being decoded or detected (a lone photo runs at once)",
    )
    queue_size: int = Field(
        default=64, ge=1, description="photos admitted (decoding, detecting or queued); 429 above"
    )
    parallel: int = Field(
        default=1,
        ge=1,
        description="batches of one model that may run at the same time, each on its own "
        "threads (unset threads: the usable cores // parallel); inference_workers is raised to "
        "at least this",
    )


class RateLimit(BaseModel):
    """Per-client request rate limit (token bucket per client address); off by default."""

    requests_per_minute: float = Field(default=0, ge=0, description="0 turns the limit off")
    burst: int = Field(default=20, ge=1, description="requests a client may send at once")


class Settings(BaseSettings):
    """Everything the service reads; see docs/configuration.md."""

    model_config = SettingsConfigDict(
        env_prefix="PRETTYMETER_",
        env_nested_delimiter="__",
        extra="forbid",
        protected_namespaces=(),
    )

    models: dict[str, Path] = Field(
        default_factory=dict,
        description="route name → model directory; the original routes are 'man' and 'woman'",
    )
    device: Literal["cpu", "cuda"] = "cpu"
    engine: Literal["auto", "onnxruntime", "openvino", "openvino-bf16", "openvino-int8"] = "auto"
    threads: int | None = Field(
        default=None,
        ge=1,
        description="inference threads per model batch (unset: the engine's default; with "
        "batching.parallel > 1, usable cores // parallel)",
    )
    prep_workers: int | None = Field(
        default=None,
        ge=1,
        description="threads decoding and detecting photos (default: the usable cores)",
    )
    inference_workers: int = Field(
        default=1,
        ge=1,
        description="model batches run at the same time, all models together (at least "
        "batching.parallel)",
    )
    detect: bool = Field(
        default=True,
        description="the one-person rule: find faces on every photo and refuse (v1) a photo "
        "without exactly one clearly visible person. It never changes what a model receives: "
        "that is its card's crop (a model trained on person crops always runs the detector)",
    )
    cors_origins: list[str] = Field(default_factory=list)
    csp_connect_src: list[str] = Field(
        default_factory=list,
        description="origins the served page may call besides its own (Content-Security-Policy "
        "connect-src), e.g. an API on another origin; config.json's apiBaseUrl is added itself",
    )
    root_path: str = Field(default="", description="path prefix behind a proxy, e.g. /api")
    web_dir: Path | None = Field(default_factory=default_web_dir)
    limits: Limits = Limits()
    batching: Batching = Batching()
    rate_limit: RateLimit = RateLimit()
    log_requests: bool = True
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="proxies whose X-Forwarded-For is trusted for the client address ('*': all)",
    )

    @field_validator("models")
    @classmethod
    def _route_names_are_path_safe(cls, value: dict[str, Path]) -> dict[str, Path]:
        for name in value:
            if not name or not all(c.isalnum() or c in "-_" for c in name):
                raise ValueError(
                    f"model route name {name!r} may hold only letters, digits, - and _"
                )
        return value

    @field_validator("root_path")
    @classmethod
    def _root_path_shape(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith("/"):
            value = "/" + value
        return value

    @model_validator(mode="after")
    def _queue_holds_one_full_request(self) -> Settings:
        if self.batching.queue_size < self.limits.max_instances:
            raise ValueError(
                f"batching.queue_size ({self.batching.queue_size}) is below "
                f"limits.max_instances ({self.limits.max_instances}): a full request could never "
                "be admitted; raise queue_size"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Flags beat the environment, which beats the config file, which beats the defaults.
        return init_settings, env_settings, _ConfigFileSource(settings_cls)


class _ConfigFileSource(PydanticBaseSettingsSource):
    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = _config_path.get()
        if path is None and os.environ.get(CONFIG_ENV):
            path = Path(os.environ[CONFIG_ENV])
        return read_config_file(path) if path is not None else {}


def read_config_file(path: Path) -> dict[str, Any]:
    """A TOML or JSON config file as a dict (the [serve] table of a TOML file if it has one)."""
    if not path.is_file():
        raise PrettyMeterError(f"config file {path} does not exist; check --config / {CONFIG_ENV}")
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise PrettyMeterError(
            f"config file {path} cannot be read ({exc}); write it as TOML (.toml) or JSON (.json)"
        ) from exc
    if not isinstance(data, dict):
        raise PrettyMeterError(f"config file {path} must hold a table/object of settings")
    if isinstance(data.get("serve"), dict):
        data = data["serve"]
    base = path.parent
    models = data.get("models")
    if isinstance(models, dict):  # relative model paths are relative to the config file
        data["models"] = {k: str(base / v) if isinstance(v, str) else v for k, v in models.items()}
    if isinstance(data.get("web_dir"), str):
        data["web_dir"] = str(base / data["web_dir"])
    return data


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build Settings from defaults, the config file (argument or $PRETTYMETER_CONFIG), the
    environment and `overrides` (highest); any mistake is one PrettyMeterError line."""
    token = _config_path.set(Path(config_file) if config_file is not None else None)
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise PrettyMeterError(
            f"setting {where} is invalid ({first['msg']}); fix it in the config file, the "
            f"PRETTYMETER_{where.upper().replace('.', '__')} variable or the flag"
        ) from exc
    finally:
        _config_path.reset(token)
