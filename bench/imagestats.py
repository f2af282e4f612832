"""Benchmark of the worker's image path: JPEG decode, resize to 224, image statistics.

    python bench/imagestats.py [--frames 2000]

For 224x224 and 1280x960 frames (scikit-image's photographs resized, with sensor noise, and
synthetic belt texture; JPEG quality 90) it prints p50/p95/p99 microseconds per frame of:
decoding with OpenCV (inference.frames.decode) and with Pillow; resize paths to 224; and the
statistics with inference.imagestats against the obvious baseline without OpenCV (Pillow
decode and resize, numpy float32 statistics), side by side with the ratio.
"""

from __future__ import annotations

import argparse
import io
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import PIL
from PIL import Image
from skimage import data as photos

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from inference import frames, imagestats
from inference.prepare import prepare

SIZES = [(224, 224), (1280, 960)]
PHOTOS = ["astronaut", "chelsea", "coffee", "rocket"]
LUMA = np.array([0.299, 0.587, 0.114], np.float32)
BLOCK = 60  # calls of one function before the next takes its turn


def make_frames(width: int, height: int) -> list[np.ndarray]:
    """Four photographs and two synthetic textures at width x height, with sensor noise."""
    rng = np.random.default_rng(0)
    made = []
    for name in PHOTOS:
        picture = getattr(photos, name)()
        grow = width > picture.shape[1]
        interpolation = cv2.INTER_CUBIC if grow else cv2.INTER_AREA
        made.append(cv2.resize(picture, (width, height), interpolation=interpolation))
    for sigma in (1.0, 2.5):  # belt-like texture: blurred noise on a lit gradient
        noise = cv2.GaussianBlur(rng.normal(0, 60, (height, width, 3)), (0, 0), sigma)
        light = np.linspace(70, 170, width)[None, :, None]
        made.append(np.clip(noise + light, 0, 255).astype(np.uint8))
    return [np.clip(f + rng.normal(0, 3, f.shape), 0, 255).astype(np.uint8) for f in made]


