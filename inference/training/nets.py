"""The classifiers: beltwatch's own small CNN and torchvision backbones with a 3-class head.

Nothing is downloaded: torchvision models are built with ``weights=None`` and may start from
a state_dict file given by path (ImageNet weights copied onto the machine, or an earlier
beltwatch model). The head is replaced for our classes; a head of another shape in the file
is skipped, every other mismatch is an error.

Fine-tuning strategy ("freeze the first three stages, train stage four and the head"):

- ResNet-18/50/101: the stem (conv1, bn1) and layer1-3 are frozen; layer4 and fc train.
- EfficientNet-B0 has seven MBConv stages, not four. Its equivalent is cut at the same place
  by resolution: ResNet's layer4 is the part of the net at 1/32 of the input, so the stem and
  features[1:6] (everything down to 1/16) are frozen, and features[6] (1/32, 192 channels),
  features[7] (320 channels), features[8] (the 1x1 conv to 1280) and the classifier train.
- BeltCNN: blocks 1-3 are frozen; blocks 4-5 and the head train.

Frozen stages have their BatchNorm layers replaced by ``FrozenBatchNorm2d``: with
``requires_grad`` off but ordinary BatchNorm, training would still move the running
statistics of layers that are meant not to change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchvision import models as tvm
from torchvision.ops.misc import FrozenBatchNorm2d

from monitor.core.vocabulary import CLASSES

ARCHITECTURES = ("beltcnn", "resnet18", "resnet50", "resnet101", "efficientnet_b0")


class BeltCNN(nn.Module):
    """Five Conv3x3-BN-ReLU blocks (MaxPool after the first four, global average pooling after
    the fifth), then FC(hidden) - Dropout - FC(classes): the reference case's custom CNN."""

    def __init__(
        self,
        num_classes: int = len(CLASSES),
        widths: tuple[int, ...] = (32, 64, 128, 256, 512),
        hidden: int = 256,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        channels = 3
        for i, width in enumerate(widths):
            last = i == len(widths) - 1
            blocks.append(
                nn.Sequential(
                    nn.Conv2d(channels, width, 3, padding=1, bias=False),
                    nn.BatchNorm2d(width),
                    nn.ReLU(inplace=True),
                    nn.AdaptiveAvgPool2d(1) if last else nn.MaxPool2d(2),
                )
            )
            channels = width
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(x))


def _resnet(factory: Callable[..., tvm.ResNet]) -> Callable[[int], nn.Module]:
    def build(num_classes: int) -> nn.Module:
        net = factory(weights=None)
        net.fc = nn.Linear(net.fc.in_features, num_classes)
        return net

    return build


def _efficientnet_b0(num_classes: int) -> nn.Module:
    net = tvm.efficientnet_b0(weights=None)
    last = net.classifier[-1]
    assert isinstance(last, nn.Linear)
    net.classifier[-1] = nn.Linear(last.in_features, num_classes)
    return net


_BUILDERS: dict[str, Callable[[int], nn.Module]] = {
    "beltcnn": lambda n: BeltCNN(n),
    "resnet18": _resnet(tvm.resnet18),
    "resnet50": _resnet(tvm.resnet50),
    "resnet101": _resnet(tvm.resnet101),
    "efficientnet_b0": _efficientnet_b0,
}

# Module-name prefixes of the head (replaced for our classes) and of the frozen stages.
HEADS = {"beltcnn": "head.", "efficientnet_b0": "classifier."} | {
    name: "fc." for name in ("resnet18", "resnet50", "resnet101")
}
FROZEN_STAGES: dict[str, tuple[str, ...]] = {
    "beltcnn": ("blocks.0", "blocks.1", "blocks.2"),
    "efficientnet_b0": tuple(f"features.{i}" for i in range(6)),
} | {
    name: ("conv1", "bn1", "layer1", "layer2", "layer3")
    for name in ("resnet18", "resnet50", "resnet101")
}


def build_model(
    arch: str,
    *,
    num_classes: int = len(CLASSES),
    weights: str | Path | None = None,
    freeze: bool = False,
) -> nn.Module:
    """A classifier of architecture `arch` with a `num_classes` head, optionally started from a
    state_dict file and with its first three stages frozen (see the module docstring)."""
    if arch not in _BUILDERS:
        raise ValueError(f"unknown architecture {arch!r}; expected one of {ARCHITECTURES}")
    net = _BUILDERS[arch](num_classes)
    if weights is not None:
        load_weights(net, arch, weights)
    if freeze:
        freeze_early_stages(net, arch)
    return net


