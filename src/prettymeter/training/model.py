"""The one door to a backbone: a torchvision model by name with the regression head.

Imported only where training runs (it imports torch at the top; nothing else here does)."""

from __future__ import annotations

import math
import os
import socket
from http.client import HTTPException
from pathlib import Path
from urllib.parse import urlparse

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from prettymeter.console import console
from prettymeter.errors import PrettyMeterError

# Backbones whose head is a plain Linear layer we can swap; all are torchvision names.
BACKBONES = (
    "efficientnet_v2_s",
    "efficientnet_v2_m",
    "efficientnet_b0",
    "efficientnet_b3",
    "mobilenet_v3_small",
    "mobilenet_v3_large",
    "mobilenet_v2",
    "resnet18",
    "resnet50",
    "regnet_y_400mf",
    "shufflenet_v2_x0_5",
    "shufflenet_v2_x1_0",
    "convnext_tiny",
)


# Where the log-variance starts (a residual std of 0.1 on the 0-1 label) and the range it is
# held to (std 1e-4 to 7), so exp() never overflows and one odd photo cannot blow up the loss.
LOG_VAR_INIT = math.log(0.1**2)
LOG_VAR_RANGE = (-18.0, 4.0)


class RegressionHead(nn.Linear):
    """The head: [mean label, log-variance of the label] from the backbone's features.

    It computes in fp32 even inside an autocast region: under bf16 autocast a Linear's output is
    a bf16 number (8 bits of mantissa: labels in steps of 1/256 near 0.5), far coarser than the
    differences between photos. The log-variance row reads the features detached: its loss
    (variance_loss) never reaches the backbone or the mean, so the mean trains as without it."""

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        device = features.device.type
        if torch.is_autocast_enabled(device):
            with torch.autocast(device, enabled=False):
                return self._both(features.float())
        return self._both(features)

    def _both(self, features: torch.Tensor) -> torch.Tensor:
        mean = F.linear(features, self.weight[:1], self.bias[:1])
        log_var = F.linear(features.detach(), self.weight[1:], self.bias[1:])
        return torch.cat([mean, log_var], dim=1)


