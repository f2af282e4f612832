"""The classifiers: shapes, the freeze strategy per stage, and loading weights by path."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn
from torchvision import models as tvm
from torchvision.ops.misc import FrozenBatchNorm2d

from inference.training.nets import (
    ARCHITECTURES,
    PROBE_AT,
    BeltCNN,
    DamageProbe,
    build_model,
    count_parameters,
    freeze_early_stages,
)

torch.set_num_threads(2)

# Top-level stages of each net, and whether the freeze strategy leaves them trainable.
STAGES = {
    "resnet18": {
        "conv1": False,
        "bn1": False,
        "layer1": False,
        "layer2": False,
        "layer3": False,
        "layer4": True,
        "fc": True,
    },
    "efficientnet_b0": {
        **{f"features.{i}": False for i in range(6)},
        **{f"features.{i}": True for i in (6, 7, 8)},
        "classifier": True,
    },
    "beltcnn": {
        "blocks.0": False,
        "blocks.1": False,
        "blocks.2": False,
        "blocks.3": True,
        "blocks.4": True,
        "head": True,
    },
}


def stage_of(name: str, stages: dict[str, bool]) -> str:
    matches = [s for s in stages if name == s or name.startswith(s + ".")]
    assert len(matches) == 1, f"parameter {name} belongs to no stage (or several): {matches}"
    return matches[0]


def test_beltcnn_is_the_reference_architecture() -> None:
    net = BeltCNN()
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32, 64, 128, 256, 512]
    assert all(c.kernel_size == (3, 3) for c in convs)
    assert sum(isinstance(m, nn.MaxPool2d) for m in net.modules()) == 4
    assert isinstance(net.blocks[-1][-1], nn.AdaptiveAvgPool2d)
    linears = [m for m in net.head if isinstance(m, nn.Linear)]
    assert [(lin.in_features, lin.out_features) for lin in linears] == [(512, 256), (256, 3)]
    assert any(isinstance(m, nn.Dropout) and m.p == 0.5 for m in net.head)
    assert count_parameters(net) == 1_701_667


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_every_architecture_gives_three_logits_per_image(arch: str) -> None:
    net = build_model(arch).eval()
    with torch.inference_mode():
        assert net(torch.randn(2, 3, 64, 64)).shape == (2, 3)


@pytest.mark.parametrize("arch", ["resnet18", "efficientnet_b0", "beltcnn"])
def test_freeze_leaves_exactly_stage_four_and_the_head_trainable(arch: str) -> None:
    net = build_model(arch, freeze=True)
    stages = STAGES[arch]
    seen: dict[str, set[bool]] = {}
    for name, param in net.named_parameters():
        seen.setdefault(stage_of(name, stages), set()).add(param.requires_grad)
    for stage, trainable in stages.items():
        if stage in seen:  # a stage of only frozen BatchNorm has no parameters left
            assert seen[stage] == {trainable}, f"{arch} {stage}: requires_grad {seen[stage]}"
        else:
            assert not trainable, f"{arch}: trainable stage {stage} has no parameters"
    # BatchNorm statistics of frozen stages must not move in training either.
    for name, module in net.named_modules():
        if isinstance(module, nn.BatchNorm2d | FrozenBatchNorm2d) and name:
            assert isinstance(module, FrozenBatchNorm2d) == (not stages[stage_of(name, stages)])


def test_a_training_step_changes_only_the_unfrozen_stages() -> None:
    net = build_model("resnet18", freeze=True).train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    trainable = [p for p in net.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(trainable, lr=0.1)
    loss = nn.functional.cross_entropy(net(torch.randn(4, 3, 64, 64)), torch.tensor([0, 1, 2, 0]))
    loss.backward()
    optimizer.step()
    after = net.state_dict()
    changed = {k.split(".")[0] for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"layer4", "fc"}


def test_freeze_returns_the_frozen_parameter_names() -> None:
    net = build_model("resnet18")
    frozen = freeze_early_stages(net, "resnet18")
    assert frozen and all(
        n.split(".")[0] in {"conv1", "layer1", "layer2", "layer3"} for n in frozen
    )


def test_imagenet_style_weights_load_with_a_new_head(tmp_path: Path) -> None:
    imagenet = tvm.resnet18(weights=None)  # a 1000-class head, as ImageNet weights have
    path = tmp_path / "resnet18-imagenet.pth"
    torch.save(imagenet.state_dict(), path)
    net = build_model("resnet18", weights=path, freeze=True)
    assert torch.equal(net.layer4[0].conv1.weight, imagenet.layer4[0].conv1.weight)
    assert torch.equal(net.conv1.weight, imagenet.conv1.weight)
    assert net.fc.out_features == 3


def test_an_earlier_beltwatch_checkpoint_loads_whole(tmp_path: Path) -> None:
    earlier = build_model("beltcnn", freeze=True)  # saved frozen: no BatchNorm batch counters
    path = tmp_path / "beltcnn.pt"
    torch.save({"arch": "beltcnn", "state_dict": earlier.state_dict()}, path)
    net = build_model("beltcnn", weights=path)
    assert torch.equal(net.head[-1].weight, earlier.head[-1].weight)
    assert torch.equal(net.blocks[0][0].weight, earlier.blocks[0][0].weight)


def test_weights_of_another_architecture_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "beltcnn.pt"
    torch.save(BeltCNN().state_dict(), path)
    with pytest.raises(ValueError, match="does not fit resnet18"):
        build_model("resnet18", weights=path)


def test_unknown_architecture_is_named() -> None:
    with pytest.raises(ValueError, match="unknown architecture 'vgg'"):
        build_model("vgg")


@pytest.mark.parametrize("arch", ["beltcnn", "resnet18"])
def test_damage_probe_trains_stage_four_and_stays_out_of_the_net(arch: str) -> None:
    net = build_model(arch, freeze=True).train()
    keys = set(net.state_dict())
    probe = DamageProbe(net, arch, 64)
    assert set(net.state_dict()) == keys  # not saved or exported with the net
    net(torch.randn(2, 3, 64, 64))
    masks = torch.zeros(2, 64, 64)
    masks[0, 8:24, 8:24] = 1
    loss = probe.loss(masks)
    loss.backward()
    assert torch.isfinite(loss) and probe.conv.weight.grad is not None
    stage_four = net.get_submodule(PROBE_AT[arch])
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in stage_four.parameters())
    with pytest.raises(RuntimeError, match="run the net"):
        probe.loss(masks)  # the features are used once
