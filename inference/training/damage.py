"""Damage painted onto a parcel's canvas: the visual difference between the three classes.

Minor damage is small and shallow (slits, punctures, dents, scuffs, small stains, a crushed
edge); critical damage opens the parcel or deforms it (holes showing the dark inside, crushed
corners, open flaps, burst bags, spreading water damage). Size ranges of the two overlap a
little at their ends, as real grading does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from inference.training import brush
from inference.training.belt import mottle_tile, stretched, wrinkle_tile
from inference.training.parcel import Canvas


@dataclass(frozen=True)
class Damage:
    """One painted defect: its kind and its size as a fraction of the face's short side."""

    kind: str
    size: float


def tear(c: Canvas, rng: np.random.Generator, size: float) -> None:
    """A slit: a short jagged split with a light torn rim and a thin dark gap."""
    length = size * c.short
    start = brush.face_point(c, rng, 0.1)
    theta = rng.uniform(0, np.pi)
    along, perp = (
        np.array([np.cos(theta), np.sin(theta)]),
        np.array([-np.sin(theta), np.cos(theta)]),
    )
    t = np.linspace(0, 1, 10)[:, None]
    line = (
        start
        + t * along * length
        + perp * rng.normal(0, 0.05 * length, (10, 1)) * np.sin(np.pi * t)
    )
    width = length * rng.uniform(0.05, 0.12) * np.sin(np.pi * t) ** 0.8 + 0.4
    rim = width / 2 + max(1.0, 0.04 * length) * rng.uniform(0.7, 1.6, (10, 1))
    gap = np.vstack([line + perp * width / 2, (line - perp * width / 2)[::-1]])
    fibres = np.vstack([line + perp * rim, (line - perp * rim)[::-1]])
    window = brush.region(c, fibres, 2)
    if window is None:
        return
    ys, xs, origin = window
    albedo = c.albedo[ys, xs]
    brush.paint(albedo, brush.alpha(albedo.shape, [fibres], origin), brush.fibre(c))
    brush.paint(albedo, brush.alpha(albedo.shape, [gap], origin), brush.INSIDE)
    # One lip of the tear stands up and throws a thin shadow on the other.
    lip = brush.alpha(albedo.shape, [fibres + c.light * -1.5], origin, blur=0.8)
    c.shade[ys, xs] *= 1 - 0.25 * lip


def puncture(c: Canvas, rng: np.random.Generator, size: float) -> None:
    """A small hole with a few cracks running out of it."""
    r = size * c.short
    centre = brush.face_point(c, rng, 0.12)
    outline = brush.blob(rng, centre, r, r * rng.uniform(0.6, 1.0), 0.35, n=16)
    brush.opening(c, rng, outline, max(1.0, 0.25 * r), with_contents=False)
    for _ in range(int(rng.integers(2, 5))):
        a = rng.uniform(0, 2 * np.pi)
        p0 = centre + r * np.array([np.cos(a), np.sin(a)])
        p1 = p0 + r * rng.uniform(0.5, 1.2) * np.array([np.cos(a), np.sin(a)])
        cv2.line(
            c.shade,
            tuple(np.round(p0).astype(int)),
            tuple(np.round(p1).astype(int)),
            0.55,
            1,
            cv2.LINE_AA,
        )


def hole(c: Canvas, rng: np.random.Generator, size: float) -> None:
    """A large tear or hole: a ragged opening showing the dark inside, torn flaps at its rim."""
    r = size * c.short
    centre = brush.face_point(c, rng, 0.15)
    outline = brush.blob(
        rng, centre, r * rng.uniform(1.0, 1.8), r * rng.uniform(0.6, 1.0), 0.3, n=40
    )
    brush.opening(c, rng, outline, max(1.5, 0.12 * r), with_contents=True)
    colour = c.colour * 0.82
    for _ in range(int(rng.integers(1, 4))):  # torn flaps folded into the hole
        i = int(rng.integers(len(outline)))
        a, b = outline[i], outline[(i + 4) % len(outline)]
        tip = (a + b) / 2 + (centre - (a + b) / 2) * rng.uniform(0.3, 0.7)
        cv2.fillPoly(
            c.albedo,
            [np.round(np.array([a, b, tip]) * 4).astype(np.int32)],
            tuple(float(v) for v in colour),
            cv2.LINE_AA,
            shift=2,
        )


