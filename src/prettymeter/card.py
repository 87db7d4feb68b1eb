"""The model card (card.json) beside model.onnx: schema, writing, and verified loading.

This is the contract between `export` and the service (docs/architecture.md, Model
directory). It needs no torch.
"""

from __future__ import annotations

import bisect
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from prettymeter.errors import PrettyMeterError

SCHEMA = "prettymeter.card/1"
CARD_FILE = "card.json"
ONNX_FILE = "model.onnx"
# Files that would have to be unpickled to be used: a model directory holding one is refused.
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin", ".joblib")


class Normalization(BaseModel):
    """n(r) (docs/data.md, normalize): lo, med, hi of the training rates."""

    lo: float
    med: float
    hi: float


class Preprocessing(BaseModel):
    """How a photo becomes the model input (prettymeter.imaging.preprocess)."""

    crop_size: int = Field(description="side of the stored square person crop, px")
    input_size: int = Field(description="side of the model input, px")
    mean: list[float]
    std: list[float]
    resample: str = "bilinear"
    pad_color: list[int] = [0, 0, 0]
    detector: str = Field(description="'mtcnn' (person box from the main face) or 'none'")


class EngineCheck(BaseModel):
    """One engine on the verification crops, against ONNX Runtime fp32 (scores on 0-10)."""

    model_config = ConfigDict(extra="allow")

    accepted: bool
    reason: str = Field(description="why it is accepted or refused, or why it was not run")
    crops: int = 0
    p50: float | None = Field(default=None, description="median |Δscore|, 0-10 scale")
    p99: float | None = None
    max: float | None = None
    delta_pc: float | None = Field(default=None, description="PC with the labels minus fp32's")
    rmse_growth: float | None = Field(
        default=None, description="RMSE against the labels / fp32's − 1 (0.01 = 1 % worse)"
    )
    images_per_second: float | None = Field(default=None, description="batch 8, this machine")
    files: dict[str, str] = Field(default={}, description="extra model files → sha256")


class Verification(BaseModel):
    """What `export` (or `pretty-meter verify`) measured of each engine on held-out crops."""

    model_config = ConfigDict(extra="allow")

    created: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    table: str
    crops: int = Field(description="crops scored by every engine (not used for calibration)")
    calibration_crops: int = Field(description="training crops int8 was calibrated on")
    limits: dict[str, float]
    cpu_flags: list[str] = Field(description="the CPU's bf16 / int8 / AVX-512 flags")
    threads: int
    engines: dict[str, EngineCheck]
    probe_labels: list[float] = Field(
        default=[],
        description="ONNX Runtime fp32's labels of the load-time tripwire's probe photos "
        "(prettymeter.probes.check_batch): serving checks a faster engine against them",
    )
    probe_sha256: str = Field(
        default="", description="sha256 of the probe batch those labels are of (its float32 bytes)"
    )


def figures(check: EngineCheck) -> str:
    """A check's figures in one phrase, for logs and refusals."""
    if check.p99 is None:
        return check.reason
    speed = f", {check.images_per_second:.1f} img/s" if check.images_per_second else ""
    return (
        f"on {check.crops} crops |Δscore| p99 {check.p99:.3f}, max {check.max:.3f}, "
        f"ΔPC {check.delta_pc:+.4f}, RMSE {100 * (check.rmse_growth or 0.0):+.2f} %{speed}"
    )


