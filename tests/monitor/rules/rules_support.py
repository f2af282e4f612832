"""Builders for the rule tests: settings without a database, windows, a simulated
station's per-frame statistics, a minimal reference builder, and real photographs under
simulated camera and lighting faults.

The reference builder is the real one (monitor/reference.py's reference_from_hours), so
the rules meet the calibrated yardsticks they meet in production.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import cv2
import numpy as np

from monitor.calibration import Limits
from monitor.core.settings import Settings
from monitor.reference import reference_from_hours
from monitor.rules.base import HourSummary, Reference, Window

Stats = dict[str, np.ndarray]  # column -> per-frame values of one hour
HOUR0 = datetime(2026, 11, 24, 0, tzinfo=UTC)
CLASS_MIX = {"undamaged": 0.85, "minor": 0.12, "critical": 0.03}


def make_settings(**overrides: Any) -> Settings:
    """Defaults plus overrides; no environment, no file, no database."""
    return Settings.model_construct(**overrides)


def build_reference(
    hours: Sequence[Mapping[str, np.ndarray]],
    *,
    station_id: str | None = "dock-3",
    provisional: bool = False,
    class_mix: Mapping[str, float] = CLASS_MIX,
    sample_size: int = 5000,
    seed: int = 0,
    settings: Settings | None = None,
    end: datetime = HOUR0,
) -> Reference:
    """A Reference from known-good hours of per-frame statistics, the hours just before
    `end`, built as `beltwatch baseline set` builds one (calibrated yardsticks included)."""
    total = sum(len(next(iter(hour.values()))) for hour in hours)
    counts = {name: round(share * total) for name, share in class_mix.items()}
    times = [end - timedelta(hours=len(hours) - i) for i in range(len(hours))]
    reference = reference_from_hours(
        station_id or "site",
        hours,
        times,
        counts,
        sample_size=sample_size,
        limits=Limits.from_settings(settings or make_settings()),
        provisional=provisional,
        seed=seed,
    )
    return replace(reference, station_id=station_id, class_mix=dict(class_mix))


# The medians hourly_rollups keeps (monitor/windows.py hands these to the rules).
ROLLUP_MEDIANS = ("brightness", "blur", "sharpness", "sharpness_tile_min", "contrast", "luma_p01")


def summarise(stats: Mapping[str, np.ndarray], hour: datetime) -> HourSummary:
    """What the rollup keeps of an hour: its size and medians."""
    n = len(next(iter(stats.values())))
    medians = {c: float(np.median(stats[c])) for c in ROLLUP_MEDIANS if c in stats}
    return HourSummary(hour=hour, n=n, medians=medians)


def make_window(
    stats: Mapping[str, np.ndarray] | None = None,
    *,
    station_id: str | None = "dock-3",
    n: int | None = None,
    counts: Mapping[str, int] | None = None,
    latency_p95_ms: float | None = 40.0,
    history: Sequence[HourSummary] = (),
    hour: datetime = HOUR0,
    sample_size: int = 2000,
    expected_n: float | None = None,
    seed: int = 0,
) -> Window:
    """A Window over an hour's per-frame statistics (sampled down to `sample_size`, as the
    hourly job does); counts default to the reference mix."""
    stats = stats or {}
    size = len(next(iter(stats.values()))) if stats else 0
    n = size if n is None else n
    if size > sample_size:
        pick = np.random.default_rng(seed).choice(size, size=sample_size, replace=False)
        stats = {c: np.asarray(v)[pick] for c, v in stats.items()}
    if counts is None:
        critical, minor = round(n * CLASS_MIX["critical"]), round(n * CLASS_MIX["minor"])
        counts = {"undamaged": n - critical - minor, "minor": minor, "critical": critical}
    return Window(
        hour=hour,
        station_id=station_id,
        n=n,
        counts=dict(counts),
        latency_p95_ms=latency_p95_ms,
        sample=dict(stats),
        history=tuple(history),
        expected_n=expected_n,
    )


class Belt:
    """A simulated station's per-frame statistics. Content makes frames differ a lot
    (sharpness spans orders of magnitude); each hour also gets small offsets of its own
    (daylight, parcel mix), as real hours do (realistic hour-to-hour variation is what
    makes a p-value alone useless)."""

    SHARPNESS_LOG_SD = 0.8  # per frame: content
    BRIGHTNESS_SD = 25.0  # per frame
    HOUR_LOG_SHARPNESS_SD = 0.05  # per hour
    HOUR_BRIGHTNESS_SD = 2.0  # per hour, levels

    def __init__(self, seed: int = 1) -> None:
        self.rng = np.random.default_rng(seed)

    def hour(
        self,
        n: int = 3000,
        *,
        sharpness: float = 1.0,
        brightness: float = 0.0,
        clipped_bright: float = 0.0,
    ) -> Stats:
        """One hour of frames; `sharpness` multiplies focus (a blur), `brightness` adds
        levels (a lighting change), `clipped_bright` adds to the bright-clipped fraction."""
        rng = self.rng
        light = rng.normal(0.0, self.HOUR_BRIGHTNESS_SD) + brightness
        focus = np.exp(rng.normal(0.0, self.HOUR_LOG_SHARPNESS_SD)) * sharpness
        sharp = np.exp(rng.normal(np.log(0.2), self.SHARPNESS_LOG_SD, n)) * focus
        luma = np.clip(rng.normal(110.0 + light, self.BRIGHTNESS_SD, n), 0, 255)
        contrast = np.clip(rng.normal(45.0, 8.0, n), 1, None)
        return {
            "brightness": luma,
            "blur": sharp * contrast**2,
            "sharpness": sharp,
            "sharpness_tile_min": sharp * np.exp(rng.normal(np.log(0.45), 0.3, n)),
            "contrast": contrast,
            "clipped_dark": rng.beta(0.3, 30.0, n),
            "clipped_bright": np.clip(rng.beta(0.3, 60.0, n) + clipped_bright, 0, 1),
            "luma_p01": np.clip(rng.normal(18.0 + 0.5 * light, 6.0, n), 0, 255),
            "luma_p99": np.clip(rng.normal(230.0 + light, 10.0, n), 0, 255),
            "mean_r": luma + rng.normal(0, 5, n),
            "mean_g": luma + rng.normal(0, 5, n),
            "mean_b": luma + rng.normal(0, 5, n),
        }

    def reference(self, hours: int = 72, n: int = 3000, **kwargs: Any) -> Reference:
        return build_reference([self.hour(n) for _ in range(hours)], **kwargs)


def run_hours(
    hours: Sequence[Stats],
    reference: Reference,
    evaluate: Callable[..., Any],
    settings: Settings,
    *,
    history: Sequence[HourSummary] = (),
) -> list[Any]:
    """Evaluate a rule hour after hour, each hour seeing the earlier ones as history."""
    past = list(history)
    results = []
    for i, stats in enumerate(hours):
        hour = HOUR0 + timedelta(hours=len(past))
        window = make_window(stats, history=past[-72:], hour=hour, seed=i)
        results.append(evaluate(window, reference, settings))
        past.append(summarise(stats, hour))
    return results


# -- real photographs --------------------------------------------------------------------

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "camera", "coins", "moon", "brick",
          "gravel", "grass", "clock")  # fmt: skip
FRAME_SIZE = (480, 360)  # width, height: stands in for a camera frame before the 224 resize


def photo_frames(seed: int, count: int) -> list[np.ndarray]:
    """Distinct frames: random crops (50-95 % of each side) and flips of skimage's photos."""
    import skimage.data

    bases = []
    for name in PHOTOS:
        image = getattr(skimage.data, name)()
        bases.append(np.stack([image] * 3, -1) if image.ndim == 2 else image[..., :3])
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(count):
        base = bases[rng.integers(len(bases))]
        h, w = base.shape[:2]
        scale = rng.uniform(0.5, 0.95)
        ch, cw = int(h * scale), int(w * scale)
        y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
        crop = base[y : y + ch, x : x + cw]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        if rng.random() < 0.3:
            crop = crop[::-1]
        frames.append(cv2.resize(np.ascontiguousarray(crop), FRAME_SIZE, cv2.INTER_AREA))
    return frames


