"""Export a training run to a servable model directory: one ONNX file + card.json."""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Literal, cast

import numpy as np

from prettymeter import card as card_module
from prettymeter import imaging
from prettymeter.console import summary
from prettymeter.contract import INPUT_NAME, LABEL_MAP_OUTPUT, LABEL_OUTPUT, STD_OUTPUT
from prettymeter.errors import PrettyMeterError

if TYPE_CHECKING:
    import torch
    from torch import nn

    from prettymeter.training.model import RegressionHead

OPSET = 18
PARITY_TOLERANCE = 1e-4
MAP_PARITY_RELATIVE = 1e-3


def _ensemble_module(
    members: list[nn.Module], std_scales: list[float], backbone: str = ""
) -> nn.Module:
    """One graph, outputs (label, label_std[, label_map]) on the 0-1 scale. One member: its
    label (clipped to 0-1) and its predicted std times its scale (fitted where no scored row
    was). Several: the mean of their labels, and the std of the mixture (law of total
    variance): the root of their mean predicted variance plus the variance of their labels
    around that mean. Where the backbone pools its last feature map before the head
    (model.POOLED_TRUNKS), `label_map` [N, H, W] is the members' mean per-cell label: its mean
    over the cells is the label before clipping."""
    import torch
    from torch import nn

    from prettymeter.training.model import label_and_std, label_map, pooled_trunk

    parts = [pooled_trunk(m, backbone) for m in members]
    with_map = all(p is not None for p in parts)

    class Ensemble(nn.Module):
        def __init__(self, models: list[nn.Module]) -> None:
            super().__init__()
            self.models = nn.ModuleList(models)
            self.trunks = nn.ModuleList([p[0] for p in parts if p is not None])
            self.heads = nn.ModuleList([p[1] for p in parts if p is not None])
            self.scales = nn.Buffer(torch.tensor(std_scales, dtype=torch.float32))
            self.with_map = with_map

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
            if with_map:
                features = [trunk(x) for trunk in self.trunks]
                outputs = [h(f.mean((2, 3))) for h, f in zip(self.heads, features, strict=True)]
                heads = [cast("RegressionHead", h) for h in self.heads]
                maps = [label_map(f, h) for h, f in zip(heads, features, strict=True)]
                return (*self._label_and_std(outputs), torch.stack(maps, dim=1).mean(dim=1))
            return self._label_and_std([m(x) for m in self.models])

        def _label_and_std(self, outputs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
            pairs = [label_and_std(o) for o in outputs]
            labels = torch.stack([label for label, _ in pairs], dim=1)
            stds = torch.stack([std for _, std in pairs], dim=1) * self.scales
            if len(outputs) == 1:
                return labels[:, 0].clamp(0.0, 1.0), stds[:, 0]
            label = labels.mean(dim=1)
            spread = labels.var(dim=1, unbiased=False)
            return label.clamp(0.0, 1.0), (stds.square().mean(dim=1) + spread).sqrt()

    return Ensemble(members).eval()


def _to_onnx(module: nn.Module, path: Path, size: int, outputs: list[str]) -> None:
    """The graph with a dynamic batch axis. The TorchScript exporter first: on these
    feed-forward graphs it writes the same numbers as the torch.export-based one in a tenth of
    the time (docs/decisions.md); torch is pinned, so its deprecation does not reach us."""
    import torch

    example = torch.randn(2, 3, size, size)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # "no longer the default"
            torch.onnx.export(
                module,
                (example,),
                str(path),
                dynamo=False,
                input_names=[INPUT_NAME],
                output_names=outputs,
                opset_version=OPSET,
                dynamic_axes={INPUT_NAME: {0: "batch"}, **{o: {0: "batch"} for o in outputs}},
            )
    except Exception:
        # torch.export is the fallback for a graph the tracer cannot export.
        program = torch.onnx.export(
            module,
            (example,),
            dynamo=True,
            input_names=[INPUT_NAME],
            output_names=outputs,
            opset_version=OPSET,
            dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=4096)},),
            external_data=False,
        )
        if program is None:  # pragma: no cover - dynamo export always returns a program
            raise RuntimeError("no ONNX program") from None
        program.save(str(path), external_data=False)


def parity(module: nn.Module, onnx_path: Path, size: int, batch: np.ndarray | None = None) -> float:
    """Largest |ONNX Runtime − torch| over every output on the same inputs, against
    PARITY_TOLERANCE: the label map's difference is scaled to it by MAP_PARITY_RELATIVE × its
    largest |value| (per-cell labels are not held to 0-1, and no clipping hides their float
    rounding, which the mean over the cells then averages out of the label)."""
    import onnxruntime as ort
    import torch

    if batch is None:
        batch = np.random.default_rng(0).standard_normal((3, 3, size, size)).astype(np.float32)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    got = session.run(None, {INPUT_NAME: batch})
    with torch.no_grad():
        want = module(torch.from_numpy(batch))
    wants = [w.numpy() for w in (want if isinstance(want, tuple) else [want])]
    diffs = []
    for name, g, w in zip(names, got, wants, strict=True):
        diff = float(np.abs(g - w).max())
        if name == LABEL_MAP_OUTPUT:
            allowed = MAP_PARITY_RELATIVE * max(1.0, float(np.abs(w).max()))
            diff *= PARITY_TOLERANCE / allowed
        diffs.append(diff)
    return max(diffs)


