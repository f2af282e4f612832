"""The conveyor background and the noise textures the synthetic scenes are painted with.

Everything here is built once per frame size from fixed seeds and cached, so a frame only pays
for a crop and a copy; cached arrays are read-only.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

BELT_VARIANTS = 5
ROLLER_VARIANT = BELT_VARIANTS - 1  # one station in five is a roller conveyor, not a belt

_TEXTURE_SEED = 0xBE17


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def _normalised(a: np.ndarray) -> np.ndarray:
    a = a - a.mean()
    return (a / (a.std() + 1e-6)).astype(np.float32)


@functools.cache
def grain_tile() -> np.ndarray:
    """Fine, pixel-scale noise (zero mean, unit std), 1024x1024: paper and rubber grain."""
    rng = np.random.default_rng([_TEXTURE_SEED, 1])
    noise = rng.standard_normal((1024, 1024), dtype=np.float32)
    return _frozen(_normalised(cv2.GaussianBlur(noise, (0, 0), 0.8)))


@functools.cache
def mottle_tile() -> np.ndarray:
    """Smooth blotches (zero mean, unit std), 256x256, stretched to any size when used."""
    rng = np.random.default_rng([_TEXTURE_SEED, 2])
    noise = rng.standard_normal((256, 256), dtype=np.float32)
    return _frozen(_normalised(cv2.GaussianBlur(noise, (0, 0), 10)))


@functools.cache
def wrinkle_tile() -> np.ndarray:
    """Elongated ridges in [-1, 1], 512x512: plastic-film wrinkles and crumpled cardboard."""
    rng = np.random.default_rng([_TEXTURE_SEED, 3])
    noise = rng.standard_normal((512, 512), dtype=np.float32)
    # Two anisotropic blurs at different angles give creases that cross like real film.
    a = cv2.GaussianBlur(noise, (0, 0), sigmaX=14, sigmaY=3)
    b = cv2.GaussianBlur(noise[::-1].T.copy(), (0, 0), sigmaX=3, sigmaY=10)
    ridges = 1.0 - 2.0 * np.abs(_normalised(a + 0.7 * b)) / 2.5
    return _frozen(np.clip(ridges, -1.0, 1.0).astype(np.float32))


def crop(tile: np.ndarray, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A random h x w window of a texture tile, stretched when the tile is too small."""
    th, tw = tile.shape[:2]
    if h > th or w > tw:
        scale = max(h / th, w / tw) * 1.01
        tile = cv2.resize(tile, (int(tw * scale) + 1, int(th * scale) + 1))
        th, tw = tile.shape[:2]
    y = int(rng.integers(0, th - h + 1))
    x = int(rng.integers(0, tw - w + 1))
    return tile[y : y + h, x : x + w]


def stretched(
    tile: np.ndarray, h: int, w: int, rng: np.random.Generator, zoom: float
) -> np.ndarray:
    """A window of about (h, w) / zoom texels from a tile, resized to h x w (low frequencies)."""
    th, tw = tile.shape[:2]
    ch = min(th, max(2, int(h / zoom)))
    cw = min(tw, max(2, int(w / zoom)))
    return cv2.resize(crop(tile, ch, cw, rng), (w, h), interpolation=cv2.INTER_LINEAR)