def _state_dict_from(obj: Any, source: str) -> Mapping[str, torch.Tensor]:
    # Accept a bare state_dict or one of our checkpoints ({"state_dict": ...}).
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(f"{source}: expected a state_dict (a mapping of names to tensors)")
    # Weights saved from DataParallel or torch.compile carry a prefix on every name.
    return {k.removeprefix("module.").removeprefix("_orig_mod."): v for k, v in obj.items()}


def load_weights(net: nn.Module, arch: str, path: str | Path) -> list[str]:
    """Load a state_dict file into `net`; returns the names skipped (a head of another shape).

    Raises ValueError if anything but the head is missing, unexpected or of another shape.
    """
    state = _state_dict_from(torch.load(path, map_location="cpu", weights_only=True), str(path))
    own = net.state_dict()
    head = HEADS[arch]
    skipped = [k for k, v in state.items() if k.startswith(head) and own.get(k, v).shape != v.shape]
    wrong = [
        k for k, v in state.items() if k in own and k not in skipped and own[k].shape != v.shape
    ]
    # FrozenBatchNorm2d keeps no batch counter, so a net saved frozen lacks these names.
    missing = [
        k
        for k in own
        if k not in state and not k.startswith(head) and not k.endswith("num_batches_tracked")
    ]
    unexpected = [k for k in state if k not in own and not k.endswith("num_batches_tracked")]
    if wrong or missing or unexpected:
        raise ValueError(
            f"{path} does not fit {arch}: "
            f"{len(missing)} missing (e.g. {missing[:3]}), "
            f"{len(unexpected)} unexpected (e.g. {unexpected[:3]}), "
            f"{len(wrong)} of another shape (e.g. {wrong[:3]})"
        )
    net.load_state_dict({k: v for k, v in state.items() if k not in skipped}, strict=False)
    return skipped


def freeze_early_stages(net: nn.Module, arch: str) -> list[str]:
    """Freeze the stages named in FROZEN_STAGES[arch]; returns the frozen parameter names."""
    prefixes = FROZEN_STAGES[arch]

    def frozen(name: str) -> bool:
        return any(name == p or name.startswith(p + ".") for p in prefixes)

    for name, module in list(net.named_modules()):
        if frozen(name) and isinstance(module, nn.BatchNorm2d):
            parent_name, _, child = name.rpartition(".")
            parent = net.get_submodule(parent_name)
            replacement = FrozenBatchNorm2d(module.num_features, eps=module.eps)
            for buffer in ("weight", "bias", "running_mean", "running_var"):
                getattr(replacement, buffer).copy_(getattr(module, buffer).detach())
            setattr(parent, child, replacement)
    names = []
    for name, param in net.named_parameters():
        if frozen(name):
            param.requires_grad_(False)
            names.append(name)
    return names


def count_parameters(net: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (or of trainable ones)."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad or not trainable_only)


# Where the damage probe looks: the first module of "stage four", trainable under the freeze.
PROBE_AT = {"beltcnn": "blocks.3", "efficientnet_b0": "features.6"} | {
    name: "layer4" for name in ("resnet18", "resnet50", "resnet101")
}


class DamageProbe(nn.Module):
    """A training-only auxiliary head: from the features of stage four, predict which cells of
    the frame hold damage (the target comes from twin frames, see frameset.damage_masks).

    Telling the net where the damage is, not only that there is some, makes it learn small
    damage much faster than the class label alone. The probe is not part of the net: it is
    neither saved in the net's state_dict nor exported.
    """

    def __init__(self, net: nn.Module, arch: str, input_size: int) -> None:
        super().__init__()
        self._features: torch.Tensor | None = None
        net.get_submodule(PROBE_AT[arch]).register_forward_hook(self._keep)
        was_training = net.training
        with torch.no_grad():
            net.eval()(torch.zeros(1, 3, input_size, input_size))
        net.train(was_training)
        assert self._features is not None
        self.conv = nn.Conv2d(self._features.shape[1], 1, 1)
        self._features = None

    def _keep(self, module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        self._features = output

    def loss(self, masks: torch.Tensor) -> torch.Tensor:
        """BCE between the probe's cell logits and the damage share of each cell (> 1 %)."""
        if self._features is None:
            raise RuntimeError("run the net on a batch before asking for the probe's loss")
        logits = self.conv(self._features).squeeze(1).float()
        share = F.adaptive_avg_pool2d(masks[:, None].float(), logits.shape[-2:]).squeeze(1)
        self._features = None
        return F.binary_cross_entropy_with_logits(logits, (share > 0.01).float())
