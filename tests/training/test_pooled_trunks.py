"""Every backbone family in POOLED_TRUNKS: the head on the trunk's pooled map is the model's own
label, and the map's mean is that label, so an exported label map explains what ships."""

from __future__ import annotations

import pytest
import torch

from prettymeter.training.model import (
    BACKBONES,
    POOLED_TRUNKS,
    build_model,
    label_and_std,
    label_map,
    pooled_trunk,
)

# One backbone of each family (the shortest name: the base model).
FAMILIES = {
    prefix: min((b for b in BACKBONES if b.startswith(prefix)), key=len) for prefix in POOLED_TRUNKS
}


@pytest.mark.parametrize("backbone", sorted(FAMILIES.values()))
def test_the_trunk_path_gives_the_model_s_own_label(backbone: str) -> None:
    torch.manual_seed(0)
    model = build_model(backbone, None).eval()
    found = pooled_trunk(model, backbone)
    assert found is not None
    trunk, head = found
    with torch.no_grad():  # labels spread far from 0.5, so a path that differs shows
        head.weight[0] *= 100
    photos = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        want, _ = label_and_std(model(photos))
        features = trunk(photos)
        got, _ = label_and_std(head(features.mean((2, 3))))
        cells = label_map(features, head)
    assert torch.allclose(got, want, atol=1e-5)
    assert torch.allclose(cells.mean((1, 2)), want, atol=1e-5)
    assert cells.shape == (2, 2, 2)  # 64 px at stride 32


@pytest.mark.parametrize("backbone", ["mobilenet_v3_small", "convnext_tiny"])
def test_backbones_with_layers_after_pooling_have_no_trunk(backbone: str) -> None:
    assert pooled_trunk(build_model(backbone, None), backbone) is None
