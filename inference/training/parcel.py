"""One parcel: where it lies, how its top face is painted, and how it is laid onto the belt.

The top face is painted axis-aligned on its own canvas (albedo, shading, silhouette), damaged
there by ``damage.py``, then warped into the frame with a slight perspective. Boxes get side
faces and every parcel a soft shadow.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from inference.training.belt import crop, grain_tile, mottle_tile, stretched

MATERIALS = ("box", "mailer", "polybag")
_MATERIAL_P = (0.6, 0.15, 0.25)

_BOX_COLOURS = (  # RGB, with the share of boxes in each
    ((180, 134, 88), 0.45),  # kraft
    ((204, 164, 114), 0.2),  # light kraft
    ((152, 108, 68), 0.1),  # dark kraft
    ((232, 230, 222), 0.15),  # white
    ((214, 208, 196), 0.1),  # off-white, recycled
)
_MAILER_COLOURS = ((196, 158, 110), (236, 234, 228), (228, 226, 214), (170, 140, 104))
_BAG_COLOURS = (
    (238, 238, 236),
    (236, 236, 234),
    (192, 194, 198),
    (86, 88, 94),
    (42, 42, 46),
    (228, 120, 160),
    (62, 112, 190),
    (234, 204, 72),
    (80, 160, 112),
    (120, 82, 160),
)
_TAPE_COLOURS = ((200, 168, 118), (150, 108, 68), (236, 232, 224), (52, 96, 176), (188, 52, 48))


@dataclass
class ParcelPlan:
    """Where a parcel lies in the frame; drawn from the scene stream only, never the label."""

    material: str
    colour: np.ndarray  # RGB albedo of the material, float32
    long_px: int
    short_px: int
    corners: np.ndarray  # (4, 2) frame coordinates of the top face, clockwise from top-left
    lift: np.ndarray  # (2,) image offset of the top face above the parcel's footprint
    light: np.ndarray  # (2,) unit vector towards the light, canvas coordinates
    frame_light: np.ndarray  # the same in frame coordinates


@dataclass
class Canvas:
    """The parcel's top face, painted axis-aligned with room around it for flaps and spills."""

    albedo: np.ndarray  # (H, W, 3) float32 RGB reflectance, 0..255
    shade: np.ndarray  # (H, W) float32 multiplicative lighting
    gloss: np.ndarray  # (H, W) float32 additive specular highlight, 0..1 of white
    mask: np.ndarray  # (H, W) uint8 silhouette, 255 inside
    face: tuple[int, int, int, int]  # x0, y0, x1, y1 of the top face; x runs along the long side
    material: str
    colour: np.ndarray
    light: np.ndarray

    @property
    def short(self) -> int:
        return self.face[3] - self.face[1]


