"""The variance head learns the label's std without changing how the label itself trains."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from prettymeter.training.augment import variance_loss, weighted_loss
from prettymeter.training.config import TrainConfig
from prettymeter.training.model import build_model, label_and_log_var, label_and_std


def _gradients(model: torch.nn.Module, loss: torch.Tensor) -> dict[str, torch.Tensor]:
    model.zero_grad(set_to_none=False)
    loss.backward()
    return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


def test_the_variance_loss_moves_only_the_log_variance_row_of_the_head() -> None:
    torch.manual_seed(0)
    model = build_model("mobilenet_v3_small", None).train()
    config = TrainConfig(data=".", out=".")
    x, y, w = torch.randn(8, 3, 32, 32), torch.rand(8), torch.rand(8) + 0.5

    def losses() -> tuple[torch.Tensor, torch.Tensor]:
        torch.manual_seed(1)  # the same dropout in both passes
        label, log_var = label_and_log_var(model(x))
        loss = weighted_loss(label, y, w, config)
        return loss, loss + variance_loss(label, log_var, y, w)

    # One step first: the untrained log-variance row is zero, which would hide a leak.
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    _gradients(model, losses()[1])
    optimizer.step()
    label_only = _gradients(model, losses()[0])
    both = _gradients(model, losses()[1])
    head = [n for n, _ in model.named_parameters()][-2:]  # the head's weight and bias
    for name, grad in label_only.items():
        if name in head:
            torch.testing.assert_close(both[name][:1], grad[:1], rtol=0, atol=0)
            assert grad[1:].abs().sum() == 0 and both[name][1:].abs().sum() > 0, name
        else:  # the backbone and the label's row learn exactly as without the variance head
            torch.testing.assert_close(both[name], grad, rtol=0, atol=0, msg=name)


def test_the_head_answers_a_label_and_a_positive_std_in_fp32_under_autocast() -> None:
    model = build_model("mobilenet_v3_small", None).eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        output = model(torch.randn(4, 3, 32, 32))
    label, std = label_and_std(output)
    assert output.dtype == torch.float32 and label.shape == std.shape == (4,)
    # The untrained head starts at the median label with a std of 0.1.
    torch.testing.assert_close(std, torch.full((4,), 0.1), rtol=1e-5, atol=0)


def test_weights_from_before_the_variance_head_are_refused_in_one_line(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    from prettymeter.errors import PrettyMeterError
    from prettymeter.training.checkpoint import load_member

    state = build_model("mobilenet_v3_small", None).state_dict()
    old = {
        k: (v[:1] if k.startswith("classifier.3.") else v).contiguous() for k, v in state.items()
    }
    save_file(old, str(tmp_path / "best.safetensors"))
    with pytest.raises(PrettyMeterError, match="older pretty-meter: train the run again"):
        load_member(tmp_path, "best.safetensors", "mobilenet_v3_small")
