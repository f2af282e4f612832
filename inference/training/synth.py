"""Deterministic synthetic conveyor frames: one parcel on a belt, undamaged, minor or critical.

A frame is a pure function of its ``FrameSpec``: the scene comes from an RNG seeded with
(seed, index), the damage from a second stream and the camera noise from a third, so a frame
does not depend on the order frames are made in, and a parcel's undamaged, minor and critical
twins (same seed and index) differ only where the damage is. numpy and OpenCV only: the
simulator and the demo use this without the ``train`` extra.

    python -m inference.training.synth --contact-sheet out.png
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from inference.training.belt import BELT_VARIANTS, conveyor, vignette
from inference.training.camera import CLEAN, FAULTS, CameraConditions, apply_camera, camera_fault
from inference.training.damage import Damage, apply_damage
from inference.training.parcel import composite, paint_parcel, plan_parcel
from monitor.core.vocabulary import CLASSES

# About 3 % of parcels are critical in normal operation (README).
DEFAULT_MIX = (0.80, 0.17, 0.03)

_SCENE, _DAMAGE, _CAMERA, _LABEL = 0, 1, 2, 3  # independent RNG streams of one frame


@dataclass(frozen=True)
class FrameSpec:
    """Everything a frame depends on. Size is (height, width)."""

    seed: int
    index: int
    label: str
    size: tuple[int, int] = (480, 640)
    camera: CameraConditions = CLEAN
    belt: int | None = None  # conveyor variant, 0..BELT_VARIANTS-1; None: drawn per frame

    def __post_init__(self) -> None:
        if self.label not in CLASSES:
            raise ValueError(f"label must be one of {CLASSES}, got {self.label!r}")
        if self.seed < 0 or self.index < 0:
            raise ValueError(f"seed and index must be >= 0, got {self.seed}, {self.index}")
        if len(self.size) != 2 or min(self.size) < 32:
            raise ValueError(f"size must be (height, width), each >= 32, got {self.size!r}")
        if self.belt is not None and not 0 <= self.belt < BELT_VARIANTS:
            raise ValueError(f"belt must lie in [0, {BELT_VARIANTS}), got {self.belt!r}")


@dataclass(frozen=True)
class SynthFrame:
    """A rendered frame with its label and what was drawn (for debugging and evaluation)."""

    image: np.ndarray  # (H, W, 3) uint8 RGB
    spec: FrameSpec
    material: str  # "box", "mailer" or "polybag"
    damage: tuple[Damage, ...]

    @property
    def label(self) -> str:
        return self.spec.label

    @property
    def label_index(self) -> int:
        return CLASSES.index(self.spec.label)


def _rng(spec: FrameSpec, stream: int) -> np.random.Generator:
    return np.random.default_rng([spec.seed, spec.index, stream])


def render_frame(spec: FrameSpec) -> SynthFrame:
    """Render one frame and describe it."""
    h, w = spec.size
    scene = _rng(spec, _SCENE)
    variant = int(scene.integers(BELT_VARIANTS))  # drawn even when fixed, to keep the stream
    if spec.belt is not None:
        variant = spec.belt
    offset = int(scene.integers(0, w + 1))  # the belt has moved on since the last parcel
    frame = conveyor(h, w, variant)[:, offset : offset + w].copy()
    plan = plan_parcel(scene, h, w)
    canvas = paint_parcel(plan, scene)
    damage = apply_damage(canvas, spec.label, _rng(spec, _DAMAGE))
    composite(frame, canvas, plan)
    # Lighting differs a little from parcel to parcel (stations, time of day, lamp ageing).
    level = scene.uniform(0.88, 1.08)
    tint = scene.uniform(0.985, 1.015, 3)
    frame = cv2.multiply(frame, vignette(h, w), scale=float(level) / 255.0)
    frame = cv2.multiply(frame, (*(float(t) for t in tint), 0.0))
    if not spec.camera.is_clean:
        frame = apply_camera(frame, spec.camera, _rng(spec, _CAMERA))
    return SynthFrame(frame, spec, plan.material, tuple(damage))


def render(spec: FrameSpec) -> np.ndarray:
    """Render one frame: (H, W, 3) uint8 RGB."""
    return render_frame(spec).image


def label_for(seed: int, index: int, class_mix: Sequence[float] = DEFAULT_MIX) -> str:
    """The class of frame `index` in set `seed`, drawn from `class_mix` (order independent)."""
    p = np.asarray(class_mix, np.float64)
    if p.shape != (len(CLASSES),) or (p < 0).any() or p.sum() <= 0:
        raise ValueError(f"class_mix needs {len(CLASSES)} non-negative shares, got {class_mix!r}")
    rng = np.random.default_rng([seed, index, _LABEL])
    return CLASSES[int(rng.choice(len(CLASSES), p=p / p.sum()))]


def generate(
    n: int,
    *,
    seed: int,
    class_mix: Sequence[float] = DEFAULT_MIX,
    size: tuple[int, int] = (480, 640),
    camera: CameraConditions = CLEAN,
    balanced: bool = False,
    start: int = 0,
) -> Iterator[SynthFrame]:
    """Frames start..start+n-1 of set `seed`; balanced cycles through the classes instead."""
    for index in range(start, start + n):
        label = CLASSES[index % len(CLASSES)] if balanced else label_for(seed, index, class_mix)
        yield render_frame(FrameSpec(seed, index, label, size, camera))


def make_dataset(
    n: int,
    *,
    seed: int,
    class_mix: Sequence[float] = DEFAULT_MIX,
    size: tuple[int, int] = (224, 224),
    balanced: bool = False,
    camera: CameraConditions = CLEAN,
) -> tuple[np.ndarray, np.ndarray]:
    """n frames as one (n, H, W, 3) uint8 array and their class indices (int64, CLASSES order)."""
    images = np.empty((n, *size, 3), np.uint8)
    labels = np.empty(n, np.int64)
    for i, frame in enumerate(
        generate(n, seed=seed, class_mix=class_mix, size=size, camera=camera, balanced=balanced)
    ):
        images[i] = frame.image
        labels[i] = frame.label_index
    return images, labels


def _caption(tile: np.ndarray, text: str) -> np.ndarray:
    bar = np.full((18, tile.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, text, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([bar, tile])


def contact_sheet(
    path: str | Path | None = None,
    *,
    seed: int = 0,
    columns: int = 8,
    tile: tuple[int, int] = (240, 320),
    severity: float = 0.7,
) -> np.ndarray:
    """A grid for eyeballing the generator; rows are classes, then one parcel under each fault.

    The class rows are twins: each column is one parcel, undamaged, minor and critical. Saves a
    PNG when `path` is given; returns the RGB sheet.
    """
    columns = max(columns, 1 + len(FAULTS))
    rows = []
    for label in CLASSES:
        row = []
        for i in range(columns):
            f = render_frame(FrameSpec(seed, i, label, tile))
            kinds = ", ".join(d.kind for d in f.damage) or f.material
            row.append(_caption(f.image, f"{label}: {kinds}"))
        rows.append(np.hstack(row))
    for index, label in ((columns, "undamaged"), (columns + 1, "critical")):
        names = ("clean", *FAULTS)
        row = []
        for name in names:
            camera = CLEAN if name == "clean" else camera_fault(name, severity)
            image = render(dataclasses.replace(FrameSpec(seed, index, label, tile), camera=camera))
            row.append(_caption(image, f"{label} / {name}"))
        blank = np.full_like(row[0], 255)
        rows.append(np.hstack(row + [blank] * (columns - len(row))))
    sheet = np.vstack(rows)
    if path is not None:
        cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    return sheet


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``python -m inference.training.synth``."""
    parser = argparse.ArgumentParser(prog="python -m inference.training.synth", description=__doc__)
    parser.add_argument("--contact-sheet", type=Path, required=True, help="PNG file to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--columns", type=int, default=9)
    parser.add_argument("--severity", type=float, default=0.7, help="camera fault severity")
    args = parser.parse_args(argv)
    contact_sheet(args.contact_sheet, seed=args.seed, columns=args.columns, severity=args.severity)
    print(f"wrote {args.contact_sheet}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
