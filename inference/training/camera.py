"""Camera conditions, kept apart from the scene so a simulator can inject faults over time.

``apply_camera`` follows the light: lens (defocus, a smudge, a veil), then the sensor (gain,
colour balance, noise), then the tone curve (gamma). Blur sizes are in pixels of a 480-line
frame and scale with the frame, so one fault looks the same at 640x480 and at 224x224.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

REFERENCE_LINES = 480
FAULTS = ("dirty_lens", "defocus", "fogged", "dim", "bright", "warm", "cool", "noisy")

# Light scattered by a dirty or fogged lens is a bright, slightly warm grey.
_VEIL = np.array([214.0, 211.0, 204.0], np.float32)


@dataclass(frozen=True)
class CameraConditions:
    """How the camera renders a scene; the default is a clean, well-exposed camera."""

    defocus_sigma: float = 0.0  # Gaussian blur sigma, pixels of a 480-line frame
    smudge: float = 0.0  # strength of a dirty patch on the lens, 0..1
    smudge_center: tuple[float, float] = (0.35, 0.4)  # (x, y) as fractions of width, height
    smudge_radius: float = 0.22  # fraction of the frame's short side
    smudge_seed: int = 0  # shape of the patch; fixed for a given dirty lens
    haze: float = 0.0  # share of a uniform veil over the frame, 0..1
    gain: float = 1.0  # exposure multiplier
    gamma: float = 1.0  # tone exponent on 0..1 intensities; > 1 darkens mid-tones
    colour_temperature_shift: float = 0.0  # -1 blue cast .. +1 orange cast
    noise_sigma: float = 0.0  # Gaussian sensor noise, 8-bit levels

    def __post_init__(self) -> None:
        checks = {
            "defocus_sigma": self.defocus_sigma >= 0,
            "smudge": 0 <= self.smudge <= 1,
            "smudge_radius": self.smudge_radius > 0,
            "haze": 0 <= self.haze <= 1,
            "gain": self.gain > 0,
            "gamma": self.gamma > 0,
            "colour_temperature_shift": -1 <= self.colour_temperature_shift <= 1,
            "noise_sigma": self.noise_sigma >= 0,
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(f"CameraConditions.{name}={getattr(self, name)!r} is out of range")

    @property
    def is_clean(self) -> bool:
        """True when applying these conditions leaves a frame unchanged."""
        return (
            self.defocus_sigma == 0
            and self.smudge == 0
            and self.haze == 0
            and self.gain == 1
            and self.gamma == 1
            and self.colour_temperature_shift == 0
            and self.noise_sigma == 0
        )


CLEAN = CameraConditions()


def camera_fault(name: str, severity: float) -> CameraConditions:
    """A named fault at a severity in [0, 1]; severity 0 is the clean camera."""
    if not 0 <= severity <= 1:
        raise ValueError(f"severity must lie in [0, 1], got {severity!r}")
    s = float(severity)
    if s == 0:
        return CLEAN
    if name == "dirty_lens":
        # A smear scatters a little light over the whole frame as well as blurring its patch.
        return CameraConditions(smudge=s, smudge_radius=0.15 + 0.15 * s, haze=0.08 * s)
    if name == "defocus":
        return CameraConditions(defocus_sigma=4.0 * s)
    if name == "fogged":
        return CameraConditions(haze=0.6 * s, defocus_sigma=0.8 * s)
    if name == "dim":
        return CameraConditions(gain=1.0 - 0.7 * s)
    if name == "bright":
        return CameraConditions(gain=1.0 + 1.0 * s)
    if name == "warm":
        return CameraConditions(colour_temperature_shift=s)
    if name == "cool":
        return CameraConditions(colour_temperature_shift=-s)
    if name == "noisy":
        return CameraConditions(noise_sigma=24.0 * s)
    raise ValueError(f"unknown camera fault {name!r}; expected one of {', '.join(FAULTS)}")


def smudge_mask(h: int, w: int, conditions: CameraConditions) -> np.ndarray:
    """The smudge's soft-edged footprint as an (h, w) float32 map in [0, 1]."""
    c = conditions
    return _smudge_mask(h, w, c.smudge_center, c.smudge_radius, c.smudge_seed)


