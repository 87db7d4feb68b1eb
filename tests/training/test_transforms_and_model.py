"""The evaluation transform is the shared preprocessing; augmentation is reproducible; backbones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from prettymeter import imaging
from prettymeter.errors import PrettyMeterError
from prettymeter.training.augment import augment_batch, normalize_batch
from prettymeter.training.config import TrainConfig
from prettymeter.training.data import decode_crops
from prettymeter.training.model import build_model, build_model_with_source, label_and_std


def _crops(table: Path, count: int = 8) -> list[bytes]:
    return pq.read_table(table, columns=["crop"]).column("crop").to_pylist()[:count]


@pytest.mark.parametrize("size", [64, 48])
def test_the_evaluation_input_equals_imaging_to_input_array(synth_table: Path, size: int) -> None:
    crops = _crops(synth_table)
    ours = normalize_batch(decode_crops(crops, size, show=False)).numpy()
    shared = np.stack([imaging.to_input_array(imaging.decode_crop(c), size) for c in crops])
    np.testing.assert_allclose(ours, shared, atol=1e-6)


def test_augmentation_changes_the_batch_and_repeats_with_the_same_seed(synth_table: Path) -> None:
    cache = decode_crops(_crops(synth_table), 64, show=False)
    config = TrainConfig(data=synth_table, out=synth_table)
    a = augment_batch(cache, config, torch.Generator().manual_seed(1))
    b = augment_batch(cache, config, torch.Generator().manual_seed(1))
    c = augment_batch(cache, config, torch.Generator().manual_seed(2))
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)
    assert not torch.allclose(a, normalize_batch(cache))
    assert a.shape == (8, 3, 64, 64) and torch.isfinite(a).all()


def test_the_model_has_one_label_and_one_std_per_photo() -> None:
    for name in ("mobilenet_v3_small", "efficientnet_v2_s", "resnet18"):
        model = build_model(name, None).eval()
        with torch.no_grad():
            label, std = label_and_std(model(torch.zeros(2, 3, 64, 64)))
        assert label.shape == std.shape == (2,) and (std > 0).all()


def test_local_weights_load_from_safetensors_and_a_plain_state_dict(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    torch.manual_seed(5)
    trained = build_model("mobilenet_v3_small", None)
    state = {k: v.contiguous() for k, v in trained.state_dict().items()}
    save_file(state, str(tmp_path / "w.safetensors"))
    torch.save(state, tmp_path / "w.pth")
    for file in ("w.safetensors", "w.pth"):
        model, source = build_model_with_source("mobilenet_v3_small", str(tmp_path / file))
        assert source.endswith(file)
        for key, value in model.state_dict().items():
            assert torch.equal(value, state[key]), key


def test_a_weights_file_that_needs_unpickling_code_is_refused(tmp_path: Path) -> None:
    torch.save({"model": build_model("mobilenet_v3_small", None)}, tmp_path / "whole.pth")
    with pytest.raises(PrettyMeterError, match="unpickling"):
        build_model("mobilenet_v3_small", str(tmp_path / "whole.pth"))


def test_weights_for_another_backbone_are_refused(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    state = {k: v.contiguous() for k, v in build_model("resnet18", None).state_dict().items()}
    save_file(state, str(tmp_path / "r18.safetensors"))
    with pytest.raises(PrettyMeterError, match="does not fit"):
        build_model("mobilenet_v3_small", str(tmp_path / "r18.safetensors"))


def test_an_unknown_backbone_is_a_clear_error() -> None:
    with pytest.raises(PrettyMeterError, match="unknown backbone"):
        build_model("not_a_net", None)
