"""Train a classifier on synthetic frames and save a checkpoint.

A checkpoint is a dict saved with torch.save: ``state_dict`` (loadable by nets.build_model's
``weights=``), ``arch``, ``classes``, ``input_size``, ``mean``/``std``, the ``config`` it was
trained with and the per-epoch ``history``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import BatchSampler, RandomSampler, Sampler

from inference.modelmeta import IMAGENET_MEAN, IMAGENET_STD
from inference.training.data import (
    Augment,
    FrameDataset,
    GroupedSampler,
    balanced_sampler,
    class_counts,
    class_weights,
    to_input,
)
from inference.training.frameset import TRAIN_CAMERA, damage_masks, render_set
from inference.training.nets import DamageProbe, build_model, count_parameters
from monitor.core.vocabulary import CLASSES

# Training renders rare classes more often than the belt sees them (80/17/3): the generator
# can, and a critical parcel per 33 frames would waste most of the compute on easy negatives.
# The loss weights (or the sampler) then balance what remains.
TRAIN_MIX = (0.40, 0.35, 0.25)

# Distinct seeds for every set, so no frame is both trained and judged on.
TRAIN_SEED, VAL_SEED, CALIBRATION_SEED, EVAL_SEED = 101, 202, 303, 404

Log = Callable[[str], None]


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on (saved in the checkpoint)."""

    arch: str = "beltcnn"
    input_size: int = 128
    frames: int = 18_000
    val_frames: int = 1_000
    epochs: int = 7
    batch_size: int = 32
    lr: float = 2e-3  # peak of the one-cycle schedule (AdamW)
    weight_decay: float = 5e-4
    label_smoothing: float = 0.05
    balance: str = "weights"  # "weights" (loss), "sampler" (WeightedRandomSampler), "none"
    augment: bool = True
    crop: float = 0.9  # Augment: smallest crop side (1: no zoom)
    rotation: float = 10.0  # Augment: largest rotation, degrees
    class_mix: tuple[float, float, float] = TRAIN_MIX
    twins: bool = True  # render each parcel in all three classes (class_mix unused)
    group_twins: bool = True  # with twins: keep a parcel's three frames in one batch
    damage_map_weight: float = 0.5  # with twins: weight of the DamageProbe loss (0: none)
    seed: int = TRAIN_SEED  # synthetic training frames
    val_seed: int = VAL_SEED
    torch_seed: int = 0  # initialisation, shuffling, augmentation
    camera_size: tuple[int, int] = TRAIN_CAMERA
    weights: str | None = None  # state_dict file to start from
    freeze: bool | None = None  # None: freeze the first three stages iff weights are given
    threads: int = 2
    bf16: bool | None = None  # bfloat16 autocast; None: where the CPU has native bf16
    max_steps: int | None = None  # stop early (tests)

    def __post_init__(self) -> None:
        if self.balance not in ("weights", "sampler", "none"):
            raise ValueError(f"balance must be weights, sampler or none, got {self.balance!r}")
        if self.input_size < 32 or self.frames < 1 or self.epochs < 1 or self.batch_size < 1:
            raise ValueError("input_size >= 32, frames, epochs and batch_size >= 1 are required")


@dataclass
class TrainResult:
    checkpoint: Path
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    images_per_second: float = 0.0


def _native_bf16() -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _predict(net: nn.Module, images: torch.Tensor, batch: int = 256) -> np.ndarray:
    net.eval()
    out = []
    with torch.inference_mode():
        for i in range(0, len(images), batch):
            x = to_input(images[i : i + batch]).contiguous(memory_format=torch.channels_last)
            out.append(net(x).argmax(1).numpy())
    return np.concatenate(out) if out else np.empty(0, np.int64)