@functools.lru_cache(maxsize=32)
def _smudge_mask(
    h: int, w: int, center: tuple[float, float], radius: float, seed: int
) -> np.ndarray:
    # Drawn at quarter size: the mask is smooth, and the lens does not change between frames.
    q = 4
    sh, sw = max(2, h // q), max(2, w // q)
    rng = np.random.default_rng([0x5A1D6E, seed])
    r = radius * min(sh, sw)
    small = np.zeros((sh, sw), np.float32)
    cx, cy = center[0] * sw, center[1] * sh
    for k in range(int(rng.integers(2, 5))):
        ox, oy = (0.0, 0.0) if k == 0 else rng.normal(0, 0.45 * r, 2)
        t = np.linspace(0, 2 * np.pi, 40, endpoint=False)
        wobble = (
            1 + 0.25 * np.sin(2 * t + rng.uniform(0, 6)) + 0.15 * np.sin(3 * t + rng.uniform(0, 6))
        )
        rk = r * (1.0 if k == 0 else rng.uniform(0.35, 0.7))
        pts = np.stack(
            [cx + ox + rk * wobble * np.cos(t), cy + oy + rk * 0.8 * wobble * np.sin(t)], 1
        )
        cv2.fillPoly(small, [np.round(pts * 4).astype(np.int32)], 1.0, cv2.LINE_AA, shift=2)
    small = cv2.GaussianBlur(small, (0, 0), max(0.5, 0.35 * r))
    small /= max(float(small.max()), 1e-6)
    mask = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    mask.flags.writeable = False
    return mask


def apply_camera(
    frame: np.ndarray, conditions: CameraConditions, rng: np.random.Generator
) -> np.ndarray:
    """Render a clean RGB uint8 frame as this camera sees it; returns a new array."""
    c = conditions
    if c.is_clean:
        return frame.copy()
    h, w = frame.shape[:2]
    scale = h / REFERENCE_LINES
    img = frame.astype(np.float32)
    if c.defocus_sigma > 0:
        img = cv2.GaussianBlur(img, (0, 0), c.defocus_sigma * scale)
    if c.smudge > 0:
        mask = smudge_mask(h, w, c)[:, :, None]
        sigma = (2.0 + 9.0 * c.smudge) * scale
        # Blur at half size: the smudge's blur is wide, and this halves the cost.
        half = cv2.resize(img, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA)
        blurred = cv2.resize(cv2.GaussianBlur(half, (0, 0), sigma / 2), (w, h))
        veil = 0.55 * c.smudge
        local = blurred * (1 - veil) + _VEIL * veil
        weight = mask * min(1.0, 0.4 + 1.2 * c.smudge)
        img += (local - img) * weight
    if c.haze > 0:
        img = img * (1 - c.haze) + _VEIL * c.haze
    t = c.colour_temperature_shift
    # A warm cast raises red and lowers blue (green barely moves), like a white-balance error.
    balance = c.gain * np.array([1 + 0.22 * t, 1 + 0.03 * t, 1 - 0.24 * t], np.float32)
    if not np.allclose(balance, 1.0):
        img *= balance
    if c.noise_sigma > 0:
        noise = np.empty_like(img)
        # OpenCV's generator is several times faster than numpy's for a frame of normals;
        # it is thread-local and re-seeded from rng, so the result is still deterministic.
        cv2.setRNGSeed(int(rng.integers(0, 2**31 - 1)))
        sigma = float(c.noise_sigma)
        cv2.randn(noise, (0.0, 0.0, 0.0), (sigma, sigma, sigma))
        img += noise
    out = np.clip(img, 0, 255).astype(np.uint8)
    if c.gamma != 1.0:
        out = cv2.LUT(out, _gamma_lut(float(c.gamma)))
    return out


@functools.lru_cache(maxsize=64)
def _gamma_lut(gamma: float) -> np.ndarray:
    levels = np.arange(256, dtype=np.float64) / 255.0
    return np.clip(np.round(255.0 * levels**gamma), 0, 255).astype(np.uint8)
