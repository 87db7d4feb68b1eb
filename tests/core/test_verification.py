"""Engine verification: the figures land in the card, and the Scorer serves from them alone."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from prettymeter.card import load_model_dir, sha256_file, write_card
from prettymeter.cli import app
from prettymeter.errors import PrettyMeterError
from prettymeter.hardware import cpu_has_bf16
from prettymeter.scoring import BF16_WEIGHTS, BF16_XML, INT8_WEIGHTS, INT8_XML, Scorer
from prettymeter.verification import (
    FLOAT_OPS,
    LIMITS,
    quantize_int8,
    split_rows,
    verify_model_dir,
)
from tests.support.engine_models import CROP_SIZE, crop_table, pixel_model
from tests.support.models import CROP_SIZE as MODEL_CROP_SIZE


@pytest.fixture
def model_dir(model_dirs: dict[str, Path], tmp_path: Path) -> Path:
    """A copy of the session's man model, for a test that writes into it."""
    copy = tmp_path / "man"
    shutil.copytree(model_dirs["man"], copy)
    return copy


def test_verify_writes_every_engine_s_figures_into_the_card_and_keeps_the_onnx(
    model_dir: Path, tmp_path: Path
) -> None:
    before, _ = load_model_dir(model_dir)
    table = crop_table(tmp_path / "t.parquet", MODEL_CROP_SIZE, count=100)
    args = ["verify", str(model_dir), "--table", str(table), "--rows", "60", "--threads", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    card, _ = load_model_dir(model_dir)  # the card still matches its ONNX file
    assert card.onnx_sha256 == before.onnx_sha256
    v = card.verification
    assert v is not None and v.crops == 60 and v.calibration_crops == 40
    assert v.table == str(table) and v.limits == LIMITS and v.threads == 1
    assert set(v.cpu_flags) <= {"avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile",
                                "amx_bf16", "amx_int8"}  # fmt: skip
    assert ("amx_bf16" in v.cpu_flags or "avx512_bf16" in v.cpu_flags) == cpu_has_bf16()
    assert set(v.engines) == {"onnxruntime", "openvino-bf16", "openvino-int8", "cuda-fp16"}
    reference = v.engines["onnxruntime"]
    assert reference.accepted and reference.max == 0.0 and reference.images_per_second
    assert not v.engines["cuda-fp16"].accepted
    assert v.engines["cuda-fp16"].reason.startswith("not available")
    # int8 with NNCF's defaults wrecks this random-init network: a real refused candidate
    int8 = v.engines["openvino-int8"]
    assert int8.crops == 60 and int8.p99 is not None and int8.p99 > LIMITS["p99"]
    assert not int8.accepted and int8.reason.startswith("refused: p99")
    assert not int8.files and not (model_dir / INT8_XML).exists()
    with pytest.raises(PrettyMeterError, match=r"refused at verification .*p99"):
        Scorer(model_dir, engine="openvino-int8", threads=1)
    assert Scorer(model_dir, engine="auto", threads=1).engine != "openvino-int8"
    bf16 = v.engines["openvino-bf16"]
    if cpu_has_bf16():
        assert bf16.p99 is not None and bf16.images_per_second
        assert bf16.accepted == (bf16.p99 <= 0.10 and bf16.max is not None and bf16.max <= 0.25)
        assert bool(bf16.files) == bf16.accepted == (model_dir / BF16_XML).is_file()
    else:
        assert bf16.reason.startswith("not available: this CPU has no bf16")
    assert "openvino-int8" in result.output and "refused" in result.output


def test_auto_serves_the_fastest_accepted_engine_and_never_a_refused_one(tmp_path: Path) -> None:
    model_dir = pixel_model(tmp_path / "robust", sensitive=False)
    table = crop_table(tmp_path / "t.parquet", CROP_SIZE, count=60)
    verification = verify_model_dir(model_dir, table, threads=1)
    int8 = verification.engines["openvino-int8"]
    assert int8.accepted, int8.reason  # averaging pixels survives int8 and bf16
    assert set(int8.files) == {INT8_XML, INT8_WEIGHTS}
    assert int8.files[INT8_XML] == sha256_file(model_dir / INT8_XML)
    assert verification.engines["openvino-bf16"].accepted == cpu_has_bf16()

    def record(speeds: dict[str, float], refused: tuple[str, ...] = ()) -> None:
        card, _ = load_model_dir(model_dir)
        assert card.verification is not None
        for name, speed in speeds.items():
            check = card.verification.engines[name]
            accepted = check.accepted and name not in refused
            card.verification.engines[name] = check.model_copy(
                update={"images_per_second": speed, "accepted": accepted}
            )
        write_card(model_dir, card)

    record({"onnxruntime": 10.0, "openvino-int8": 100.0, "openvino-bf16": 1000.0})
    fastest = "openvino-bf16" if cpu_has_bf16() else "openvino-int8"
    auto = Scorer(model_dir, engine="auto", threads=1)
    assert auto.engine == fastest and "verified on 45 crops" in auto.describe()
    record({"onnxruntime": 5000.0})
    assert Scorer(model_dir, engine="auto", threads=1).engine == "onnxruntime"
    record({"onnxruntime": 10.0, "openvino-bf16": 1000.0}, refused=("openvino-bf16",))
    assert Scorer(model_dir, engine="auto", threads=1).engine == "openvino-int8"
    with pytest.raises(PrettyMeterError, match="openvino-bf16 was refused at verification"):
        Scorer(model_dir, engine="openvino-bf16", threads=1)

    served = Scorer(model_dir, engine="openvino-int8", threads=1)  # the stored int8 files
    reference = Scorer(model_dir, engine="onnxruntime", threads=1)
    batch = np.random.default_rng(0).standard_normal((8, 3, 32, 32)).astype(np.float32)
    assert np.abs(10 * served.run(batch)[0] - 10 * reference.run(batch)[0]).max() <= 0.25
    (model_dir / INT8_WEIGHTS).write_bytes((model_dir / INT8_WEIGHTS).read_bytes() + b"x")
    with pytest.raises(PrettyMeterError, match="does not match its card"):
        Scorer(model_dir, engine="openvino-int8", threads=1)


def test_a_new_verification_replaces_the_old_verdict_and_its_int8_files(tmp_path: Path) -> None:
    model_dir = pixel_model(tmp_path / "robust", sensitive=False)
    verify_model_dir(model_dir, crop_table(tmp_path / "t.parquet", CROP_SIZE, count=60))
    assert (model_dir / INT8_XML).is_file()
    with pytest.raises(PrettyMeterError, match="does not exist"):
        verify_model_dir(model_dir, tmp_path / "missing.parquet")
    card, _ = load_model_dir(model_dir)
    assert card.verification is not None  # a table that cannot be read changes nothing
    small = crop_table(tmp_path / "small.parquet", CROP_SIZE, count=8)
    verification = verify_model_dir(model_dir, small)
    assert verification.crops == 6 and verification.calibration_crops == 2


def test_the_evaluation_rows_are_held_out_and_never_calibrate() -> None:
    eligible = np.arange(100, 1000)
    evaluation, calibration = split_rows(1000, eligible, 200)
    assert len(evaluation) == 200 and set(evaluation) <= set(eligible)
    assert len(calibration) == 300 and not set(evaluation) & set(calibration)
    evaluation, calibration = split_rows(40, np.arange(40), 200)  # small: all but a quarter
    assert len(evaluation) == 30 and len(calibration) == 10
    assert not set(evaluation) & set(calibration)


def test_int8_keeps_the_head_and_the_gates_in_float(model_dir: Path) -> None:
    # Quantizing the head rounds the score itself (on a trained ResNet-18 the best-looking
    # faces all came out at one score), and int8 gates make EfficientNets slower: the IR has
    # int8 convolutions, but no fake-quantized input into any of FLOAT_OPS.
    import openvino as ov

    card, _ = load_model_dir(model_dir)
    size = card.input_size
    calibration = np.random.default_rng(0).normal(0, 1, (16, 3, size, size)).astype(np.float32)
    quantize_int8(model_dir, model_dir / "model.onnx", calibration)
    model = ov.Core().read_model(str(model_dir / INT8_XML), str(model_dir / INT8_WEIGHTS))
    fed: dict[str, set[str]] = {}  # op type → the types of its inputs' producers
    for op in model.get_ordered_ops():
        producers = {i.get_source_output().get_node().get_type_name() for i in op.inputs()}
        fed.setdefault(op.get_type_name(), set()).update(producers)
    assert "FakeQuantize" in fed["Convolution"] | fed.get("GroupConvolution", set())
    quantized_floats = [kind for kind in FLOAT_OPS if "FakeQuantize" in fed.get(kind, set())]
    assert not quantized_floats
    assert {"MatMul", "Multiply", "ReduceMean"} <= set(fed)  # the model has what is kept float


@pytest.mark.skipif(not cpu_has_bf16(), reason="this CPU has no bf16 instructions")
def test_bf16_serves_its_verified_fp16_ir_and_a_card_from_before_it_the_onnx(
    tmp_path: Path,
) -> None:
    model_dir = pixel_model(tmp_path / "robust", sensitive=False)
    bf16 = verify_model_dir(model_dir, crop_table(tmp_path / "t.parquet", CROP_SIZE, count=60))
    check = bf16.engines["openvino-bf16"]
    assert check.accepted, check.reason
    weights = model_dir / BF16_WEIGHTS
    assert check.files == {name: sha256_file(model_dir / name) for name in (BF16_XML, BF16_WEIGHTS)}
    # half the bytes of the ONNX file's fp32 weights (3,072 of them in this model)
    assert weights.stat().st_size < 3072 * 4 * 0.6
    batch = np.random.default_rng(0).standard_normal((3, 3, 32, 32)).astype(np.float32)
    served = Scorer(model_dir, engine="openvino-bf16", threads=1).run(batch)[0]
    weights.write_bytes(weights.read_bytes() + b"x")
    with pytest.raises(PrettyMeterError, match="does not match its card"):
        Scorer(model_dir, engine="openvino-bf16", threads=1)

    # a card verified before the IR existed was judged on the ONNX file, and serves it
    card, _ = load_model_dir(model_dir)
    assert card.verification is not None
    old = card.verification.engines["openvino-bf16"].model_copy(update={"files": {}})
    card.verification.engines["openvino-bf16"] = old
    write_card(model_dir, card)
    from_onnx = Scorer(model_dir, engine="openvino-bf16", threads=1).run(batch)[0]
    assert np.abs(10 * from_onnx - 10 * served).max() <= 0.01