def _val_metrics(pred: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    recalls = [
        float((pred[labels == c] == c).mean()) if (labels == c).any() else 0.0
        for c in range(len(CLASSES))
    ]
    return {
        "val_accuracy": float((pred == labels).mean()),
        "val_balanced_accuracy": float(np.mean(recalls)),
        **{f"val_recall_{name}": r for name, r in zip(CLASSES, recalls, strict=True)},
    }


def _training_set(config: TrainConfig, log: Log) -> tuple[np.ndarray, np.ndarray]:
    log(f"rendering {config.frames} training frames (seed {config.seed}) ...")
    return render_set(
        config.frames,
        seed=config.seed,
        input_size=config.input_size,
        class_mix=config.class_mix,
        camera_size=config.camera_size,
        twins=config.twins,
    )


def _validation_set(config: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    return render_set(
        config.val_frames,
        seed=config.val_seed,
        input_size=config.input_size,
        balanced=True,
        camera_size=config.camera_size,
    )


def _sampler(config: TrainConfig, labels: np.ndarray, generator: torch.Generator) -> Sampler[int]:
    if config.balance == "sampler":
        return balanced_sampler(labels, generator=generator)
    if config.twins and config.group_twins:
        return GroupedSampler(len(labels), 3, generator)
    return RandomSampler(range(len(labels)), generator=generator)


def _checkpoint(
    config: TrainConfig,
    net: nn.Module,
    history: list[dict[str, float]],
    frozen: bool,
    seconds: float,
    images_per_second: float,
) -> dict[str, Any]:
    return {
        "seconds": round(seconds, 1),
        "images_per_second": round(images_per_second, 1),
        "arch": config.arch,
        "classes": list(CLASSES),
        "input_size": config.input_size,
        "mean": list(IMAGENET_MEAN),
        "std": list(IMAGENET_STD),
        "config": dataclasses.asdict(config),
        "history": history,
        "frozen": frozen,
        "state_dict": net.state_dict(),
    }


def train(
    config: TrainConfig,
    out: Path,
    *,
    log: Log = print,
    data: tuple[np.ndarray, np.ndarray] | None = None,
    val_data: tuple[np.ndarray, np.ndarray] | None = None,
) -> TrainResult:
    """Train per `config`, save the checkpoint to `out`, return it with the history.

    `data`/`val_data` (uint8 frames, labels) replace the rendered sets when given (tests).
    One function on purpose: setup, the batch loop and the epoch loop share their state
    (net, probe, optimizer, schedule, step counters); split, that state would travel
    through every call, and the loop reads top-down as it is.
    """
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.torch_seed)
    started = time.perf_counter()
    data = data if data is not None else _training_set(config, log)
    val_data = val_data if val_data is not None else _validation_set(config)
    images, labels = data
    log(f"rendered in {time.perf_counter() - started:.0f} s; classes {class_counts(labels)}")

    freeze = config.weights is not None if config.freeze is None else config.freeze
    net = build_model(config.arch, weights=config.weights, freeze=freeze)
    net = net.to(memory_format=torch.channels_last)  # 1.3-1.8x faster convolutions on CPU
    log(
        f"{config.arch}: {count_parameters(net):,} parameters, "
        f"{count_parameters(net, trainable_only=True):,} trainable"
    )

    generator = torch.Generator().manual_seed(config.torch_seed)
    probe = None
    if config.twins and config.damage_map_weight > 0:
        probe = DamageProbe(net, config.arch, config.input_size)
    masks = damage_masks(images, labels) if probe is not None else None
    dataset = FrameDataset(images, labels, masks)
    sampler = _sampler(config, labels, generator)
    loader = BatchSampler(sampler, config.batch_size, drop_last=True)
    loss_weights = class_weights(labels) if config.balance == "weights" else None
    steps_per_epoch = len(loader)
    total_steps = steps_per_epoch * config.epochs
    if config.max_steps is not None:
        total_steps = min(total_steps, config.max_steps)
    trainable = [p for p in net.parameters() if p.requires_grad]
    trainable += list(probe.parameters()) if probe is not None else []
    optimizer = torch.optim.AdamW(trainable, lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, total_steps=max(total_steps, 10), pct_start=0.2
    )
    augment = Augment(crop=config.crop, rotation=config.rotation) if config.augment else None
    # bfloat16 autocast doubles training speed on CPUs with AVX512-BF16 (2.1x measured here);
    # weights and optimizer state stay float32, and the exported model is float32.
    bf16 = _native_bf16() if config.bf16 is None else config.bf16
    log(f"batch {config.batch_size}, {total_steps} steps, bf16 autocast {'on' if bf16 else 'off'}")

    history: list[dict[str, float]] = []
    step, seen, train_seconds = 0, 0, 0.0
    val_images, val_labels = torch.from_numpy(val_data[0]), np.asarray(val_data[1])
    for epoch in range(1, config.epochs + 1):
        net.train()
        t0, loss_sum, map_sum, batches = time.perf_counter(), 0.0, 0.0, 0
        for indices in loader:
            batch, target, batch_masks = dataset.batch(indices)
            if augment:
                x, batch_masks = augment.apply(batch, generator, batch_masks)
            else:
                x = to_input(batch)
            x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
                logits = net(x)
            loss = F.cross_entropy(
                logits.float(), target, weight=loss_weights, label_smoothing=config.label_smoothing
            )
            if probe is not None and batch_masks is not None:
                with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
                    map_loss = probe.loss(batch_masks)
                map_sum += map_loss.item()
                loss = loss + config.damage_map_weight * map_loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            loss_sum += loss.item()
            batches, step, seen = batches + 1, step + 1, seen + len(batch)
            if step % 50 == 0:
                rate = seen / (train_seconds + time.perf_counter() - t0)
                maps = f", damage maps {map_sum / batches:.3f}" if probe is not None else ""
                log(
                    f"  step {step}/{total_steps} loss {loss_sum / batches:.3f}{maps} "
                    f"({rate:.0f} img/s)"
                )
            if step >= total_steps:
                break
        train_seconds += time.perf_counter() - t0
        record = {"epoch": epoch, "step": step, "loss": loss_sum / max(batches, 1)}
        record |= _val_metrics(_predict(net, val_images), val_labels)
        history.append(record)
        log(
            f"epoch {epoch}: loss {record['loss']:.3f}, val accuracy "
            f"{record['val_accuracy']:.3f} (recall "
            + ", ".join(f"{c} {record[f'val_recall_{c}']:.3f}" for c in CLASSES)
            + ")"
        )
        if step >= total_steps:
            break

    out.parent.mkdir(parents=True, exist_ok=True)
    seconds, rate = time.perf_counter() - started, seen / max(train_seconds, 1e-9)
    torch.save(_checkpoint(config, net, history, freeze, seconds, rate), out)
    log(f"saved {out} after {seconds:.0f} s")
    return TrainResult(out, history, seconds, rate)


def load_checkpoint(path: Path) -> tuple[nn.Module, dict[str, Any]]:
    """The net (eval mode) and the checkpoint dict saved by train()."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    # Frozen stages hold FrozenBatchNorm2d buffers: rebuild the same structure to load them.
    net = build_model(
        checkpoint["arch"], num_classes=len(checkpoint["classes"]), freeze=checkpoint["frozen"]
    )
    net.load_state_dict(checkpoint["state_dict"])
    return net.eval(), checkpoint