def _versions() -> dict[str, str]:
    from importlib import metadata

    versions = {}
    for package in ("pretty-meter", "torch", "torchvision", "onnx", "onnxruntime"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions


def export(
    run: Path,
    out: Path,
    *,
    name: str | None = None,
    demo: bool = False,
    notes: str = "",
    overwrite: bool = False,
    verify: bool = True,
) -> Path:
    """Write out/model.onnx and out/card.json from a finished run; returns `out`. With
    `verify`, the faster engines are then judged on the run's held-out crops (into the card)."""
    from prettymeter.training.checkpoint import load_member
    from prettymeter.training.records import RunFolder

    run, out = Path(run), Path(out)
    folder = RunFolder.read(run)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if not overwrite:
            raise PrettyMeterError(
                f"{out} already exists; choose another --out or pass --overwrite to replace it"
            )
        if out.is_dir() and not (out / card_module.CARD_FILE).is_file():
            raise PrettyMeterError(f"{out} is not a model directory; refusing to replace it")
    config, dataset = folder.config.config, folder.dataset
    gender = dataset.gender
    if gender is None:
        raise PrettyMeterError(
            f"the training table {dataset.table} records no gender (m or w); make it "
            "with `pretty-meter normalize --gender m|w`"
        )
    if dataset.rate_bounds is None:
        raise PrettyMeterError(
            "the training table records no normalization lo/med/hi; rerun `pretty-meter "
            "normalize` and train again"
        )
    lo, med, hi = dataset.rate_bounds

    members = [load_member(run, f, config.backbone) for f in folder.run.members]
    std_scales = folder.run.std_scales or [1.0] * len(members)
    module = _ensemble_module(members, std_scales, config.backbone)
    outputs = [LABEL_OUTPUT, STD_OUTPUT] + ([LABEL_MAP_OUTPUT] if module.with_map else [])
    size = config.image_size

    staging = out.with_name(f".{out.name}.partial")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    try:
        onnx_path = staging / card_module.ONNX_FILE
        _to_onnx(module, onnx_path, size, outputs)
        diff = parity(module, onnx_path, size)
        if not diff <= PARITY_TOLERANCE:
            raise PrettyMeterError(
                f"the ONNX graph differs from the torch model by {diff:.2e} (> "
                f"{PARITY_TOLERANCE}); report this with the run directory"
            )
        cv = folder.metrics.model_dump(include={"mean_std", "oof", "folds"})
        final: Literal["ensemble", "refit", "single"] = (
            "refit" if folder.run.final == "refit" else "ensemble" if len(members) > 1 else "single"
        )
        default_name = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{gender}-{config.backbone}-{run.name}")
        model_card = card_module.ModelCard(
            name=name or default_name,
            gender=gender,
            backbone=config.backbone,
            input_size=size,
            preprocessing=card_module.Preprocessing(
                crop_size=dataset.crop_size,
                input_size=size,
                mean=[float(v) for v in imaging.MEAN],
                std=[float(v) for v in imaging.STD],
                resample="bilinear",
                pad_color=list(imaging.PAD_COLOR),
                detector=dataset.detector,
            ),
            normalization=card_module.Normalization(lo=lo, med=med, hi=hi),
            label_quantiles=card_module.quantiles(dataset.labels),
            outputs={
                LABEL_OUTPUT: "predicted label, 0-1 (score = 10 × label)",
                STD_OUTPUT: "predicted std of the label's error, 0-1 scale, calibrated on rows "
                "no model trained on" + (" (with the members' spread)" if len(members) > 1 else ""),
                **(
                    {
                        LABEL_MAP_OUTPUT: "the label at each cell of the last feature map, before "
                        "clipping (its mean is the label); explanations read it"
                    }
                    if module.with_map
                    else {}
                ),
            },
            final=final,
            backbones_per_photo=len(members),
            cv_metrics={
                "mean_std": cv["mean_std"],
                "out_of_fold": cv["oof"],
                "folds": cv["folds"],
                "uncertainty": folder.metrics.uncertainty,
            },
            dataset={
                "table": dataset.table,
                "rows": dataset.rows,
                "groups": dataset.groups,
                "label_mean": dataset.label_mean,
                "label_std": dataset.label_std,
                "normalize": {k: v for k, v in dataset.normalization.items() if k != "labels"},
            },
            training={
                **config.model_dump(mode="json", exclude_unset=True),
                "init": folder.config.init,
                "members": folder.run.members,
                "std_scales": std_scales,
                "best_epochs": folder.run.best_epochs,
                "refit_epochs": folder.run.refit_epochs,
                "onnx_parity_max_abs_diff": diff,
                "opset": OPSET,
            },
            demo=demo,
            notes=notes,
            versions=_versions(),
            onnx_sha256=card_module.sha256_file(onnx_path),
        )
        card_module.write_card(staging, model_card)
        card_module.load_model_dir(staging)  # what the service will do: must pass here first
        if verify:  # in the staging folder: a kill mid-verification leaves no unverified model
            from prettymeter.tables import FOLDS_FILE
            from prettymeter.verification import verify_after_export

            verify_after_export(staging, Path(dataset.table), run / FOLDS_FILE, shown_as=out)
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            if old.exists():
                shutil.rmtree(old)
            out.rename(old)
            staging.rename(out)
            shutil.rmtree(old)
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            staging.rename(out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    pc = folder.metrics.mean_std["pc"]
    summary(
        f"export: {out}",
        {
            "model": f"{model_card.name} ({config.backbone}, {final}, {len(members)} member(s))",
            "cost": f"{len(members)} backbone(s) per photo",
            "input": f"[N, 3, {size}, {size}] float32 → {', '.join(outputs)}",
            "ONNX vs torch": f"max |diff| {diff:.1e}",
            "CV PC": f"{pc.mean:.3f} ± {pc.std:.3f}",
            "demo": str(demo),
            "files": ", ".join(sorted(p.name for p in out.iterdir() if p.is_file())),
        },
    )
    return out