def _rubber(rng: np.random.Generator, h: int, w: int, u: int) -> np.ndarray:
    grey = rng.uniform(34.0, 52.0)
    lum = np.full((h, w), grey, np.float32)
    lum += 5.0 * stretched(mottle_tile(), h, w, rng, zoom=u / 90)
    lum += 3.5 * crop(grain_tile(), h, w, rng)
    # Transverse ribs: a bright crest with a shadow behind it, period ~2 % of the frame.
    period = max(3.0, u * rng.uniform(0.016, 0.028))
    phase = 2 * np.pi * np.arange(w, dtype=np.float32) / period
    ribs = 7.0 * np.maximum(np.cos(phase), 0) ** 3 - 4.0 * np.maximum(np.sin(phase), 0) ** 4
    lum += ribs[None, :]
    # Wear streaks along the direction of travel.
    streak_noise = rng.standard_normal((h, w // 4 + 1)).astype(np.float32)
    streaks = cv2.resize(cv2.GaussianBlur(streak_noise, (0, 0), sigmaX=12, sigmaY=0.7), (w, h))
    lum += 3.0 * _normalised(streaks)
    img = np.repeat(lum[:, :, None], 3, axis=2) * np.array([1.0, 1.0, 1.05], np.float32)
    for _ in range(int(w * h / u**2 * 15)):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        level = float(rng.uniform(55, 95))
        radius = max(1, int(u * rng.uniform(0.001, 0.004)))
        cv2.circle(img, (x, y), radius, (level, level * 0.97, level * 0.92), -1, cv2.LINE_AA)
    return img


def _rollers(rng: np.random.Generator, h: int, w: int, u: int) -> np.ndarray:
    period = u * rng.uniform(0.07, 0.1)
    t = (np.arange(w, dtype=np.float32) % period) / period
    gap = 0.12
    across = np.clip((t - gap / 2) / (1 - gap), 0, 1)
    # Cylinders lit from above: bright along the axis, dark where they curve away.
    profile = 40.0 + 85.0 * np.clip(np.sin(np.pi * across), 0, 1) ** 1.5
    profile[(t < gap / 2) | (t > 1 - gap / 2)] = 14.0
    lum = np.repeat(profile[None, :], h, axis=0)
    lum += 4.0 * crop(grain_tile(), h, w, rng)
    lum += 6.0 * stretched(mottle_tile(), h, w, rng, zoom=u / 120)
    return np.repeat(lum[:, :, None], 3, axis=2) * np.array([0.97, 1.0, 1.04], np.float32)


def _rail(rng: np.random.Generator, h: int, w: int, u: int, top: bool) -> np.ndarray:
    base = rng.uniform(95.0, 145.0)
    y = np.linspace(0.0, 1.0, h, dtype=np.float32)
    shape = 0.8 + 0.35 * np.sin(np.pi * (y if top else 1 - y) ** 0.7)
    lum = base * np.repeat(shape[:, None], w, axis=1)
    brushed = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 20, 0.5)
    lum += 6.0 * _normalised(brushed)
    img = np.repeat(lum[:, :, None], 3, axis=2) * np.array([0.96, 0.99, 1.04], np.float32)
    pitch = u * rng.uniform(0.15, 0.22)
    radius = max(1, int(min(h * 0.18, u * 0.012)))
    for x in np.arange(rng.uniform(0, pitch), w, pitch):
        centre = (int(x), h // 2)
        cv2.circle(img, centre, radius, (0.7 * base,) * 3, -1, cv2.LINE_AA)
        cv2.circle(img, centre, max(1, radius // 2), (1.15 * base,) * 3, -1, cv2.LINE_AA)
    return img


@functools.lru_cache(maxsize=16)
def conveyor(h: int, w: int, variant: int) -> np.ndarray:
    """Background of one conveyor variant, (h, 2w, 3) uint8 RGB; crop w columns to scroll it."""
    rng = np.random.default_rng([_TEXTURE_SEED, 10, variant])
    u = min(h, w)
    wide = 2 * w
    img = np.empty((h, wide, 3), np.float32)
    top = int(h * rng.uniform(0.06, 0.13))
    bottom = h - int(h * rng.uniform(0.06, 0.13))
    surface = _rollers if variant == ROLLER_VARIANT else _rubber
    img[top:bottom] = surface(rng, bottom - top, wide, u)
    if top:
        img[:top] = _rail(rng, top, wide, u, top=True)
    if bottom < h:
        img[bottom:] = _rail(rng, h - bottom, wide, u, top=False)
    # The belt runs in a slot below the rails: a shadow line along each inner edge.
    gap = max(1, int(u * 0.008))
    img[top : top + gap] *= 0.35
    img[bottom - gap : bottom] *= 0.35
    return _frozen(np.clip(img, 0, 255).astype(np.uint8))


@functools.lru_cache(maxsize=16)
def vignette(h: int, w: int) -> np.ndarray:
    """Lens fall-off as a (h, w, 3) uint8 map, 255 in the centre (multiply with scale 1/255)."""
    y = np.linspace(-1.0, 1.0, h, dtype=np.float32)[:, None]
    x = np.linspace(-1.0, 1.0, w, dtype=np.float32)[None, :]
    r2 = (x * x + y * y) / 2.0  # 1 in the corners
    fall = 255.0 * (1.0 - 0.3 * r2 - 0.08 * r2 * r2)
    return _frozen(np.repeat(fall[:, :, None], 3, axis=2).astype(np.uint8))