def label_and_log_var(output: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The model's output [N, 2] as (label [N], log-variance [N]), both fp32."""
    output = output.float()
    return output[:, 0], output[:, 1].clamp(*LOG_VAR_RANGE)


def label_and_std(output: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The model's output [N, 2] as (label [N], predicted std of the label [N], uncalibrated)."""
    label, log_var = label_and_log_var(output)
    return label, torch.exp(0.5 * log_var)


def _swap_head(model: nn.Module) -> None:
    """Replace the last Linear layer (the classifier) with the regression head."""
    last_name = None
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            last_name = name
    if last_name is None:  # pragma: no cover - every listed backbone has one
        raise PrettyMeterError("this backbone has no Linear head to replace; choose another")
    parent_name, _, child = last_name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    old = getattr(parent, child)
    head = RegressionHead(old.in_features, 2)
    with torch.no_grad():
        # Labels are normalized around the median (0.5): start every prediction there, so the
        # first epochs learn the ranking instead of the offset.
        nn.init.normal_(head.weight[:1], std=0.01)
        head.weight[1:].zero_()
        head.bias.copy_(torch.tensor([0.5, LOG_VAR_INIT]))
    setattr(parent, child, head)


# Seconds without a byte before a weights download gives up: an offline machine (or a firewall
# that drops packets) must fail in seconds, not after the OS's minutes-long connect timeout.
DOWNLOAD_TIMEOUT_S = 30.0


def imagenet_url(backbone: str) -> str:
    """torchvision's URL of the default ImageNet weights of `backbone` (its name holds a hash)."""
    from torchvision.models import get_model_weights

    return str(get_model_weights(backbone).DEFAULT.url)  # type: ignore[attr-defined]


def imagenet_cache_file(backbone: str) -> Path:
    """Where torchvision keeps the ImageNet weights of `backbone` ($TORCH_HOME/hub/checkpoints)."""

    name = os.path.basename(urlparse(imagenet_url(backbone)).path)
    return Path(torch.hub.get_dir()) / "checkpoints" / name


def fetch_imagenet_weights(backbone: str) -> Path:
    """The cached ImageNet weights file of `backbone`, downloaded first when absent.

    Like torch.hub: the download shows a progress bar, lands in a temporary file, is checked
    against the sha256 prefix in its name and only then moved into place; a file already in
    the cache is trusted as it is (torch.hub does not re-check it either)."""

    cached = imagenet_cache_file(backbone)
    if cached.is_file():
        return cached
    url = imagenet_url(backbone)
    match = torch.hub.HASH_REGEX.search(cached.name)
    hash_prefix = match.group(1) if match else None
    console.print(
        f"downloading the ImageNet weights of {backbone}: {url} -> {cached}",
        markup=False,
        soft_wrap=True,
    )
    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(url, str(cached), hash_prefix, progress=True)
    except RuntimeError as exc:  # torch.hub's hash check
        raise PrettyMeterError(
            f"the download of {url} does not match the sha256 prefix {hash_prefix} in its name "
            f"(a broken or altered download); nothing was kept. Rerun, or put a good copy of "
            f"{cached.name} at {cached}"
        ) from exc
    except (OSError, HTTPException) as exc:
        reason = " ".join(str(exc).split()) or exc.__class__.__name__
        raise PrettyMeterError(
            f"cannot download the ImageNet weights of {backbone} ({reason}); put the file "
            f"{cached.name} (from {url}) at {cached}, or pass --weights none (random init) "
            "or --weights PATH"
        ) from exc
    finally:
        socket.setdefaulttimeout(previous_timeout)
    return cached


def check_backbone(backbone: str) -> None:
    """A clear error for a name torchvision does not know."""
    import torchvision

    if backbone not in torchvision.models.list_models(module=torchvision.models):
        raise PrettyMeterError(
            f"unknown backbone {backbone!r}; choose one of: {', '.join(BACKBONES)}"
        )


def fetch_initial_weights(backbone: str, weights: str | None) -> None:
    """Have the initial weights at hand before any heavy work: an offline user learns at once.

    'imagenet' downloads the file when it is not cached (or stops with one line saying which
    file to put where); a path must exist; none/random needs nothing."""
    check_backbone(backbone)
    if weights is None or weights in ("", "none", "random"):
        return
    if weights == "imagenet":
        fetch_imagenet_weights(backbone)
        return
    _local_weights_file(weights)


def _local_weights_file(weights: str) -> Path:
    path = Path(weights).expanduser()
    if not path.is_file():
        raise PrettyMeterError(
            f"weights file {path} does not exist; pass --weights imagenet, none, or a real path"
        )
    return path


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A safetensors file or a plain state dict; never unpickles code (weights_only=True)."""

    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise PrettyMeterError(
            f"{path} is not a state dict that loads without unpickling code "
            f"({exc.__class__.__name__}); "
            "give a .safetensors file or a torch state dict"
        ) from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise PrettyMeterError(f"{path} does not hold a state dict; give a .safetensors file")
    return state


def _load_into(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Load every matching tensor; a head of another shape (1000 classes) is left at init."""
    own = model.state_dict()
    state = {k.removeprefix("module.").removeprefix("_orig_mod."): v for k, v in state.items()}
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    missing = [k for k in own if k not in usable]
    # Only the head may be missing: anything more means the file is for another backbone.
    if len(missing) > 2 or len(usable) < len(own) // 2:
        raise PrettyMeterError(
            f"{source} does not fit this backbone ({len(missing)} of {len(own)} tensors missing "
            "or of another shape); pass the --backbone the weights were made for"
        )
    model.load_state_dict(usable, strict=False)


def build_model_with_source(backbone: str, weights: str | None) -> tuple[nn.Module, str]:
    """Build the model and say where its weights came from: 'imagenet:<file name>' (downloaded
    into torchvision's cache when absent), the local file's path, or 'random' (weights None)."""
    import torchvision

    check_backbone(backbone)
    model = torchvision.models.get_model(backbone, weights=None)
    _swap_head(model)
    # Some backbones (MobileNetV3) ship BatchNorm momentum 0.01, tuned for 600-epoch ImageNet
    # runs; with a few hundred steps their running statistics never settle. Use 0.1 everywhere.
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.momentum = 0.1
    if weights is None or weights in ("", "none", "random"):
        return model, "random"
    if weights == "imagenet":
        cached = fetch_imagenet_weights(backbone)
        _load_into(model, _read_state_dict(cached), str(cached))
        return model, f"imagenet:{cached.name}"
    path = _local_weights_file(weights)
    _load_into(model, _read_state_dict(path), str(path))
    return model, str(path)


def build_model(backbone: str, weights: str | None) -> nn.Module:
    """torchvision `backbone` with its classifier swapped for the regression head (outputs
    [N, 2]: read them with label_and_log_var or label_and_std)."""
    return build_model_with_source(backbone, weights)[0]


# Backbones (by name prefix) whose head reads the global average of their last feature map, and
# the children that make that map, in order. For them the label is exactly the mean over the
# map's cells of a per-cell label (the head applied to each cell): export adds that map to the
# graph, and an explanation reads it instead of occluding regions (docs/decisions.md). Others
# (MobileNetV3's two-layer classifier, ConvNeXt's norm after pooling) have no such exact map.
POOLED_TRUNKS = {
    "efficientnet_": ("features",),
    "mobilenet_v2": ("features",),
    "resnet": ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"),
    "regnet_": ("stem", "trunk_output"),
    "shufflenet_": ("conv1", "maxpool", "stage2", "stage3", "stage4", "conv5"),
}


def pooled_trunk(model: nn.Module, backbone: str) -> tuple[nn.Module, RegressionHead] | None:
    """The module making `model`'s last feature map and its regression head, for a backbone in
    POOLED_TRUNKS (else None): head(trunk(x).mean((2, 3))) is model(x)."""
    names = next((v for k, v in POOLED_TRUNKS.items() if backbone.startswith(k)), None)
    heads = [m for m in model.modules() if isinstance(m, RegressionHead)]
    if names is None or len(heads) != 1:
        return None
    children = dict(model.named_children())
    trunk = children[names[0]] if len(names) == 1 else nn.Sequential(*(children[n] for n in names))
    return trunk, heads[0]


def label_map(features: torch.Tensor, head: RegressionHead) -> torch.Tensor:
    """[N, C, H, W] features → [N, H, W]: the head's label at each cell (its mean is the label)."""
    weight = head.weight[0].float()
    return torch.einsum("nchw,c->nhw", features.float(), weight) + head.bias[0].float()