def plan_parcel(rng: np.random.Generator, h: int, w: int) -> ParcelPlan:
    """Choose a parcel's material, size, colour and pose for an h x w frame."""
    u = min(h, w)
    material = MATERIALS[int(rng.choice(3, p=_MATERIAL_P))]
    if material == "box":
        names = np.array([c for c, _ in _BOX_COLOURS], np.float32)
        colour = names[rng.choice(len(names), p=[p for _, p in _BOX_COLOURS])]
        long_frac, aspect = rng.uniform(0.3, 0.7), rng.uniform(1.0, 1.8)
    elif material == "mailer":
        colour = np.array(_MAILER_COLOURS[int(rng.integers(len(_MAILER_COLOURS)))], np.float32)
        long_frac, aspect = rng.uniform(0.3, 0.6), rng.uniform(1.25, 1.6)
    else:
        colour = np.array(_BAG_COLOURS[int(rng.integers(len(_BAG_COLOURS)))], np.float32)
        long_frac, aspect = rng.uniform(0.35, 0.7), rng.uniform(1.2, 1.7)
    # A change of shade and a little warmer or cooler; free per-channel jitter would turn
    # white boxes green or pink.
    jitter = rng.uniform(0.9, 1.06) * (1 + rng.normal(0, 0.5) * np.array([0.03, 0.0, -0.03]))
    colour = np.clip(colour * jitter.astype(np.float32), 0, 255)
    long_px = max(8, int(u * long_frac))
    short_px = max(6, int(long_px / aspect))

    if rng.random() < 0.5:  # belt guides square most parcels up
        angle = float(rng.choice([0.0, 90.0]) + rng.normal(0, 8))
    else:
        angle = float(rng.uniform(0, 180))
    theta = np.deg2rad(angle)
    along = np.array([np.cos(theta), np.sin(theta)])
    across = np.array([-np.sin(theta), np.cos(theta)])
    # Mostly inside the frame; one in ten drifts towards an edge and may be cut off.
    reach = np.abs(along) * long_px / 2 + np.abs(across) * short_px / 2
    if rng.random() < 0.1:
        cx, cy = w * rng.uniform(0.08, 0.92), h * rng.uniform(0.2, 0.8)
    else:
        lo = np.minimum(reach * 1.05, (w / 2, h / 2))
        cx, cy = rng.uniform(lo[0], w - lo[0]), rng.uniform(lo[1], h - lo[1])
    half_l, half_s = long_px / 2, short_px / 2
    corners = np.array(
        [
            (cx, cy) - half_l * along - half_s * across,
            (cx, cy) + half_l * along - half_s * across,
            (cx, cy) + half_l * along + half_s * across,
            (cx, cy) - half_l * along + half_s * across,
        ]
    )
    corners += rng.normal(0, 0.02 * short_px, (4, 2))  # slight perspective
    # Parallax: a tall box shows the sides that face the optical axis, and the camera looks
    # a little down the belt, so the near side shows too.
    height = short_px * rng.uniform(0.25, 0.7) if material == "box" else short_px * 0.08
    lift = (np.array([cx - w / 2, cy - h / 2]) / u * 0.6 + (0.0, 0.2)) * height
    light_angle = rng.uniform(0, 2 * np.pi)
    light = np.array([np.cos(light_angle - theta), np.sin(light_angle - theta)], np.float32)
    frame_light = np.array([np.cos(light_angle), np.sin(light_angle)], np.float32)
    return ParcelPlan(material, colour, long_px, short_px, corners, lift, light, frame_light)


def _edge_profile(n: int, width: float) -> np.ndarray:
    d = np.minimum(np.arange(n), np.arange(n)[::-1]).astype(np.float32)
    return np.clip(d / max(width, 1.0), 0.0, 1.0) ** 0.6


