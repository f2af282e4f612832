"""torch datasets over synthetic frames, batch augmentation, and the answers to imbalance.

Augmentation runs on whole batches as tensor operations (one affine resample and a few
multiplies per batch) instead of per image in DataLoader workers: on a 2-core machine,
workers would only take cores away from the training step.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset, Sampler, WeightedRandomSampler

from inference.frames import resize_for_model
from inference.modelmeta import IMAGENET_MEAN, IMAGENET_STD
from inference.training.camera import CLEAN, CameraConditions
from inference.training.frameset import TRAIN_CAMERA
from inference.training.synth import DEFAULT_MIX, FrameSpec, label_for, render
from monitor.core.vocabulary import CLASSES


class FrameDataset(Dataset[tuple[torch.Tensor, int]]):
    """Pre-rendered frames: items are (H, W, 3) uint8 tensors and class indices; optional
    (H, W) damage masks travel with them through batch()."""

    def __init__(
        self, images: np.ndarray, labels: np.ndarray, masks: np.ndarray | None = None
    ) -> None:
        if images.ndim != 4 or images.shape[3] != 3 or images.dtype != np.uint8:
            raise ValueError(
                f"images must be (N, H, W, 3) uint8, not {images.shape} {images.dtype}"
            )
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        if masks is not None and masks.shape != images.shape[:3]:
            raise ValueError(f"masks must be {images.shape[:3]}, not {masks.shape}")
        self.images = torch.from_numpy(images)
        self.labels = torch.from_numpy(np.asarray(labels, np.int64))
        self.masks = None if masks is None else torch.from_numpy(masks)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.images[i], int(self.labels[i])

    def batch(
        self, indices: Sequence[int]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Frames, labels and damage masks (None without) of `indices`, in one gather."""
        idx = torch.as_tensor(indices)
        masks = None if self.masks is None else self.masks[idx]
        return self.images[idx], self.labels[idx], masks


class RenderedDataset(Dataset[tuple[torch.Tensor, int]]):
    """Frames rendered on demand (for DataLoader workers on a bigger machine); item i is frame
    `i` of set `seed`, identical to what render_set() makes."""

    def __init__(
        self,
        n: int,
        *,
        seed: int,
        input_size: int,
        class_mix: Sequence[float] = DEFAULT_MIX,
        camera: CameraConditions = CLEAN,
        camera_size: tuple[int, int] = TRAIN_CAMERA,
    ) -> None:
        self.n, self.seed, self.input_size = n, seed, input_size
        self.class_mix, self.camera, self.camera_size = tuple(class_mix), camera, camera_size

    def __len__(self) -> int:
        return self.n

    def label(self, i: int) -> int:
        return CLASSES.index(label_for(self.seed, i, self.class_mix))

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        label = label_for(self.seed, i, self.class_mix)
        image = render(FrameSpec(self.seed, i, label, self.camera_size, self.camera))
        return torch.from_numpy(resize_for_model(image, self.input_size)), CLASSES.index(label)


def class_counts(labels: Sequence[int] | np.ndarray, num_classes: int = len(CLASSES)) -> np.ndarray:
    """How many frames of each class."""
    return np.bincount(np.asarray(labels, np.int64), minlength=num_classes)


def class_weights(
    labels: Sequence[int] | np.ndarray, num_classes: int = len(CLASSES)
) -> torch.Tensor:
    """Loss weights n / (k * count): every class weighs as much as the others in total."""
    counts = class_counts(labels, num_classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(num_classes)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return torch.tensor(weights, dtype=torch.float32)


def balanced_sampler(
    labels: Sequence[int] | np.ndarray,
    num_samples: int | None = None,
    generator: torch.Generator | None = None,
) -> WeightedRandomSampler:
    """Draw frames with replacement so that each class comes up equally often."""
    labels = np.asarray(labels, np.int64)
    per_frame = class_weights(labels).numpy()[labels]
    return WeightedRandomSampler(
        per_frame.tolist(), num_samples or len(labels), replacement=True, generator=generator
    )


class GroupedSampler(Sampler[int]):
    """A random order that keeps runs of `group` consecutive frames together: with twins
    (render_set(twins=True)) one parcel's undamaged, minor and critical frames share a batch,
    so the gradient compares frames that differ only by the damage."""

    def __init__(self, n: int, group: int = 3, generator: torch.Generator | None = None) -> None:
        self.n, self.group, self.generator = n, group, generator

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        groups = torch.randperm(-(-self.n // self.group), generator=self.generator).tolist()
        for g in groups:
            yield from range(g * self.group, min((g + 1) * self.group, self.n))


@dataclass(frozen=True)
class Augment:
    """Random geometry and colour for a batch of uint8 frames; returns normalised NCHW float.

    Geometry: a crop of `crop` to 100 % of each side (a zoom), a shift within the frame,
    rotation by up to `rotation` degrees, horizontal and vertical flips (a parcel seen from
    above has no up). Colour: brightness, contrast, saturation and a white-balance tilt.
    Camera faults (blur, smudge, noise) are deliberately absent: the monitor must see the
    model suffer under them.
    """

    crop: float = 0.85
    rotation: float = 15.0
    brightness: float = 0.25
    contrast: float = 0.2
    saturation: float = 0.2
    white_balance: float = 0.05
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return self.apply(images, generator)[0]

    def apply(
        self,
        images: torch.Tensor,
        generator: torch.Generator,
        masks: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Augment (N, H, W, 3) uint8 frames, moving (N, H, W) damage masks with them."""
        x = images.permute(0, 3, 1, 2).float().div_(255)
        n = x.shape[0]
        if masks is not None:  # resampled as a fourth channel: the same geometry exactly
            x = torch.cat([x, masks[:, None].float()], 1)

        def uniform(lo: float, hi: float, *shape: int) -> torch.Tensor:
            return torch.rand(n, *shape, generator=generator) * (hi - lo) + lo

        scale = uniform(self.crop, 1.0)
        angle = uniform(-self.rotation, self.rotation) * (math.pi / 180)
        flip = torch.where(torch.rand(n, 2, generator=generator) < 0.5, -1.0, 1.0)
        shift = uniform(-1, 1, 2) * (1 - scale)[:, None]  # keep the crop inside the frame
        cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
        theta = torch.stack(
            [
                torch.stack([cos * flip[:, 0], -sin * flip[:, 1], shift[:, 0]], 1),
                torch.stack([sin * flip[:, 0], cos * flip[:, 1], shift[:, 1]], 1),
            ],
            1,
        )
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
        if masks is not None:
            x, masks = x[:, :3], x[:, 3]

        x = x * uniform(1 - self.brightness, 1 + self.brightness, 1, 1, 1)
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * uniform(1 - self.contrast, 1 + self.contrast, 1, 1, 1) + mean
        grey = (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
        x = (x - grey) * uniform(1 - self.saturation, 1 + self.saturation, 1, 1, 1) + grey
        x = x * uniform(1 - self.white_balance, 1 + self.white_balance, 3, 1, 1)
        return normalize_batch(x.clamp_(0, 1), self.mean, self.std), masks


def to_input(
    images: torch.Tensor,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> normalised (N, 3, H, W) float32, without augmentation."""
    return normalize_batch(images.permute(0, 3, 1, 2).float().div_(255), mean, std)


def normalize_batch(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """(x - mean) / std per channel of an NCHW batch in [0, 1]."""
    m = torch.tensor(mean, dtype=x.dtype).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=x.dtype).view(1, 3, 1, 1)
    return (x - m) / s