def jpeg(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def pillow_decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def numpy_stats(rgb: np.ndarray) -> dict[str, float]:
    """The baseline: Pillow resizes, numpy float32 computes the same twelve statistics."""
    small = np.asarray(Image.fromarray(rgb).resize((224, 224), Image.Resampling.BILINEAR))
    luma = small.astype(np.float32) @ LUMA
    lap = numpy_laplacian(luma)
    blur, luma_var = float(lap.var()), float(luma.var())
    native = Image.fromarray(rgb)
    factor = math.ceil(max(native.size) / 640)
    if factor > 1:
        native = native.reduce(factor)
    tile_luma = np.asarray(native).astype(np.float32) @ LUMA
    tile_lap = numpy_laplacian(tile_luma)
    h, w = tile_luma.shape
    ratios = []
    for i in range(3):
        for j in range(3):
            tile = (slice(h * i // 3, h * (i + 1) // 3), slice(w * j // 3, w * (j + 1) // 3))
            if tile_luma[tile].var() > 0:
                ratios.append(tile_lap[tile].var() / tile_luma[tile].var())
    p01, p99 = np.percentile(luma, [1, 99])
    mean_r, mean_g, mean_b = small.reshape(-1, 3).mean(axis=0)
    return {
        "brightness": float(luma.mean()),
        "blur": blur,
        "sharpness": blur / luma_var if luma_var else 0.0,
        "sharpness_tile_min": min(ratios, default=0.0),
        "contrast": math.sqrt(luma_var),
        "clipped_dark": float((luma <= 5).mean()),
        "clipped_bright": float((luma >= 250).mean()),
        "luma_p01": float(p01),
        "luma_p99": float(p99),
        "mean_r": float(mean_r),
        "mean_g": float(mean_g),
        "mean_b": float(mean_b),
    }


def numpy_laplacian(luma: np.ndarray) -> np.ndarray:
    p = np.pad(luma, 1, mode="reflect")
    return p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4 * p[1:-1, 1:-1]


def timed(fns: list[Callable[[object], object]], items: list, n: int) -> list[np.ndarray]:
    """Microseconds of n calls of each function, cycling through items (after a warm-up).
    The functions take turns in blocks of BLOCK calls: a neighbour's load on the machine falls
    on all of them alike, while each block still runs as the function would in a loop."""
    for fn in fns:
        for item in items:
            fn(item)
    samples = np.empty((len(fns), n))
    clock = time.perf_counter_ns
    for start in range(0, n, BLOCK):
        for k, fn in enumerate(fns):
            for i in range(start, min(start + BLOCK, n)):
                item = items[i % len(items)]
                started = clock()
                fn(item)
                samples[k, i] = (clock() - started) / 1000
    return list(samples)


def pcts(samples: np.ndarray) -> str:
    return " ".join(f"{v:8.0f}" for v in np.percentile(samples, [50, 95, 99]))


def compare(label: str, ours: np.ndarray, base: np.ndarray) -> None:
    ratio = np.median(base) / np.median(ours)
    print(f"  {label:30s} {pcts(ours)}  | {pcts(base)}  | {ratio:5.1f}x")


def bench_size(width: int, height: int, n: int) -> None:
    rgbs = make_frames(width, height)
    jpegs = [jpeg(rgb) for rgb in rgbs]
    kb = np.mean([len(j) for j in jpegs]) / 1000
    print(f"\n{width}x{height} frames ({len(rgbs)} distinct, JPEG q90, mean {kb:.0f} kB)")
    print(f"  {'':30s} {'OpenCV (beltwatch)':>26s}  | {'baseline':>26s}  | p50")
    print(
        f"  {'microseconds per frame':30s} {'p50':>8s} {'p95':>8s} {'p99':>8s}  |"
        f" {'p50':>8s} {'p95':>8s} {'p99':>8s}  | ratio"
    )

    decode_cv, decode_pil = timed([frames.decode, pillow_decode], jpegs, n)
    compare("decode JPEG (cv2 | Pillow)", decode_cv, decode_pil)

    # prepare(): the worker's call after decoding, model input + statistics (a 224 model);
    # the baseline resizes too.
    stats_cv, stats_np = timed([prepare, numpy_stats], rgbs, n)
    compare("stats incl. resize (| numpy)", stats_cv, stats_np)
    # Decode and statistics ran on the same frame sequence: frame i's path is their sum.
    compare("decode + stats", decode_cv + stats_cv, decode_pil + stats_np)

    models = [frames.resize_for_model(rgb) for rgb in rgbs]
    reduced = [frames.reduce(rgb, 640) for rgb in rgbs]
    pairs = list(zip(models, reduced, strict=True))
    (resized_only,) = timed([lambda pair: imagestats.compute_resized(*pair)], pairs, n)
    print(f"  {'stats only (compute_resized)':30s} {pcts(resized_only)}")

    if (width, height) == (224, 224):
        return
    print(
        f"  resize {width}x{height} -> 224x224; PSNR against INTER_AREA on the photographs /"
        " on a zone plate (aliasing)"
    )
    zone = zone_plate(width, height)

    def area(rgb: np.ndarray) -> np.ndarray:
        return cv2.resize(rgb, (224, 224), interpolation=cv2.INTER_AREA)

    def linear(rgb: np.ndarray) -> np.ndarray:
        return cv2.resize(rgb, (224, 224), interpolation=cv2.INTER_LINEAR)

    def pyr_linear(rgb: np.ndarray) -> np.ndarray:
        return linear(cv2.pyrDown(cv2.pyrDown(rgb)))

    paths = {
        "INTER_AREA": area,
        "INTER_LINEAR": linear,
        "pyrDown x2 + LINEAR": pyr_linear,
        "halve x2 + LINEAR (chosen)": frames.resize_for_model,
        "downscale (+ tile source)": lambda rgb: frames.downscale(rgb).squares[224],
    }
    times = timed(list(paths.values()), rgbs, n)
    for (label, path), samples in zip(paths.items(), times, strict=True):
        photo_db = psnr([path(rgb) for rgb in rgbs[: len(PHOTOS)]], [area(rgb) for rgb in rgbs])
        zone_db = psnr([path(zone)], [area(zone)])
        print(f"  {label:30s} {pcts(samples)}   PSNR {photo_db:5.1f} / {zone_db:5.1f} dB")


def zone_plate(width: int, height: int) -> np.ndarray:
    """Concentric rings whose frequency rises to the pixel pitch at the edges."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    rings = 127.5 + 127.5 * np.cos(np.pi * ((x - width / 2) ** 2 + (y - height / 2) ** 2) / width)
    return np.repeat(rings.astype(np.uint8)[:, :, None], 3, axis=2)


def psnr(images: list[np.ndarray], references: list[np.ndarray]) -> float:
    errors = [np.mean((a.astype(float) - b) ** 2) for a, b in zip(images, references, strict=False)]
    mse = float(np.mean(errors))
    return 10 * math.log10(255**2 / mse) if mse else math.inf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=2000, help="timed frames per row")
    args = parser.parse_args()
    started = time.perf_counter()
    print(
        f"OpenCV {cv2.__version__} ({cv2.getNumThreads()} threads), Pillow {PIL.__version__}, "
        f"numpy {np.__version__}; {args.frames} frames per row"
    )
    for width, height in SIZES:
        bench_size(width, height, args.frames)
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
