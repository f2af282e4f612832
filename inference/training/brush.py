"""Drawing primitives for damage: ragged outlines, soft coverage, openings, contents, folds.

They paint on a parcel ``Canvas`` in place, inside a small window around the shape, so a
defect costs in proportion to its size, not the parcel's.
"""

from __future__ import annotations

import cv2
import numpy as np

from inference.training.belt import stretched, wrinkle_tile
from inference.training.parcel import Canvas

FIBRE = np.array([208.0, 182.0, 142.0], np.float32)  # torn cardboard shows its brown core
INSIDE = np.array([40.0, 32.0, 26.0], np.float32)  # the inside of a parcel, in shadow
CONTENTS = (
    (204, 180, 140),
    (214, 214, 220),
    (230, 230, 226),
    (60, 60, 66),
    (200, 60, 50),
    (50, 90, 170),
    (236, 200, 60),
)


def face_point(c: Canvas, rng: np.random.Generator, inset: float) -> np.ndarray:
    """A random point on the top face, `inset` short sides away from its edges."""
    x0, y0, x1, y1 = c.face
    m = inset * c.short
    return np.array(
        [rng.uniform(x0 + m, max(x0 + m, x1 - m)), rng.uniform(y0 + m, max(y0 + m, y1 - m))]
    )


def blob(
    rng: np.random.Generator, centre: np.ndarray, rx: float, ry: float, rough: float, n: int = 32
) -> np.ndarray:
    """An irregular closed outline: a wobbly ellipse with jagged vertices."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = np.ones(n)
    for k in (2, 3, 5):
        r += rough / k * 1.5 * np.sin(k * t + rng.uniform(0, 2 * np.pi))
    r *= 1 + rng.normal(0, rough * 0.35, n)
    angle = rng.uniform(0, np.pi)
    x, y = rx * r * np.cos(t), ry * r * np.sin(t)
    ca, sa = np.cos(angle), np.sin(angle)
    return np.stack([centre[0] + ca * x - sa * y, centre[1] + sa * x + ca * y], axis=1)


def region(c: Canvas, pts: np.ndarray, pad: float) -> tuple[slice, slice, np.ndarray] | None:
    """The canvas window around some points, and their origin; None when it is empty."""
    h, w = c.mask.shape
    x0, y0 = np.maximum(np.floor(pts.min(0) - pad), 0).astype(int)
    x1, y1 = np.minimum(np.ceil(pts.max(0) + pad), (w, h)).astype(int)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return slice(y0, y1), slice(x0, x1), np.array([x0, y0], np.float64)


def alpha(
    shape: tuple[int, ...], polys: list[np.ndarray], origin: np.ndarray, blur: float = 0.0
) -> np.ndarray:
    """Antialiased coverage of polygons, float32 in [0, 1], optionally softened."""
    a = np.zeros(shape[:2], np.float32)
    pts = [np.round((p - origin) * 4).astype(np.int32) for p in polys]
    cv2.fillPoly(a, pts, 1.0, cv2.LINE_AA, shift=2)
    if blur > 0.3:
        a = cv2.GaussianBlur(a, (0, 0), blur)
    return a


def paint(albedo: np.ndarray, coverage: np.ndarray, colour: np.ndarray) -> None:
    """Blend a colour into a window of albedo, in place, by a coverage map."""
    albedo += (colour - albedo) * coverage[:, :, None]


def fibre(c: Canvas) -> np.ndarray:
    """The colour a torn edge shows for this parcel's material."""
    if c.material == "polybag":  # stretched film turns milky
        return c.colour * 0.45 + 235.0 * 0.55
    return FIBRE


def opening(
    c: Canvas, rng: np.random.Generator, outline: np.ndarray, rim_px: float, with_contents: bool
) -> None:
    """Paint a hole: a torn light rim, a dark inside lit from one wall, maybe some contents."""
    centre = outline.mean(0)
    rim = centre + (outline - centre) * (
        1 + rim_px / (np.linalg.norm(outline - centre, axis=1, keepdims=True) + 1e-6)
    )
    rim += rng.normal(0, rim_px * 0.4, rim.shape)
    window = region(c, rim, 2)
    if window is None:
        return
    ys, xs, origin = window
    albedo, shade = c.albedo[ys, xs], c.shade[ys, xs]
    paint(albedo, alpha(albedo.shape, [rim], origin), fibre(c))
    hole = alpha(albedo.shape, [outline], origin)
    h, w = hole.shape
    # The wall nearest the light is in shadow, the far one catches some light.
    gx = np.linspace(-1, 1, w, dtype=np.float32)[None, :] * c.light[0]
    gy = np.linspace(-1, 1, h, dtype=np.float32)[:, None] * c.light[1]
    inside = INSIDE * rng.uniform(0.6, 1.3)
    albedo += (inside - albedo) * hole[:, :, None]
    shade += ((0.8 + 0.35 * (gx + gy)) - shade) * hole
    if with_contents and rng.random() < 0.55:
        stuff = blob(rng, centre + rng.normal(0, 0.15, 2) * (w, h), 0.3 * w, 0.25 * h, 0.3)
        paint_contents(c, rng, stuff, lit=0.55, within=(hole, ys, xs))


def paint_contents(
    c: Canvas,
    rng: np.random.Generator,
    outline: np.ndarray,
    lit: float,
    within: tuple[np.ndarray, slice, slice] | None = None,
) -> np.ndarray | None:
    """Paint crumpled packing or goods from inside the parcel; returns its coverage."""
    if within is None:
        window = region(c, outline, 2)
        if window is None:
            return None
        ys, xs, origin = window
        a = alpha(c.shade[ys, xs].shape, [outline], origin, blur=0.6)
    else:
        limit, ys, xs = within
        origin = np.array([xs.start, ys.start], np.float64)
        a = alpha(limit.shape, [outline], origin, blur=0.6) * limit
    albedo, shade = c.albedo[ys, xs], c.shade[ys, xs]
    h, w = shade.shape
    colour = np.array(CONTENTS[int(rng.integers(len(CONTENTS)))], np.float32)
    paint(albedo, a, colour)
    crumple = stretched(wrinkle_tile(), h, w, rng, zoom=max(1.0, min(h, w) / 60))
    shade += (lit * (1 + 0.25 * crumple) - shade) * a
    c.gloss[ys, xs] *= 1 - a
    # A dark fold where it meets the parcel.
    shade *= 1 - 0.6 * (4 * a * (1 - a)) ** 2
    return a


def folds(
    c: Canvas,
    rng: np.random.Generator,
    shade: np.ndarray,
    line: np.ndarray,
    towards: np.ndarray,
    origin: np.ndarray,
    extent: float,
) -> None:
    """Creases running back from a crushed outline: a dark valley beside a lit ridge."""
    thick = max(1, round(c.short / 120))
    offset = c.light * max(1.0, thick)
    for _ in range(int(rng.integers(3, 7))):
        p0 = line[int(rng.integers(len(line)))]
        p1 = p0 + (towards - p0) * rng.uniform(0.8, 1.6) + rng.normal(0, 0.15 * extent, 2)
        for shift, value in ((-offset, 0.55), (offset, 1.35)):
            a = tuple(np.round(p0 + shift - origin).astype(int))
            b = tuple(np.round(p1 + shift - origin).astype(int))
            cv2.line(shade, a, b, value, thick, cv2.LINE_AA)
