"""Export: one ONNX graph equal to the torch models, a full card, verified loading."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pyarrow.parquet as pq
import pytest
import torch

from prettymeter import imaging
from prettymeter.card import load_model_dir
from prettymeter.errors import PrettyMeterError
from tests.support.training import EPOCHS

pytestmark = pytest.mark.slow


def _real_inputs(table: Path, size: int, count: int = 6) -> np.ndarray:
    crops = pq.read_table(table, columns=["crop"]).column("crop").to_pylist()[:count]
    return np.stack([imaging.to_input_array(imaging.decode_crop(c), size) for c in crops])


def test_onnx_output_equals_the_torch_fold_models_within_1e_4(
    trained_run: Path, exported_model: Path, synth_table: Path
) -> None:
    from prettymeter.training.checkpoint import load_member
    from prettymeter.training.model import label_and_std

    record = json.loads((trained_run / "run.json").read_text())
    members = [load_member(trained_run, f, "mobilenet_v3_small") for f in record["members"]]
    scales = torch.tensor(record["std_scales"])
    assert len(scales) == len(members) == 3 and (scales > 0).all()
    batch = _real_inputs(synth_table, 64)
    with torch.no_grad():
        pairs = [label_and_std(m(torch.from_numpy(batch))) for m in members]
    labels = torch.stack([label for label, _ in pairs], 1)
    stds = torch.stack([std for _, std in pairs], 1) * scales
    want_label = labels.mean(1).clamp(0, 1).numpy()
    # The mixture's std: the members' mean variance plus their spread.
    want_std = (stds.square().mean(1) + labels.var(1, unbiased=False)).sqrt().numpy()
    session = ort.InferenceSession(str(exported_model / "model.onnx"))
    label, std = session.run(["label", "label_std"], {"input": batch})
    assert label.shape == (len(batch),)
    np.testing.assert_allclose(label, want_label, atol=1e-4)
    np.testing.assert_allclose(std, want_std, atol=1e-4)
    # Dynamic batch: one photo and many photos go through the same graph.
    (one,) = session.run(["label"], {"input": batch[:1]})
    np.testing.assert_allclose(one, want_label[:1], atol=1e-4)


def test_the_card_describes_the_model_and_its_data(exported_model: Path, synth_table: Path) -> None:
    card, onnx_path = load_model_dir(exported_model)
    meta = json.loads(pq.ParquetFile(synth_table).metadata.metadata[b"prettymeter"])
    assert (card.normalization.lo, card.normalization.med, card.normalization.hi) == (
        meta["lo"],
        meta["med"],
        meta["hi"],
    )
    assert card.gender == "m" and card.backbone == "mobilenet_v3_small"
    assert card.final == "ensemble" and set(card.outputs) == {"label", "label_std"}
    assert card.backbones_per_photo == 3
    assert card.preprocessing.crop_size == 64 and card.preprocessing.detector == "none"
    assert card.input_size == 64 and card.preprocessing.mean == pytest.approx(list(imaging.MEAN))
    labels = sorted(pq.read_table(synth_table, columns=["label"]).column("label").to_pylist())
    assert card.label_quantiles == pytest.approx(labels)
    assert card.cv_metrics["mean_std"]["pc"]["mean"] > 0
    assert card.dataset["rows"] == len(labels)
    assert card.training["epochs"] == EPOCHS and card.training["init"] == "random"
    assert {"torch", "onnxruntime"} <= set(card.versions)
    assert card.training["onnx_parity_max_abs_diff"] <= 1e-4
    import onnx

    assert max(o.version for o in onnx.load(str(onnx_path)).opset_import if o.domain == "") >= 17


def test_a_tampered_onnx_file_is_refused(exported_model: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "model"
    shutil.copytree(exported_model, copy)
    data = bytearray((copy / "model.onnx").read_bytes())
    data[-10] ^= 0xFF
    (copy / "model.onnx").write_bytes(bytes(data))
    with pytest.raises(PrettyMeterError, match="does not match its card"):
        load_model_dir(copy)


def test_export_refuses_to_overwrite_without_the_flag(
    trained_run: Path, exported_model: Path
) -> None:
    from prettymeter.training.export import export

    with pytest.raises(PrettyMeterError, match="--overwrite"):
        export(trained_run, exported_model)


def test_export_of_an_unfinished_run_says_to_resume(tmp_path: Path) -> None:
    from prettymeter.training.config import TrainConfig
    from prettymeter.training.export import export
    from prettymeter.training.records import ConfigRecord, write_record

    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(PrettyMeterError, match="not a training run"):
        export(run, tmp_path / "out")
    # A run killed after its first records: the verb says how to finish it.
    config = TrainConfig(data=tmp_path / "t.parquet", out=run)
    write_record(run, ConfigRecord(config=config, init="random"))
    with pytest.raises(
        PrettyMeterError, match=f"finish it with `pretty-meter train --resume {run}`"
    ):
        export(run, tmp_path / "out")


def test_the_default_refit_exports_one_network_with_its_own_std(
    refit_model: Path, synth_table: Path
) -> None:
    from prettymeter.training.checkpoint import load_member
    from prettymeter.training.model import label_and_std

    run = refit_model / "run"
    record = json.loads((run / "run.json").read_text())
    assert record["final"] == "refit"
    assert record["members"] == ["refit/best.safetensors"] and record["refit_epochs"] >= 1
    # The refit has no row left to fit its std's scale on: the folds' scales, combined.
    fold_scales = [
        json.loads((run / f"fold_{k}/state.json").read_text())["std_scale"] for k in (0, 1)
    ]
    (scale,) = record["std_scales"]
    assert scale == pytest.approx(float(np.sqrt(fold_scales[0] * fold_scales[1])))
    card, onnx_path = load_model_dir(refit_model / "model")
    assert card.final == "refit" and set(card.outputs) == {"label", "label_std"}
    assert card.backbones_per_photo == 1
    session = ort.InferenceSession(str(onnx_path))
    assert [o.name for o in session.get_outputs()] == ["label", "label_std"]
    batch = _real_inputs(synth_table, 32, count=3)
    member = load_member(run, "refit/best.safetensors", "mobilenet_v3_small")
    with torch.no_grad():
        label, std = label_and_std(member(torch.from_numpy(batch)))
    got_label, got_std = session.run(["label", "label_std"], {"input": batch})
    np.testing.assert_allclose(got_label, label.clamp(0, 1).numpy(), atol=1e-4)
    np.testing.assert_allclose(got_std, std.numpy() * scale, rtol=1e-4, atol=1e-6)
    assert (got_std > 0).all()
