"""Every setting of a training run (TrainConfig), and the names of the run folder's files.

TrainConfig is the one source of the settings: `pretty-meter train` makes one flag per field
(name, default and description), and config.json records it in each run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from prettymeter.errors import PrettyMeterError

CONFIG_FILE = "config.json"
DATASET_FILE = "dataset.json"
RUN_FILE = "run.json"
INIT_FILE = "init.safetensors"
METRICS_FILE = "metrics.json"
REQUIRED_COLUMNS = ("path", "group", "crop", "label", "weight")
# The fields that name the run folder rather than the recipe: the `train` verb declares their
# flags by hand (--data, --out, --resume RUN, --overwrite); config.json keeps data and out.
RUN_FOLDER_FIELDS = ("data", "out", "overwrite", "resume")


def flag(name: str) -> str:
    """The `train` flag of a setting: --image-size for image_size."""
    return "--" + name.replace("_", "-")


class TrainConfig(BaseModel):
    """Every setting of a training run; saved as config.json in the run directory."""

    # extra keys are ignored: a run folder written by an older version still loads.
    model_config = ConfigDict(extra="ignore")

    data: Path = Field(description="normalized table of one gender (normalize); not with --resume")
    out: Path = Field(description="run directory to create")
    backbone: str = Field(default="efficientnet_v2_s", description="torchvision backbone name")
    weights: str | None = Field(
        default="imagenet",
        description="'imagenet' (torchvision cache, downloaded once), 'none' (random), or a file",
    )
    image_size: int = Field(default=256, ge=1, description="model input side, px")
    epochs: int = Field(default=15, ge=1, description="epochs per fold model")
    batch_size: int = Field(default=8, ge=1, description="batch per process")
    lr: float = Field(default=1e-4, gt=0, description="AdamW learning rate")
    weight_decay: float = Field(default=0.01, ge=0, description="AdamW weight decay")
    schedule: Literal["constant", "cosine"] = Field(
        default="constant",
        description="learning rate over the epochs (cosine: down to 0 at the end)",
    )
    # Outer protocol: k grouped stratified folds, SCUT-FBP5500's own five ("official"), or its
    # 60/40 split (split="official-60-40": train on `train` rows, score the `test` rows).
    folds: int | Literal["official"] = Field(
        default=5,
        description="k of k-fold cross-validation (k independent models), or 'official': "
        "SCUT-FBP5500's own 5 folds (the table's cv_fold)",
    )
    split: Literal["official-60-40"] | None = Field(
        default=None,
        description="train on SCUT-FBP5500's train list, score its test list",
    )
    # The kept epoch is chosen on an inner part of the training rows ("inner"), or is the last
    # ("fixed"); the rows a model is scored on never take part in either.
    validation: Literal["inner", "fixed"] = Field(
        default="inner",
        description="how the kept epoch is chosen: inner = lowest loss on a part carved from "
        "the training folds, fixed = the last epoch; the scored fold is never used",
    )
    inner_share: float = Field(
        default=0.15,
        gt=0,
        lt=1,
        description="share of the training rows held out as the inner part",
    )
    loss: Literal["mse", "l1", "huber"] = Field(
        default="mse", description="per-sample loss, times the sample's weight"
    )
    huber_delta: float = Field(
        default=0.1, gt=0, description="where --loss huber turns linear (labels)"
    )
    sample_weights: bool = Field(
        default=True, description="weight each sample's loss by the table's weight (from normalize)"
    )
    final: Literal["refit", "ensemble"] = Field(
        default="refit",
        description="shipped model: refit = one network trained on all rows for the epochs "
        "the folds kept (one backbone per photo); ensemble = the k fold models (k backbones)",
    )
    seed: int = Field(default=0, description="seed of the folds, initial weights and every epoch")
    device: str = Field(default="auto", description="auto, cpu or cuda")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        default="auto",
        description="autocast dtype of the training steps (the head and every evaluation "
        "run in fp32); auto: bf16 on CUDA and on CPUs with bf16 instructions",
    )
    channels_last: bool = Field(default=True, description="channels-last memory format")
    compile: bool = Field(default=False, description="torch.compile the model")
    augment: bool = Field(default=True, description="augment the training batches")
    aug_pad: float = Field(default=0.06, ge=0, description="random crop padding, share of the side")
    aug_flip: float = Field(default=0.5, ge=0, le=1, description="horizontal flip probability")
    aug_rotate: float = Field(default=10.0, ge=0, description="max rotation, degrees")
    aug_jitter: float = Field(
        default=0.2, ge=0, description="brightness/contrast/saturation jitter"
    )
    log_every: int = Field(default=100, ge=0, description="log line every N batches (0: never)")
    threads: int | None = Field(
        default=None, ge=0, description="torch CPU threads (0: torch's default)"
    )
    overwrite: bool = Field(
        default=False, exclude=True, description="replace an existing run directory"
    )
    resume: bool = Field(default=False, exclude=True, description="continue the run in `out`")

    @field_validator("weights", mode="before")
    @classmethod
    def _none_means_random(cls, value: Any) -> Any:
        return None if value == "none" else value

    @field_validator("threads", mode="after")
    @classmethod
    def _zero_means_default(cls, value: int | None) -> int | None:
        return value or None

    @model_validator(mode="wrap")
    @classmethod
    def _one_line_errors(cls, data: Any, handler: Any) -> Any:
        """A bad setting is one line naming its flag (and what it accepts), not a table."""
        try:
            return handler(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            name = str(first["loc"][0]) if first["loc"] else ""
            said = "; or ".join(e["msg"] for e in exc.errors() if e["loc"][:1] == (name,))
            given = data.get(name) if isinstance(data, dict) else None
            raise PrettyMeterError(
                f"{flag(name)} {given!r} is not valid: {said} (see `pretty-meter train --help`)"
            ) from exc