class ModelCard(BaseModel):
    """Everything the service needs to load and explain one exported model."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    schema_: str = Field(alias="schema", default=SCHEMA)
    name: str
    gender: Literal["m", "w"]
    backbone: str
    input_size: int
    preprocessing: Preprocessing
    normalization: Normalization
    label_quantiles: list[float] = Field(
        description="sorted training labels (0-1), subsampled to at most 1001 quantiles, "
        "for percentiles"
    )
    outputs: dict[str, str] = Field(
        description="ONNX output name → meaning; 'label' (0-1) always, 'label_std' (its "
        "predicted std) from models exported since the variance head"
    )
    final: Literal["ensemble", "refit", "single"]
    # What one photo costs: the networks the graph runs (an ensemble runs each member).
    backbones_per_photo: int = Field(default=1, ge=1, description="networks run per photo")
    cv_metrics: dict[str, Any] = {}
    dataset: dict[str, Any] = {}
    training: dict[str, Any] = {}
    demo: bool = False
    notes: str = ""
    created: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    versions: dict[str, str] = {}
    onnx_sha256: str
    verification: Verification | None = None  # None: not verified (serves ONNX Runtime fp32)

    def percentile(self, label: float) -> float:
        """Share of training labels below `label`, 0-100."""
        quantiles = self.label_quantiles
        if not quantiles:
            return 50.0
        below = bisect.bisect_left(quantiles, label)
        return round(100.0 * below / len(quantiles), 1)

    def to_rate(self, label: float) -> float:
        """Invert n(r): a 0-1 label back to the dataset's own rate scale."""
        n = self.normalization
        if label <= 0.5:
            return n.med + (label - 0.5) / 0.5 * (n.med - n.lo)
        return n.med + (label - 0.5) / 0.5 * (n.hi - n.med)


# sha256 of each ONNX file version this process has hashed: `serve` checks a model directory
# before it binds the port and loads it right after; the second look finds the same file
# (same inode, size and mtime) and does not read it again. Any change to the file rehashes it.
_HASHED: dict[tuple[str, int, int, int], str] = {}


def onnx_sha256(path: Path) -> str:
    """sha256 of a model's ONNX file, read once per file version per process."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns)
    if key not in _HASHED:
        _HASHED[key] = sha256_file(path)
    return _HASHED[key]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def quantiles(labels: list[float], count: int = 1001) -> list[float]:
    """Sorted labels, subsampled evenly to at most `count` points."""
    ordered = sorted(float(v) for v in labels)
    if len(ordered) <= count:
        return ordered
    step = (len(ordered) - 1) / (count - 1)
    return [ordered[round(i * step)] for i in range(count)]


def write_card(model_dir: Path, card: ModelCard) -> None:
    """Write card.json atomically (the ONNX file must already be in place)."""
    from prettymeter.io import atomic_write_text

    text = json.dumps(card.model_dump(by_alias=True, mode="json"), indent=2, ensure_ascii=False)
    atomic_write_text(model_dir / CARD_FILE, text + "\n")


def load_model_dir(model_dir: Path) -> tuple[ModelCard, Path]:
    """Read and verify a model directory; refuse anything that is not a card + matching ONNX."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise PrettyMeterError(
            f"model directory {model_dir} does not exist; run `pretty-meter export` or "
            "`pretty-meter demo` to make one"
        )
    pickles = sorted(p.name for p in model_dir.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES)
    if pickles:
        raise PrettyMeterError(
            f"{model_dir} holds pickled files ({', '.join(pickles)}), which are never loaded "
            "because unpickling runs code; export the model with `pretty-meter export`"
        )
    card_path = model_dir / CARD_FILE
    onnx_path = model_dir / ONNX_FILE
    if not card_path.is_file():
        raise PrettyMeterError(
            f"{model_dir} has no {CARD_FILE}; it is not an exported pretty-meter model "
            "(run `pretty-meter export`)"
        )
    try:
        raw = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PrettyMeterError(
            f"{card_path} is not valid JSON ({exc}); re-export the model"
        ) from exc
    if not isinstance(raw, dict) or raw.get("schema") != SCHEMA:
        found = raw.get("schema") if isinstance(raw, dict) else None
        raise PrettyMeterError(
            f"{card_path} has schema {found!r}, this version reads {SCHEMA!r}; re-export the "
            "model with this version of pretty-meter"
        )
    try:
        card = ModelCard.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PrettyMeterError(
            f"{card_path} is not a valid model card ({where}: {first['msg']}); re-export the model"
        ) from exc
    if not onnx_path.is_file():
        raise PrettyMeterError(f"{model_dir} has no {ONNX_FILE}; re-export the model")
    actual = onnx_sha256(onnx_path)
    if actual != card.onnx_sha256:
        raise PrettyMeterError(
            f"{onnx_path} does not match its card (sha256 {actual[:12]}… ≠ "
            f"{card.onnx_sha256[:12]}…): the file was changed or damaged; re-export the model"
        )
    return card, onnx_path