def _gain(g: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda f: np.clip(f * np.float32(g), 0, 255).astype(np.uint8)


def _gamma(gamma: float) -> Callable[[np.ndarray], np.ndarray]:
    lut = np.clip(255 * (np.arange(256) / 255) ** gamma + 0.5, 0, 255).astype(np.uint8)
    return lambda f: lut[f]


def _veil(amount: float, grey: float = 128.0) -> Callable[[np.ndarray], np.ndarray]:
    return lambda f: np.clip(f * (1 - amount) + amount * grey + 0.5, 0, 255).astype(np.uint8)


def _smudge(frame: np.ndarray) -> np.ndarray:
    # A greasy smear over the left third: blurred and hazed towards a light grey.
    out = frame.copy()
    third = frame.shape[1] // 3
    part = cv2.GaussianBlur(frame[:, :third], (0, 0), 3)
    out[:, :third] = np.clip(part * 0.6 + 0.4 * 160 + 0.5, 0, 255).astype(np.uint8)
    return out


FAULTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "clean": lambda f: f,
    "gain 0.6": _gain(0.6),
    "gain 1.4": _gain(1.4),
    "gamma 0.7": _gamma(0.7),
    "blur sigma 2": lambda f: cv2.GaussianBlur(f, (0, 0), 2),
    "smudge over a third": _smudge,
    "haze veil 0.3": _veil(0.3),
}


def _stats(frames: Sequence[np.ndarray]) -> Stats:
    from inference.imagestats import FIELDS, compute

    rows = [compute(frame).as_dict() for frame in frames]
    return {name: np.array([row[name] for row in rows]) for name in FIELDS}


def photo_stats(frames: Sequence[np.ndarray]) -> Stats:
    """inference.imagestats.compute over frames, as columns."""
    from inference.imagestats import FIELDS, compute

    rows = [compute(frame).as_dict() for frame in frames]
    return {name: np.array([row[name] for row in rows]) for name in FIELDS}