def _label(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A shipping label: white paper, a barcode, lines of 'text', sometimes a 2D code."""
    img = np.full((h, w, 3), rng.uniform(236, 252), np.float32)
    ink = (28.0, 28.0, 32.0)
    thick = max(1, round(min(h, w) / 40))
    cv2.rectangle(img, (thick, thick), (w - 1 - thick, h - 1 - thick), ink, 1)
    bar_top, bar_bottom = int(h * 0.62), int(h * 0.88)
    bar_x0, bar_x1 = int(w * 0.1), int(w * 0.9)
    if bar_x1 - bar_x0 >= 4 and bar_bottom > bar_top:
        widths = rng.integers(1, 4, size=60)
        bars = np.repeat(np.arange(60) % 2 == 0, widths).astype(np.float32)
        row = cv2.resize(bars[None, :], (bar_x1 - bar_x0, 1), interpolation=cv2.INTER_AREA)
        img[bar_top:bar_bottom, bar_x0:bar_x1] *= 1.0 - 0.88 * row[:, :, None]
    y, line_h = int(h * 0.08), max(1, int(h * 0.035))
    code = int(w * 0.3) if rng.random() < 0.5 else 0
    while y + line_h < bar_top - line_h:
        x = int(w * 0.08)
        right = int(w * 0.92) - (code if y < h * 0.45 else 0)
        bold = rng.random() < 0.15
        while x < right - 3:
            word = int(w * rng.uniform(0.05, 0.2))
            x1 = min(x + word, right)
            # Small print reads as grey strokes at camera resolution, not solid black.
            grey = ink if bold else (90.0, 90.0, 96.0)
            cv2.rectangle(img, (x, y), (x1, y + line_h * (2 if bold else 1) - 1), grey, -1)
            x = x1 + max(2, int(w * 0.03))
            if rng.random() < 0.2:
                break
        y += line_h * (4 if bold else 2) + 1
    if code >= 6:
        cells = (rng.random((9, 9)) < 0.5).astype(np.float32)
        cells[:3, :3] = cells[:3, -3:] = cells[-3:, :3] = 1.0
        patch = cv2.resize(cells, (code - 4, code - 4), interpolation=cv2.INTER_AREA)
        y0, x0 = int(h * 0.08), w - code - int(w * 0.06)
        if y0 + code - 4 <= h and x0 >= 0:
            img[y0 : y0 + code - 4, x0 : x0 + code - 4] *= 1.0 - 0.85 * patch[:, :, None]
    return img


def _print_marks(rng: np.random.Generator, albedo: np.ndarray, s: int) -> None:
    """Innocent marks that are not damage: printed logos and handwriting."""
    h, w = albedo.shape[:2]
    if rng.random() < 0.35:
        ink = np.array(rng.choice([(40, 40, 44), (30, 60, 140), (150, 40, 40), (60, 45, 30)]))
        x, y = int(rng.uniform(0.05, 0.6) * w), int(rng.uniform(0.05, 0.7) * h)
        pw, ph = int(s * rng.uniform(0.2, 0.5)), int(s * rng.uniform(0.06, 0.15))
        alpha = np.zeros((h, w), np.uint8)
        if rng.random() < 0.5:
            cv2.rectangle(alpha, (x, y), (x + pw, y + ph), 255, -1)
        else:
            for i in range(int(rng.integers(2, 5))):
                yy = y + i * ph
                cv2.rectangle(
                    alpha, (x, yy), (x + int(pw * rng.uniform(0.4, 1)), yy + ph // 2), 255, -1
                )
        a = alpha.astype(np.float32)[:, :, None] * (rng.uniform(0.5, 0.8) / 255)
        albedo *= 1 - a * (1 - ink.astype(np.float32) / 255)
    if rng.random() < 0.15:  # marker scribble
        pts = np.array([(rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h)])
        for _ in range(int(rng.integers(3, 7))):
            pts = np.vstack([pts, pts[-1] + rng.normal(0, 0.08 * s, 2)])
        cv2.polylines(
            albedo, [pts.astype(np.int32)], False, (35, 35, 40), max(1, s // 60), cv2.LINE_AA
        )


def _bag_outline(rng: np.random.Generator, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    """A stuffed bag: corners pinched in, sides bowing out to the face rectangle."""
    pinch = 0.06 * (y1 - y0)
    pts = []
    for (ax, ay), (bx, by), (nx, ny) in (
        ((x0, y0), (x1, y0), (0, 1)),
        ((x1, y0), (x1, y1), (-1, 0)),
        ((x1, y1), (x0, y1), (0, -1)),
        ((x0, y1), (x0, y0), (1, 0)),
    ):
        for t in np.linspace(0, 1, 14, endpoint=False):
            inset = pinch * (1 - np.sin(np.pi * t) ** 0.5) + abs(rng.normal(0, pinch * 0.12))
            pts.append((ax + (bx - ax) * t + nx * inset, ay + (by - ay) * t + ny * inset))
    return np.array(pts)


def paint_parcel(plan: ParcelPlan, rng: np.random.Generator) -> Canvas:
    """Paint the undamaged top face: material texture, lighting, tape, label and print."""
    L, S = plan.long_px, plan.short_px
    mx, my = int(0.3 * S) + 2, int(0.55 * S) + 2  # room for spills and for an open flap
    H, W = S + 2 * my, L + 2 * mx
    x0, y0, x1, y1 = mx, my, mx + L, my + S
    albedo = np.zeros((H, W, 3), np.float32)
    shade = np.ones((H, W), np.float32)
    gloss = np.zeros((H, W), np.float32)
    mask = np.zeros((H, W), np.uint8)
    fa, fs = albedo[y0:y1, x0:x1], shade[y0:y1, x0:x1]
    fa[:] = plan.colour
    lx, ly = plan.light
    tilt = 0.12 * lx * np.linspace(-0.5, 0.5, L, dtype=np.float32)[None, :] * (L / S)
    tilt = tilt + 0.12 * ly * np.linspace(-0.5, 0.5, S, dtype=np.float32)[:, None]
    if plan.material == "box":
        fs[:] = 1.0 + tilt + 0.025 * crop(grain_tile(), S, L, rng)
        fs += 0.04 * stretched(mottle_tile(), S, L, rng, zoom=S / 40)
        # Box edges are folded and scuffed, so darker than the flat top.
        edge = np.minimum(_edge_profile(S, 0.05 * S)[:, None], _edge_profile(L, 0.05 * S)[None, :])
        fs *= 0.78 + 0.22 * edge
        mask[y0:y1, x0:x1] = 255
        seam = (y0 + y1) // 2
        cv2.line(shade, (x0, seam), (x1 - 1, seam), 0.6, max(1, S // 80))
    else:
        outline = _bag_outline(rng, x0, y0, x1, y1)
        cv2.fillPoly(mask, [np.round(outline).astype(np.int32)], 255, cv2.LINE_AA)
        dome = np.outer(_edge_profile(S, 0.35 * S), _edge_profile(L, 0.35 * S))
        # Broad undulations from the stuffing, shaded by their slope to the light; film
        # throws a highlight where a slope faces the light squarely.
        swell = stretched(mottle_tile(), S, L, rng, zoom=max(1.0, S / 22))
        slope = cv2.Sobel(swell, cv2.CV_32F, 1, 0, ksize=3) * lx
        slope += cv2.Sobel(swell, cv2.CV_32F, 0, 1, ksize=3) * ly
        slope /= float(np.abs(slope).max()) + 1e-6
        if plan.material == "polybag":
            fs[:] = (0.74 + 0.26 * dome) * (1.0 + 0.22 * slope) + tilt
            gloss[y0:y1, x0:x1] = 0.35 * np.clip((slope - 0.35) * 2.5, 0, 1) * dome
        else:
            fs[:] = (0.82 + 0.18 * dome) * (1.0 + 0.1 * slope) + tilt
            fs += 0.04 * crop(grain_tile(), S, L, rng)
        # Heat seals (bags) or the glued flap (mailers) across the short ends.
        seal = max(2, int(0.05 * L))
        for sx in (x0 + seal, x1 - seal) if plan.material == "polybag" else (x1 - 2 * seal,):
            cv2.line(shade, (sx, y0), (sx, y1), 0.8, max(1, S // 90))
    if plan.material == "box" or (plan.material == "mailer" and rng.random() < 0.3):
        _tape(rng, albedo, gloss, plan, (x0, y0, x1, y1))
    if rng.random() < 0.85:
        lh = int(S * rng.uniform(0.28, 0.45))
        lw = int(lh * rng.uniform(1.3, 1.6))
        if rng.random() < 0.4:
            lh, lw = lw, lh
        lw, lh = min(lw, L - 2), min(lh, S - 2)
        if lw >= 6 and lh >= 6:
            lx0 = x0 + int(rng.integers(1, L - lw))
            ly0 = y0 + int(rng.integers(1, S - lh))
            albedo[ly0 : ly0 + lh, lx0 : lx0 + lw] = _label(rng, lh, lw)
    if plan.material != "polybag":
        _print_marks(rng, fa, S)
    return Canvas(
        albedo, shade, gloss, mask, (x0, y0, x1, y1), plan.material, plan.colour, plan.light
    )


def _tape(
    rng: np.random.Generator,
    albedo: np.ndarray,
    gloss: np.ndarray,
    plan: ParcelPlan,
    face: tuple[int, int, int, int],
) -> None:
    """Tape along the flap seam, and sometimes across the ends (H-taping)."""
    x0, y0, x1, y1 = face
    S = y1 - y0
    width = max(2, int(S * rng.uniform(0.08, 0.14)))
    if rng.random() < 0.45:  # clear tape: the box shows through, a little glossier
        colour = plan.colour * 1.04
    else:
        colour = np.array(_TAPE_COLOURS[int(rng.integers(len(_TAPE_COLOURS)))], np.float32)
    strips = [(x0, (y0 + y1 - width) // 2, x1, (y0 + y1 + width) // 2)]
    if rng.random() < 0.3:
        for xe in (x0 + int(0.12 * (x1 - x0)), x1 - int(0.12 * (x1 - x0)) - width):
            strips.append((xe, y0, xe + width, y1))
    for sx0, sy0, sx1, sy1 in strips:
        albedo[sy0:sy1, sx0:sx1] = colour
        gloss[sy0:sy1, sx0:sx1] += 0.05
        edge = (min(float(colour.max()) * 1.1, 255.0),) * 3
        cv2.rectangle(albedo, (sx0, sy0), (sx1 - 1, sy1 - 1), edge, 1)


def composite(frame: np.ndarray, canvas: Canvas, plan: ParcelPlan) -> None:
    """Lay the painted parcel, its side faces and its shadow onto the frame, in place."""
    h, w = frame.shape[:2]
    x0, y0, x1, y1 = canvas.face
    src = np.float32([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
    homography = cv2.getPerspectiveTransform(src, plan.corners.astype(np.float32))
    bx, by, bw, bh = cv2.boundingRect(canvas.mask)
    box = np.float32([(bx, by), (bx + bw, by), (bx + bw, by + bh), (bx, by + bh)])
    projected = cv2.perspectiveTransform(box[None], homography)[0]
    footprint = plan.corners - plan.lift
    pad = 0.15 * plan.short_px + 2
    pts = np.vstack([projected, footprint])
    rx0, ry0 = np.maximum(np.floor(pts.min(0) - pad), 0).astype(int)
    rx1, ry1 = np.minimum(np.ceil(pts.max(0) + pad), (w, h)).astype(int)
    if rx1 <= rx0 or ry1 <= ry0:
        return
    roi = frame[ry0:ry1, rx0:rx1]
    rh, rw = roi.shape[:2]
    origin = np.array([rx0, ry0], np.float32)

    # Soft shadow of the footprint, drawn at quarter resolution because it is blurred anyway.
    q = 4
    small = np.zeros((rh // q + 1, rw // q + 1), np.float32)
    shadow_pts = (footprint + 0.06 * plan.short_px - origin) / q
    cv2.fillPoly(small, [np.round(shadow_pts).astype(np.int32)], 1.0, cv2.LINE_AA)
    small = cv2.GaussianBlur(small, (0, 0), max(0.8, 0.05 * plan.short_px / q))
    shadow = cv2.resize(small, (small.shape[1] * q, small.shape[0] * q))[:rh, :rw]
    out = roi.astype(np.float32) * (1.0 - 0.55 * shadow)[:, :, None]

    if plan.material == "box":
        _side_faces(out, plan, canvas, origin)

    top = canvas.albedo[by : by + bh, bx : bx + bw] * canvas.shade[by : by + bh, bx : bx + bw, None]
    top += 255.0 * canvas.gloss[by : by + bh, bx : bx + bw, None]
    top = np.clip(top, 0, 255).astype(np.uint8)
    # canvas crop -> canvas -> frame -> region of interest
    to_roi = _translation(-rx0, -ry0) @ homography @ _translation(bx, by)
    warped = cv2.warpPerspective(top, to_roi, (rw, rh), flags=cv2.INTER_LINEAR)
    alpha = cv2.warpPerspective(canvas.mask[by : by + bh, bx : bx + bw], to_roi, (rw, rh))
    a = alpha.astype(np.float32)[:, :, None] * (1 / 255)
    out += (warped.astype(np.float32) - out) * a
    roi[:] = np.clip(out, 0, 255).astype(np.uint8)


def _translation(dx: float, dy: float) -> np.ndarray:
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])


def _side_faces(out: np.ndarray, plan: ParcelPlan, canvas: Canvas, origin: np.ndarray) -> None:
    top = plan.corners - origin
    base = top - plan.lift
    centre = top.mean(0)
    for i in range(4):
        a, b = top[i], top[(i + 1) % 4]
        normal = (a + b) / 2 - centre
        normal /= np.linalg.norm(normal) + 1e-6
        if normal @ plan.lift >= 0:  # faces away from the camera: hidden under the top
            continue
        # Side walls are steep to the light from above: darker than the top, each its own.
        lit = 0.5 + 0.25 * max(0.0, float(normal @ plan.frame_light))
        quad = np.array([a, b, base[(i + 1) % 4], base[i]])
        colour = tuple(float(c) for c in canvas.colour * lit)
        cv2.fillPoly(out, [np.round(quad * 4).astype(np.int32)], colour, cv2.LINE_AA, shift=2)
