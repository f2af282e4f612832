"""Frames per second of the synthetic frame generator, clean and with camera faults.

.venv/bin/python bench/synth.py [--frames 300]
"""

from __future__ import annotations

import argparse
import time

from inference.training.camera import CLEAN, FAULTS, camera_fault
from inference.training.synth import FrameSpec, label_for, render


def frames_per_second(size: tuple[int, int], faulty: bool, frames: int, seed: int) -> float:
    """Render `frames` frames (a realistic class mix; faults cycled when faulty)."""
    for index in range(10):  # warm the per-size caches (belt textures, vignette) first
        render(FrameSpec(seed, index, "undamaged", size))
    specs = [
        FrameSpec(
            seed,
            index,
            label_for(seed, index),
            size,
            camera_fault(FAULTS[index % len(FAULTS)], 0.7) if faulty else CLEAN,
        )
        for index in range(frames)
    ]
    start = time.perf_counter()
    for spec in specs:
        render(spec)
    return frames / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(f"{'size (h x w)':>14} {'camera':>16} {'frames/s':>9} {'ms/frame':>9}")
    for size in ((224, 224), (128, 128), (480, 640)):
        for faulty in (False, True):
            fps = frames_per_second(size, faulty, args.frames, args.seed)
            camera = "faults cycled" if faulty else "clean"
            print(f"{size[0]:>6} x {size[1]:<5} {camera:>16} {fps:9.1f} {1000 / fps:9.2f}")


if __name__ == "__main__":
    main()
