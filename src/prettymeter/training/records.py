"""The run folder's JSON files as typed records: config, dataset, run, metrics, member state.

`train` writes them (a member's state.json after every epoch), `export` (and `--resume`) read
them back by field. Fields added by later versions have defaults, so a run folder written by an
earlier version still loads; one that cannot is refused in one line.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from prettymeter.errors import PrettyMeterError
from prettymeter.io import atomic_write_text
from prettymeter.training.config import (
    CONFIG_FILE,
    DATASET_FILE,
    METRICS_FILE,
    RUN_FILE,
    TrainConfig,
)


class Record(BaseModel):
    """One JSON file of a run folder; `FILE` is its name."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())
    FILE: ClassVar[str]


class ConfigRecord(Record):
    """config.json: the settings the run was started with (checkpoints carry their config)."""

    FILE = CONFIG_FILE
    config: TrainConfig
    init: str = Field(description="where the shared initial weights came from")
    versions: dict[str, str] = {}


class DatasetRecord(Record):
    """dataset.json: the training table as the run saw it."""

    FILE = DATASET_FILE
    table: str
    rows: int
    groups: int
    crop_size: int
    detector: str = "unknown"
    normalization: dict[str, Any] = Field(
        default={}, description="the table's metadata: normalize's n(r) and gender, detect's"
    )
    label_mean: float
    label_std: float
    labels: list[float] = Field(default=[], description="every label, sorted (percentiles)")
    rate_scale: dict[str, Any] | None = None  # the dataset's own scale (older runs: none)

    @property
    def gender(self) -> Literal["m", "w"] | None:
        """The gender the table was normalized for (normalize --gender); None if unrecorded."""
        gender = self.normalization.get("gender")
        return "m" if gender == "m" else "w" if gender == "w" else None

    @property
    def rate_bounds(self) -> tuple[float, float, float] | None:
        """normalize's n(r): lo, med, hi of the training rates (None: the table has none)."""
        if not all(key in self.normalization for key in ("lo", "med", "hi")):
            return None
        return tuple(float(self.normalization[key]) for key in ("lo", "med", "hi"))  # type: ignore[return-value]


class RunRecord(Record):
    """run.json, written last: the run is done, and which weights make the shipped model."""

    FILE = RUN_FILE
    done: bool
    final: Literal["ensemble", "refit"]
    members: list[str] = Field(description="weight files of the shipped model, run-relative")
    std_scales: list[float] = Field(
        default=[], description="each member's factor on its predicted std (empty: all 1)"
    )
    # None: a run from before the validation policy was recorded
    validation: Literal["inner", "fixed"] | None = None
    best_epochs: list[int]
    refit_epochs: int | None = None
    init: str | None = None
    seconds: float = 0.0


class Stat(BaseModel):
    mean: float
    std: float


class FoldMetrics(BaseModel):
    """One fold model on the rows it scored (regression_metrics, plus which fold and epoch)."""

    model_config = ConfigDict(extra="allow")
    fold: int
    name: str | None = None
    best_epoch: int
    pc: float
    mae: float
    rmse: float


class RangeError(BaseModel):
    lo: float
    hi: float
    count: int
    mae: float | None
    bias: float | None


class MetricsRecord(Record):
    """metrics.json: the out-of-fold (or test) metrics, per fold and pooled."""

    FILE = METRICS_FILE
    protocol: dict[str, Any] | None = None  # name, folds, split, scored rows (older: none)
    validation: dict[str, Any] | None = None  # how each kept epoch was chosen (older: none)
    folds: list[FoldMetrics]
    mean_std: dict[str, Stat]
    oof: dict[str, float]
    # how often the scored rows' errors fall within 1 and 2 predicted stds (older: none)
    uncertainty: dict[str, Any] | None = None
    error_by_range: list[RangeError] = []
    rows: int


R = TypeVar("R", bound=Record)


def read_record(run: Path, kind: type[R]) -> R:
    """One record of a run folder, or one line saying what is wrong with the folder."""
    path = Path(run) / kind.FILE
    if not path.is_file():
        if kind is ConfigRecord:
            raise PrettyMeterError(
                f"{run} is not a training run (no {kind.FILE}); give the --out of "
                "`pretty-meter train`"
            )
        raise PrettyMeterError(
            f"{run} is not a finished training run (no {kind.FILE}); finish it with "
            f"`pretty-meter train --resume {run}`"
        )
    try:
        return kind.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValidationError) as exc:
        where = ""
        if isinstance(exc, ValidationError):
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) + ": " + first["msg"]
        raise PrettyMeterError(
            f"{path} cannot be read ({where or exc}); it is damaged or from an incompatible "
            "version of pretty-meter: train the run again"
        ) from exc
    except PrettyMeterError as exc:  # a setting in config.json that this version refuses
        raise PrettyMeterError(f"{path}: {exc}; train the run again") from exc


def training_versions() -> dict[str, str]:
    """What config.json records of the software that trained the run."""
    import torch

    versions = {"torch": torch.__version__, "python": sys.version.split()[0]}
    try:
        import torchvision

        versions["torchvision"] = torchvision.__version__
    except ImportError:  # pragma: no cover
        pass
    return versions


def write_record(run: Path, record: Record) -> None:
    """Write one record into the run folder, atomically."""
    atomic_write_text(Path(run) / record.FILE, to_json(record.model_dump()))


def to_json(data: Any) -> str:
    """JSON as the run folder keeps it (indent 1; numpy numbers and paths as plain values)."""
    return json.dumps(data, indent=1, default=json_default) + "\n"


def json_default(value: Any) -> Any:
    if isinstance(value, np.integer | np.floating):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value)}")


class MemberState(BaseModel):
    """A member folder's state.json: where its epochs stand, the kept epoch, the outer rows'
    predictions. Written after every epoch; a killed run resumes from it."""

    model_config = ConfigDict(extra="allow")
    FILE: ClassVar[str] = "state.json"

    member: str
    epochs: int
    validation: str
    epochs_done: int = 0
    best_epoch: int | None = None
    best_val_loss: float | None = None
    best_file: str | None = None
    last_file: str | None = None
    optim_file: str | None = None
    optimizer: dict[str, Any] | None = None  # the optimizer's param groups (its slots: a file)
    rng: dict[str, Any] | None = None
    history: list[dict[str, Any]] = Field(default_factory=list)
    train_rows: int = 0
    inner_rows: int = 0
    outer_rows: int = 0
    rank_weights_sha256: list[str] | None = None
    std_scale: float = 1.0  # states written before the variance head have none: no rescale
    outer_pred: list[float] | None = None
    outer_std: list[float] | None = None
    done: bool = False

    @classmethod
    def read(cls, folder: Path) -> MemberState:
        path = folder / cls.FILE
        try:
            return cls.model_validate_json(path.read_text(encoding="utf-8"))
        except (ValidationError, ValueError) as exc:
            first = str(exc).splitlines()[0]
            raise PrettyMeterError(
                f"{path} is not a member state this version reads ({first}); "
                "train into a new run folder instead of --resume"
            ) from None

    def write(self, folder: Path) -> None:
        atomic_write_text(folder / self.FILE, to_json(self.model_dump()))


@dataclass
class RunFolder:
    """A finished run's four records, as export reads them."""

    config: ConfigRecord
    dataset: DatasetRecord
    run: RunRecord
    metrics: MetricsRecord

    @classmethod
    def read(cls, run: Path) -> RunFolder:
        return cls(
            read_record(run, ConfigRecord),
            read_record(run, DatasetRecord),
            read_record(run, RunRecord),
            read_record(run, MetricsRecord),
        )