def dent(c: Canvas, rng: np.random.Generator, size: float) -> None:
    """A shallow dent: a shaded hollow lit from one side, with a crease across it."""
    r = size * c.short
    centre = brush.face_point(c, rng, 0.1)
    outline = brush.blob(rng, centre, r, r * rng.uniform(0.5, 1.0), 0.2, n=20)
    window = brush.region(c, outline, r * 0.6)
    if window is None:
        return
    ys, xs, origin = window
    shade = c.shade[ys, xs]
    hollow = brush.alpha(shade.shape, [outline], origin, blur=0.3 * r)
    # For a hollow z = -D the surface normal leans along grad D, so facing the light is +grad.
    gx = cv2.Sobel(hollow, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(hollow, cv2.CV_32F, 0, 1, ksize=3)
    slope = gx * c.light[0] + gy * c.light[1]
    slope /= max(float(np.abs(slope).max()), 1e-6)
    shade *= 1 + rng.uniform(0.2, 0.35) * slope - 0.08 * hollow
    p0 = centre + rng.normal(0, 0.5 * r, 2)
    p1 = 2 * centre - p0
    crease = np.zeros_like(shade)
    cv2.line(
        crease,
        tuple(np.round(p0 - origin).astype(int)),
        tuple(np.round(p1 - origin).astype(int)),
        1.0,
        1,
        cv2.LINE_AA,
    )
    shade *= 1 - 0.25 * crease * hollow


def scuff(c: Canvas, rng: np.random.Generator, size: float) -> None:
    """Abrasion: a patch of short parallel streaks, lighter (rubbed) or darker (belt rubber)."""
    r = size * c.short
    centre = brush.face_point(c, rng, 0.05)
    theta = rng.uniform(0, np.pi)
    along, perp = (
        np.array([np.cos(theta), np.sin(theta)]),
        np.array([-np.sin(theta), np.cos(theta)]),
    )
    window = brush.region(c, np.array([centre - r, centre + r]), 2)
    if window is None:
        return
    ys, xs, origin = window
    albedo = c.albedo[ys, xs]
    marks = np.zeros(albedo.shape[:2], np.float32)
    patch = brush.blob(rng, centre, 0.8 * r, 0.4 * r, 0.3, n=16)
    marks += 0.3 * brush.alpha(marks.shape, [patch], origin, blur=0.2 * r)
    thick = max(1, round(c.short / 100))
    for _ in range(int(rng.integers(8, 20))):
        mid = centre + perp * rng.normal(0, 0.3 * r) + along * rng.normal(0, 0.25 * r)
        half = along * r * rng.uniform(0.15, 0.5)
        p0, p1 = (
            np.round(mid - half - origin).astype(int),
            np.round(mid + half - origin).astype(int),
        )
        cv2.line(marks, tuple(p0), tuple(p1), float(rng.uniform(0.5, 1.0)), thick, cv2.LINE_AA)
    light_mark = c.colour.mean() < 120 or rng.random() < 0.6
    colour = np.minimum(c.colour * 1.2 + 60, 250) if light_mark else np.float32([40, 38, 38])
    brush.paint(albedo, np.clip(marks, 0, 1) * rng.uniform(0.65, 0.95), colour)


def stain(c: Canvas, rng: np.random.Generator, size: float, spreading: bool = False) -> None:
    """A wet patch: darker, warmer board with a darker tide line where it dried at its edge."""
    r = size * c.short
    centre = brush.face_point(c, rng, 0.0 if spreading else 0.1)
    outline = brush.blob(rng, centre, r, r * rng.uniform(0.6, 1.0), 0.35 if spreading else 0.2)
    window = brush.region(c, outline, 3)
    if window is None:
        return
    ys, xs, origin = window
    albedo = c.albedo[ys, xs]
    h, w = albedo.shape[:2]
    wet = brush.alpha(albedo.shape, [outline], origin, blur=max(0.6, 0.04 * r))
    if c.material == "polybag":  # grime on film, no tide line
        albedo *= 1 - 0.45 * wet[:, :, None] * np.float32([0.9, 0.95, 1.0])
        return
    depth = rng.uniform(0.35, 0.5) if spreading else rng.uniform(0.18, 0.3)
    tint = np.float32([0.75, 0.85, 1.0])  # absorbs blue most: wet board goes warm and dark
    if spreading:
        wet = wet * (0.85 + 0.15 * stretched(mottle_tile(), h, w, rng, zoom=max(h, w) / 60))
    tide = 4 * wet * (1 - wet)
    tide = tide**3
    darken = depth * wet + (0.35 if spreading else 0.25) * tide
    albedo *= 1 - np.clip(darken, 0, 0.85)[:, :, None] * tint
    if spreading:  # older rings where the stain dried before spreading further
        for k in (0.72, 0.48):
            ring = brush.alpha(
                albedo.shape, [centre + (outline - centre) * k], origin, blur=max(0.6, 0.03 * r)
            )
            albedo *= 1 - 0.5 * (4 * ring * (1 - ring))[:, :, None] ** 3 * tint * 0.5
        c.shade[ys, xs] *= 1 - 0.06 * wet  # soaked board sags


def crushed_edge(c: Canvas, rng: np.random.Generator, size: float) -> None:
    """An edge pushed in over a short stretch, with creases running back from it."""
    _crush(c, rng, size, corner=False)


def crushed_corner(c: Canvas, rng: np.random.Generator, size: float) -> None:
    """A corner crushed in: a ragged, darkened, crumpled region and a deformed outline."""
    _crush(c, rng, size, corner=True)


def _crush(c: Canvas, rng: np.random.Generator, size: float, corner: bool) -> None:
    x0, y0, x1, y1 = c.face
    extent = size * c.short
    if corner:
        cx, cy = (x0, x1)[int(rng.integers(2))], (y0, y1)[int(rng.integers(2))]
        ex, ey = (1 if cx == x0 else -1), (1 if cy == y0 else -1)
        a = extent * rng.uniform(0.8, 1.3)
        b = extent * rng.uniform(0.8, 1.3)
        t = np.linspace(0, 1, 12)[:, None]
        # The ragged crease line from one edge to the other, bowing away from the corner.
        arc = np.hstack([cx + ex * a * (1 - t), cy + ey * b * t])
        arc += np.hstack([ex * a, ey * b]) * 0.25 * np.sin(np.pi * t)
        arc += rng.normal(0, 0.05 * extent, arc.shape)
        zone = np.vstack([[cx, cy], arc])
        cut_line = np.array([cx, cy]) + (arc - (cx, cy)) * rng.uniform(0.45, 0.7)
        cut_line += rng.normal(0, 0.05 * extent, cut_line.shape)
        cut = np.vstack([[cx - ex * 3, cy - ey * 3], cut_line])
    else:
        horizontal = rng.random() < 0.65
        lo, hi = (x0, x1) if horizontal else (y0, y1)
        mid = rng.uniform(lo + extent / 2, max(lo + extent / 2, hi - extent / 2))
        edge, inward = (
            ((y0, 1) if rng.random() < 0.5 else (y1, -1))
            if horizontal
            else ((x0, 1) if rng.random() < 0.5 else (x1, -1))
        )
        t = np.linspace(-0.5, 0.5, 12)
        bow = np.cos(np.pi * t) ** 1.5
        depth = 0.3 * extent * bow * rng.uniform(0.7, 1.2, 12)
        along = mid + t * extent

        def pts(d: np.ndarray) -> np.ndarray:
            off = edge + inward * d
            return np.stack([along, off], 1) if horizontal else np.stack([off, along], 1)

        zone = np.vstack([pts(np.zeros(12) - 2), pts(depth * 2.5)[::-1]])
        cut_line = pts(depth * 0.6)
        cut = np.vstack([pts(np.zeros(12) - 3), cut_line[::-1]])
    window = brush.region(c, zone, 3)
    if window is None:
        return
    ys, xs, origin = window
    albedo, shade, mask = c.albedo[ys, xs], c.shade[ys, xs], c.mask[ys, xs]
    h, w = shade.shape
    soft = brush.alpha(shade.shape, [zone], origin, blur=max(0.6, 0.08 * extent))
    ridges = stretched(wrinkle_tile(), h, w, rng, zoom=max(0.6, 40.0 / max(extent, 1.0)))
    strength = 0.45 if corner else 0.3
    shade *= 1 - (0.45 if corner else 0.25) * soft + strength * soft * ridges
    albedo *= 1 - (0.25 if corner else 0.15) * soft[:, :, None]  # scuffed and dirty where it hit
    gone = brush.alpha(shade.shape, [cut], origin)
    brush.folds(c, rng, shade, cut_line, zone.mean(0), origin, extent)
    if c.material == "polybag":  # crumpled film glints along its creases
        c.gloss[ys, xs] += 0.25 * soft * np.clip(ridges, 0, 1) ** 4
    mask[:] = np.round(mask * (1 - gone)).astype(np.uint8)
    # The new outline is a fold: dark just inside it.
    fold = brush.alpha(shade.shape, [cut], origin, blur=max(0.8, 0.06 * extent)) - gone
    shade *= 1 - 0.8 * np.clip(fold, 0, 1)


def open_flap(c: Canvas, rng: np.random.Generator, size: float) -> None:
    """A top flap torn loose and lying open: half the top shows the inside, the flap sticks out."""
    x0, y0, x1, y1 = c.face
    seam = (y0 + y1) / 2
    upper = rng.random() < 0.5
    hinge, far = (y0, seam) if upper else (y1, seam)
    out = -1 if upper else 1
    wall = max(1.0, 0.03 * c.short)
    inside = np.array(
        [
            (x0 + wall, hinge - out * wall),
            (x1 - wall, hinge - out * wall),
            (x1 - wall, far),
            (x0 + wall, far),
        ]
    )
    inside[2:, 1] += rng.normal(0, 0.03 * c.short, 2)  # the other flap's edge is not straight
    brush.opening(c, rng, inside, wall, with_contents=True)
    reach = size * (y1 - y0) / 2
    skew = rng.normal(0, 0.08 * (x1 - x0), 2)
    flap = np.array(
        [
            (x0, hinge),
            (x1, hinge),
            (x1 + skew[1], hinge + out * reach),
            (x0 + skew[0], hinge + out * reach),
        ]
    )
    window = brush.region(c, flap, 2)
    if window is None:
        return
    ys, xs, origin = window
    a = brush.alpha(c.albedo[ys, xs].shape, [flap], origin)
    # We see the flap's inner face: the same board, paler and evenly lit.
    brush.paint(c.albedo[ys, xs], a, c.colour * 0.55 + brush.FIBRE * 0.45)
    c.shade[ys, xs] += (rng.uniform(0.8, 1.1) - c.shade[ys, xs]) * a
    c.mask[ys, xs] = np.maximum(c.mask[ys, xs], np.round(a * 255).astype(np.uint8))
    crease = np.round(np.array([(x0, hinge), (x1, hinge)]) - origin).astype(int)
    cv2.line(c.shade[ys, xs], tuple(crease[0]), tuple(crease[1]), 0.6, max(1, c.short // 50))


def burst(c: Canvas, rng: np.random.Generator, size: float) -> None:
    """A bag burst at one end: a ragged dark opening and its contents spilling out."""
    x0, y0, x1, y1 = c.face
    left = rng.random() < 0.5
    end, inward = (x0, 1) if left else (x1, -1)
    depth = size * (x1 - x0)
    ys_ = np.linspace(y0 + 0.1 * (y1 - y0), y1 - 0.1 * (y1 - y0), 14)
    ragged = end + inward * depth * rng.uniform(0.5, 1.0, 14) * np.sin(np.linspace(0.3, 2.8, 14))
    outline = np.vstack(
        [np.stack([ragged, ys_], 1), [[end - inward * 2, ys_[-1]], [end - inward * 2, ys_[0]]]]
    )
    brush.opening(c, rng, outline, max(1.0, 0.02 * c.short), with_contents=False)
    spill_centre = np.array([end - inward * 0.05 * c.short, rng.uniform(y0, y1)])
    spill = brush.blob(rng, spill_centre, 0.25 * c.short, 0.18 * c.short, 0.3, n=20)
    window = brush.region(c, spill, 2)
    if window is None:
        return
    ys, xs, _ = window
    a = brush.paint_contents(c, rng, spill, lit=rng.uniform(0.8, 1.0))
    if a is not None:
        c.mask[ys, xs] = np.maximum(c.mask[ys, xs], np.round(a * 255).astype(np.uint8))


def water_damage(c: Canvas, rng: np.random.Generator, size: float) -> None:
    """Spreading water damage: a large mottled stain with several tide lines, sagging board."""
    stain(c, rng, size, spreading=True)


Painter = Callable[[Canvas, np.random.Generator, float], None]

# kind -> (painter, size range as a fraction of the face's short side, materials it fits)
MINOR: dict[str, tuple[Painter, tuple[float, float], tuple[str, ...]]] = {
    "tear": (tear, (0.12, 0.32), ("box", "mailer", "polybag")),
    "puncture": (puncture, (0.025, 0.07), ("box", "mailer", "polybag")),
    "dent": (dent, (0.1, 0.24), ("box", "mailer", "polybag")),
    "scuff": (scuff, (0.1, 0.28), ("box", "mailer", "polybag")),
    "stain": (stain, (0.07, 0.18), ("box", "mailer", "polybag")),
    "crushed_edge": (crushed_edge, (0.15, 0.4), ("box", "mailer")),
}
CRITICAL: dict[str, tuple[Painter, tuple[float, float], tuple[str, ...]]] = {
    "hole": (hole, (0.1, 0.28), ("box", "mailer", "polybag")),
    "crushed_corner": (crushed_corner, (0.22, 0.5), ("box", "mailer", "polybag")),
    "open_flap": (open_flap, (0.35, 1.0), ("box",)),
    "burst": (burst, (0.1, 0.25), ("mailer", "polybag")),
    "water_damage": (water_damage, (0.28, 0.6), ("box", "mailer")),
}


def _pick(table: dict, material: str, rng: np.random.Generator, count: int) -> list[str]:
    kinds = [k for k, (_, _, materials) in table.items() if material in materials]
    return [str(k) for k in rng.choice(kinds, size=min(count, len(kinds)), replace=False)]


def apply_damage(c: Canvas, label: str, rng: np.random.Generator) -> list[Damage]:
    """Paint the damage that makes a parcel `label`; returns what was painted."""
    if label == "undamaged":
        return []
    plan: list[tuple[str, dict]] = []
    if label == "critical":
        plan += [(k, CRITICAL) for k in _pick(CRITICAL, c.material, rng, 1 + (rng.random() < 0.1))]
        extra = int(rng.choice(3, p=(0.6, 0.3, 0.1)))
    elif label == "minor":
        extra = int(rng.choice(3, p=(0.65, 0.3, 0.05))) + 1
    else:
        raise ValueError(f"unknown label {label!r}")
    plan += [(k, MINOR) for k in _pick(MINOR, c.material, rng, extra)]
    painted = []
    for kind, table in plan:
        painter, (lo, hi), _ = table[kind]
        # Skewed to the small end, so the overlap with the other class stays a minority.
        size = lo + (hi - lo) * float(rng.beta(1.6, 2.0))
        painter(c, rng, size)
        painted.append(Damage(kind, round(size, 4)))
    return painted
