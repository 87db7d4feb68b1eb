"""Export facenet-pytorch's packaged MTCNN weights (P-, R-, O-Net) to the ONNX files we ship.

Needs the [train] extra (torch, facenet-pytorch 2.5.3, onnx); the files it writes are committed
as package data, so the detector itself never needs torch.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from prettymeter.contract import DETECTOR_INPUT_NAME
from prettymeter.errors import PrettyMeterError

NET_FILES = {"pnet": "pnet.onnx", "rnet": "rnet.onnx", "onet": "onet.onnx"}
OUTPUT_NAMES = {
    "pnet": ["reg", "prob"],
    "rnet": ["reg", "prob"],
    "onet": ["reg", "landmarks", "prob"],
}
OPSET = 17


def torch_nets() -> dict[str, Any]:
    """facenet-pytorch's three nets with their packaged weights, in eval mode."""
    try:
        from facenet_pytorch.models.mtcnn import ONet, PNet, RNet
    except ImportError as exc:
        raise PrettyMeterError(
            "exporting the detector needs torch and facenet-pytorch; install the [train] extra "
            "(pip install 'pretty-meter[train]')"
        ) from exc
    nets = {"pnet": PNet(), "rnet": RNet(), "onet": ONet()}
    for net in nets.values():
        net.eval()
    return nets


def _fast_prelu(net: Any) -> Any:
    """Replace every PReLU by the same function in ops ONNX Runtime runs fast.

    PReLU(x) = max(x, 0) + a·min(x, 0), exactly. ONNX Runtime's PRelu kernel with per-channel
    slopes costs as much as the convolutions; Clip and Mul are fast and the first Clip fuses into
    the Conv.
    """
    import torch

    class ClipPReLU(torch.nn.Module):
        def __init__(self, prelu: torch.nn.PReLU) -> None:
            super().__init__()
            self.weight = torch.nn.Parameter(prelu.weight.detach().clone())

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            shape = (1, -1, 1, 1) if x.dim() == 4 else (1, -1)
            slope = self.weight.view(shape)
            return torch.clamp(x, min=0) + slope * torch.clamp(x, max=0)

    for name, module in list(net.named_children()):
        if isinstance(module, torch.nn.PReLU):
            setattr(net, name, ClipPReLU(module))
    return net


def export_nets(out: Path, overwrite: bool = False) -> dict[str, Path]:
    """Write pnet.onnx, rnet.onnx and onet.onnx into `out`; returns their paths."""
    import torch

    from prettymeter.io import atomic_path, ensure_new_output

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    targets = {name: out / file for name, file in NET_FILES.items()}
    for path in targets.values():
        ensure_new_output(path, overwrite)
    examples = {
        "pnet": torch.zeros(1, 3, 64, 80),
        "rnet": torch.zeros(2, 3, 24, 24),
        "onet": torch.zeros(2, 3, 48, 48),
    }
    for name, net in torch_nets().items():
        net = _fast_prelu(net)
        axes = {0: "n", 2: "h", 3: "w"} if name == "pnet" else {0: "n"}
        dynamic = {DETECTOR_INPUT_NAME: axes} | {o: {0: "n"} for o in OUTPUT_NAMES[name]}
        if name == "pnet":
            dynamic |= {o: {0: "n", 2: "oh", 3: "ow"} for o in OUTPUT_NAMES[name]}
        with atomic_path(targets[name]) as tmp, torch.no_grad(), warnings.catch_warnings():
            # the TorchScript exporter handles these tiny fixed graphs exactly; torch warns
            # that it is no longer the default
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                net,
                (examples[name],),
                str(tmp),
                input_names=[DETECTOR_INPUT_NAME],
                output_names=OUTPUT_NAMES[name],
                dynamic_axes=dynamic,
                opset_version=OPSET,
                dynamo=False,
            )
    for path in targets.values():
        path.chmod(0o644)
    return targets
