"""Sets of synthetic frames as the model sees them, and the model-input normalisation.

numpy and OpenCV only (no torch): evaluation, calibration and the benchmarks use this too.

Frames are rendered at a camera's aspect ratio and squashed to the square model input by the
worker's own ``resize_for_model``, so training sees exactly what the worker feeds the model.
Training renders at 240x320, which is what the worker's first halving makes of a 480x640
camera frame (and renders 3x faster); evaluation renders full 480x640 frames.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from inference.frames import resize_for_model
from inference.modelmeta import IMAGENET_MEAN, IMAGENET_STD
from inference.training.camera import CLEAN, CameraConditions
from inference.training.synth import DEFAULT_MIX, FrameSpec, generate, render
from monitor.core.vocabulary import CLASSES

TRAIN_CAMERA = (240, 320)
EVAL_CAMERA = (480, 640)


def render_set(
    n: int,
    *,
    seed: int,
    input_size: int,
    class_mix: Sequence[float] = DEFAULT_MIX,
    balanced: bool = False,
    camera: CameraConditions = CLEAN,
    camera_size: tuple[int, int] = TRAIN_CAMERA,
    start: int = 0,
    twins: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Frames start..start+n-1 of set `seed` as model inputs: (n, S, S, 3) uint8 RGB and
    int64 labels (CLASSES order). About 2 ms a frame at 240x320 on one core.

    twins: frames come in threes, one parcel undamaged, minor and critical (frame i shows
    parcel i // 3 with class i % 3), so the only difference within a three is the damage.

    (Rendering in two processes was slower here than in one: OpenCV already uses both cores.)
    """
    images = np.empty((n, input_size, input_size, 3), np.uint8)
    labels = np.empty(n, np.int64)
    if twins:
        specs = (
            FrameSpec(seed, i // 3, CLASSES[i % 3], camera_size, camera)
            for i in range(start, start + n)
        )
        for i, spec in enumerate(specs):
            images[i] = resize_for_model(render(spec), input_size)
            labels[i] = CLASSES.index(spec.label)
        return images, labels
    frames = generate(
        n,
        seed=seed,
        class_mix=class_mix,
        size=camera_size,
        camera=camera,
        balanced=balanced,
        start=start,
    )
    for i, frame in enumerate(frames):
        images[i] = resize_for_model(frame.image, input_size)
        labels[i] = frame.label_index
    return images, labels


def damage_masks(images: np.ndarray, labels: np.ndarray, threshold: int = 24) -> np.ndarray:
    """Where each frame of a twins set (render_set(twins=True) from a start that is a multiple
    of 3) differs from its parcel's undamaged twin: (N, H, W) uint8 0/1, all 0 if undamaged."""
    position = np.arange(len(labels)) % 3
    if (np.asarray(labels) != position).any():
        raise ValueError("damage masks need a twins set: labels 0, 1, 2, 0, 1, 2, ...")
    masks = np.empty(images.shape[:3], np.uint8)
    for i in range(0, len(images), 3000):  # int16 copies of the whole set would be large
        chunk = images[i : i + 3000].astype(np.int16)
        undamaged = images[np.arange(i, i + len(chunk)) - position[i : i + 3000]]
        diff = np.abs(chunk - undamaged).max(axis=3)
        masks[i : i + len(chunk)] = diff > threshold
    return masks


def normalize(
    images: np.ndarray,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> np.ndarray:
    """(N, H, W, 3) uint8 RGB -> (N, 3, H, W) float32, (pixel / 255 - mean) / std: the
    model-input contract of inference.modelmeta."""
    x = images.astype(np.float32) * np.float32(1 / 255)
    x -= np.asarray(mean, np.float32)
    x /= np.asarray(std, np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
