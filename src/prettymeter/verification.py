"""Verify a model's faster engines on real crops and write the figures into its card.

Whether bf16 or int8 may serve a model is a property of the trained model on real photos, so it
is measured where both are at hand: `export` (held-out rows of the run's table) and `pretty-meter
verify` (any labelled table with stored crops). Each candidate this machine can build runs on
the same crops as ONNX Runtime fp32, prepared exactly as serving prepares them (the card's
InputSpec), and is accepted only within every limit of `LIMITS`; the card then records, per
engine, the score moves, ΔPC, the RMSE growth, the crops, the CPU flags, the verdict and the
img/s at batch 8. `prettymeter.scoring.choose_engine` serves from these figures alone.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from prettymeter import imaging
from prettymeter.card import EngineCheck, ModelCard, Verification, load_model_dir, write_card
from prettymeter.card import sha256_file as file_sha256
from prettymeter.contract import INPUT_NAME
from prettymeter.errors import PrettyMeterError
from prettymeter.hardware import cpu_flags, usable_cores
from prettymeter.probes import batch_sha256, check_batch
from prettymeter.scoring import IR_FILES, Scorer, cannot_run
from prettymeter.tables import read_folds

# A candidate serves only within all of these (scores on 0-10, against ONNX Runtime fp32).
LIMITS = {"p99": 0.10, "max": 0.25, "delta_pc": -0.002, "rmse_growth": 0.01}
EVALUATION_CROPS = 200  # held-out crops every engine scores (all of them in a smaller table)
CALIBRATION_CROPS = 300  # at most this many training crops calibrate int8
MIN_CALIBRATION = 32  # kept out of the evaluation crops in a small table
SPEED_BATCH = 8
SPEED_SECONDS = 0.5  # per engine: long enough for a steady img/s, short for a tiny model
FLAGS = ("avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8")
CANDIDATES = ("openvino-bf16", "openvino-int8")
# Operations int8 leaves in float: the regression head (pooling, the linear layers and what
# turns their outputs into label and std: quantizing them rounds the score itself) and the
# squeeze-and-excitation gates (ReduceMean, Multiply), which int8 makes slower, not faster.
# OpenVINO's names: ONNX's Gemm arrives as MatMul, Clip as Clamp.
FLOAT_OPS = ("ReduceMean", "Reshape", "MatMul", "Concat", "Gather", "Unsqueeze", "Clamp",
             "Multiply", "Exp")  # fmt: skip


def read_crops(table: Path) -> tuple[list[str], list[bytes], np.ndarray]:
    """Paths, stored crops and labels of the table's usable rows (a label and a crop), in the
    order training numbers them (folds.csv)."""
    from prettymeter.tables import open_table

    parquet = open_table(Path(table), ("path", "crop", "label"))
    data = parquet.read(columns=["path", "crop", "label"])
    labels = np.asarray(data.column("label").to_numpy(zero_copy_only=False), dtype=np.float64)
    crops = data.column("crop").to_pylist()
    keep = np.flatnonzero(~np.isnan(labels) & np.array([c is not None for c in crops]))
    paths = data.column("path").to_pylist()
    return [str(paths[i]) for i in keep], [crops[i] for i in keep], labels[keep]


def split_rows(
    total: int, eligible: np.ndarray, rows: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(evaluation rows, calibration rows): disjoint; evaluation from `eligible`, leaving a
    small table MIN_CALIBRATION rows (or a quarter) to calibrate on."""
    rng = np.random.default_rng(seed)
    keep_back = min(MIN_CALIBRATION, total // 4)
    count = max(1, min(rows, len(eligible), total - keep_back))
    evaluation = np.sort(rng.permutation(eligible)[:count])
    rest = np.setdiff1d(np.arange(total), evaluation)
    calibration = np.sort(rng.permutation(rest)[:CALIBRATION_CROPS])
    return evaluation, calibration


def judge(got: np.ndarray, reference: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """The figures of one engine against the reference on the same crops."""
    moved = np.abs(10.0 * got - 10.0 * reference)

    def pc(pred: np.ndarray) -> float:
        if len(pred) < 2:
            return 0.0
        with np.errstate(invalid="ignore", divide="ignore"):  # constant scores: no PC
            value = np.corrcoef(pred.astype(np.float64), labels)[0, 1]
        return float(value) if np.isfinite(value) else 0.0

    def rmse(pred: np.ndarray) -> float:
        return float(np.sqrt(np.mean((pred - labels) ** 2)))

    base = rmse(reference)
    growth = rmse(got) / base - 1.0 if base > 0 else (0.0 if rmse(got) == 0 else 1.0)
    return {
        "p50": float(np.percentile(moved, 50)),
        "p99": float(np.percentile(moved, 99)),
        "max": float(moved.max()),
        "delta_pc": pc(got) - pc(reference),
        "rmse_growth": float(growth),
    }


def verdict(figures: dict[str, float]) -> tuple[bool, str]:
    over = [
        f"{key} {figures[key]:.4f} > {LIMITS[key]}"
        for key in ("p99", "max", "rmse_growth")
        if figures[key] > LIMITS[key]
    ]
    if figures["delta_pc"] < LIMITS["delta_pc"]:
        over.append(f"delta_pc {figures['delta_pc']:.4f} < {LIMITS['delta_pc']}")
    if over:
        return False, "refused: " + "; ".join(over)
    return True, "accepted: within every limit"


def images_per_second(scorer: Scorer, crops: np.ndarray) -> float:
    """Crops scored per second at batch SPEED_BATCH, after one warm-up batch."""
    batch = np.resize(crops, (SPEED_BATCH, *crops.shape[1:])).astype(np.float32)
    scorer.run(batch)
    done, started = 0, time.perf_counter()
    while done < 3 * SPEED_BATCH or time.perf_counter() - started < SPEED_SECONDS:
        scorer.run(batch)
        done += SPEED_BATCH
    return done / (time.perf_counter() - started)


def quantize_int8(model_dir: Path, onnx_path: Path, calibration: np.ndarray) -> dict[str, str]:
    """NNCF post-training quantization calibrated on `calibration` (the recipe: FLOAT_OPS stay
    float, activation ranges from the calibration's whole min/max); writes the OpenVINO IR
    beside the ONNX file (OpenVINO reads it: serving needs no NNCF); returns the files' sha256."""
    try:
        import nncf
        import openvino as ov
        from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters
        from nncf.quantization.range_estimator import RangeEstimatorParametersSet
    except ImportError as exc:
        raise PrettyMeterError("int8 needs nncf and openvino; install pretty-meter[train]") from exc
    nncf.set_log_level(logging.ERROR)
    model = ov.Core().read_model(str(onnx_path))
    size = calibration.shape[-1]
    model.reshape({INPUT_NAME: ov.PartialShape([-1, 3, size, size])})
    # Batches of 8: the statistics see every crop at a fraction of the calls one at a time.
    batches = [calibration[i : i + SPEED_BATCH] for i in range(0, len(calibration), SPEED_BATCH)]
    quantized = nncf.quantize(
        model,
        nncf.Dataset(batches),
        subset_size=len(batches),
        ignored_scope=nncf.IgnoredScope(types=list(FLOAT_OPS), validate=False),
        # NNCF's default range is the mean of each batch's extremes, so a photo beyond the
        # calibration's typical range saturates: the best-looking faces all got one score.
        advanced_parameters=AdvancedQuantizationParameters(
            activations_range_estimator_params=RangeEstimatorParametersSet.MINMAX
        ),
    )
    return save_ir(quantized, model_dir, "int8", compress_to_fp16=False)


def save_ir(model: Any, model_dir: Path, precision: str, compress_to_fp16: bool) -> dict[str, str]:
    """Write an OpenVINO model as `precision`'s IR files in the model directory (whole files
    only: each is written aside, then moved in); returns the files' sha256."""
    import openvino as ov

    xml, weights = IR_FILES[precision]
    with tempfile.TemporaryDirectory(prefix=f".{precision}-", dir=model_dir) as tmp:
        ov.save_model(model, str(Path(tmp) / "model.xml"), compress_to_fp16=compress_to_fp16)
        os.replace(Path(tmp) / "model.bin", model_dir / weights)
        os.replace(Path(tmp) / "model.xml", model_dir / xml)
    return {name: file_sha256(model_dir / name) for name in (xml, weights)}


def bf16_ir(model_dir: Path, onnx_path: Path) -> dict[str, str]:
    """The bf16 engine's IR: the ONNX graph with its weights stored in fp16 (half the memory,
    and mapped from the file; the bf16 engine rounds them to bf16 either way)."""
    try:
        import openvino as ov
    except ImportError as exc:
        raise PrettyMeterError("bf16 needs openvino; install pretty-meter[serve]") from exc
    return save_ir(ov.Core().read_model(str(onnx_path)), model_dir, "bf16", compress_to_fp16=True)


def _prepare(card: ModelCard, crops: list[bytes]) -> np.ndarray:
    from prettymeter.inference import InputSpec

    spec = InputSpec.from_card(card)
    return np.stack([spec.array_from_crop(imaging.decode_crop(c)) for c in crops])


def _build(
    engine: str, model_dir: Path, onnx_path: Path, card: ModelCard, calibration: list[bytes]
) -> dict[str, str]:
    """Make what `engine` needs (int8: the quantized files, returned with their sha256), or
    raise one line saying why it is not available here."""
    files: dict[str, str] = {}
    if engine == "openvino-int8":
        if not calibration:
            raise PrettyMeterError("no training crops are left to calibrate on")
        files = quantize_int8(model_dir, onnx_path, _prepare(card, calibration))
    why = cannot_run(engine, model_dir)
    if why is not None:
        raise PrettyMeterError(why)
    if engine == "openvino-bf16":
        files = bf16_ir(model_dir, onnx_path)
    return files


def _cuda_check() -> EngineCheck:
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        reason = "not available: ONNX Runtime has no CUDA provider on this machine"
    else:
        reason = "not available: fp16 on CUDA is not built by this version"
    return EngineCheck(accepted=False, reason=reason)


def verify_model_dir(
    model_dir: Path,
    table: Path,
    *,
    eligible: np.ndarray | None = None,
    rows: int = EVALUATION_CROPS,
    threads: int | None = None,
) -> Verification:
    """Build and judge every candidate engine on `table`'s crops (evaluation rows drawn from
    `eligible`, default every row) and rewrite the card with the figures."""
    model_dir = Path(model_dir)
    card, onnx_path = load_model_dir(model_dir)
    paths, crops, labels = read_crops(table)
    if len(paths) < 2:
        raise PrettyMeterError(f"{table} has fewer than 2 rows with a label and a crop")
    eligible = np.arange(len(paths)) if eligible is None else eligible
    evaluation, calibration = split_rows(len(paths), eligible, rows)
    x = _prepare(card, [crops[i] for i in evaluation])
    y = labels[evaluation]
    if card.verification is not None:  # an earlier verdict and its int8 files go first
        card = card.model_copy(update={"verification": None})
        write_card(model_dir, card)
    for stale in (name for files in IR_FILES.values() for name in files):
        (model_dir / stale).unlink(missing_ok=True)

    reference_scorer = Scorer(model_dir, "onnxruntime", threads)
    reference = reference_scorer.run_chunked(x)
    probes = check_batch(card.input_size, card.preprocessing.crop_size)  # the tripwire's
    probe_labels = [float(label) for label in reference_scorer.run_chunked(probes)]
    engines = {
        "onnxruntime": EngineCheck.model_validate(
            {
                "accepted": True,
                "reason": "the reference: ONNX Runtime fp32",
                "crops": len(x),
                **judge(reference, reference, y),
                "images_per_second": images_per_second(reference_scorer, x),
            }
        )
    }
    del reference_scorer
    for engine in CANDIDATES:
        try:
            files = _build(engine, model_dir, onnx_path, card, [crops[i] for i in calibration])
        except PrettyMeterError as exc:
            engines[engine] = EngineCheck(accepted=False, reason=f"not available: {exc}")
            continue
        scorer = Scorer(model_dir, engine, threads, verify=False, gate=False)
        figures = judge(scorer.run_chunked(x), reference, y)
        accepted, reason = verdict(figures)
        speed = images_per_second(scorer, x)
        del scorer
        if not accepted:
            for name in files:
                (model_dir / name).unlink(missing_ok=True)
            files = {}
        engines[engine] = EngineCheck.model_validate(
            {
                "accepted": accepted,
                "reason": reason,
                "crops": len(x),
                **figures,
                "images_per_second": speed,
                "files": files,
            }
        )
    engines["cuda-fp16"] = _cuda_check()
    verification = Verification(
        table=str(table),
        crops=len(x),
        calibration_crops=len(calibration) if "openvino-int8" in engines else 0,
        limits=LIMITS,
        cpu_flags=sorted(set(FLAGS) & cpu_flags()),
        threads=threads or usable_cores(),
        engines=engines,
        probe_labels=probe_labels,
        probe_sha256=batch_sha256(probes),
    )
    write_card(model_dir, card.model_copy(update={"verification": verification}))
    load_model_dir(model_dir)  # the card still matches its ONNX file
    return verification


def verify_after_export(
    model_dir: Path, table: Path, folds_file: Path, shown_as: Path | None = None
) -> Verification | None:
    """`export`'s last step: verify on the run's out-of-fold rows; a run whose table is gone
    leaves the card unverified with one line saying how to verify it later. `shown_as`: the
    folder the user will know it by (export verifies its staging folder)."""
    from prettymeter.console import summary

    shown = shown_as or model_dir
    hint = f"pretty-meter verify {shown} --table TABLE.parquet"
    try:
        if not Path(table).is_file():
            raise PrettyMeterError(f"the run's table {table} is not here")
        eligible = _scored_rows(folds_file, read_crops(table)[0]) if folds_file.is_file() else None
        verification = verify_model_dir(model_dir, Path(table), eligible=eligible)
    except PrettyMeterError as exc:
        print(f"engines not verified ({exc}); run `{hint}`")
        return None
    summary(f"verify: {shown}", verification_rows(verification))
    return verification


def verification_rows(verification: Verification) -> dict[str, str]:
    """The summary's rows: one per engine, its verdict and figures."""
    from prettymeter.card import figures

    rows = {"crops": f"{verification.crops} held out, {verification.calibration_crops} for int8"}
    for name, check in verification.engines.items():
        verdict_word = "accepted" if check.accepted else "refused"
        rows[name] = f"{verdict_word}: {figures(check)}" if check.p99 is not None else check.reason
    return rows


def _scored_rows(folds_file: Path, paths: list[str]) -> np.ndarray:
    """The rows a run scored out of fold (fold ≥ 0 in its folds.csv)."""
    fix = "verify the model with `pretty-meter verify MODEL_DIR --table TABLE.parquet`"
    return np.flatnonzero(read_folds(folds_file, paths, fix) >= 0)
