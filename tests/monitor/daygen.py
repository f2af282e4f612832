"""Synthetic prediction traffic for the monitor tests and benchmark: per-station hours of
records with realistic image statistics, and faults to inject.

The statistics follow what the worker measures on conveyor frames: focus varies with
content by orders of magnitude (log-normal), brightness and contrast vary frame to frame
and a little hour to hour. Faults move them the way a dirty lens, a lighting change or a
model in trouble does (inference/imagestats.py says why each statistic moves).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from monitor.predlog.records import PredictionRecord

CLASSES = ("undamaged", "minor", "critical")
NORMAL_MIX = (0.80, 0.17, 0.03)


@dataclass(frozen=True)
class Fault:
    """What is wrong at a station during an hour (all zero: a healthy hour)."""

    lens: float = 0.0  # 0..1: dirty lens / defocus (sharpness falls, veil lifts the blacks)
    dim: float = 0.0  # 0..1: lighting failing (brightness falls, shadows clip)
    critical_share: float | None = None  # the model calls this share critical
    latency_ms: float | None = None  # typical inference latency this hour
    silent: bool = False  # the station sends nothing this hour


HEALTHY = Fault()
SILENT = Fault(silent=True)


def hour_records(
    station: str, hour: datetime, n: int, *, seed: int, fault: Fault = HEALTHY
) -> list[PredictionRecord]:
    """`n` records of one station-hour, deterministic in (station, hour, seed)."""
    rng = np.random.default_rng([seed, int(hour.timestamp()) // 3600, sum(map(ord, station))])
    # Hour-to-hour wobble of a healthy camera.
    bright_hour = rng.normal(0, 2.0)
    sharp_hour = rng.normal(0, 0.04)

    sharpness = rng.lognormal(np.log(0.35) + sharp_hour, 0.5, n) * (1 - 0.65 * fault.lens)
    tile = sharpness * rng.uniform(0.35, 0.75, n) * (1 - 0.5 * fault.lens)
    contrast = np.clip(rng.normal(45, 7, n), 5, None) * (1 - 0.25 * fault.lens - 0.3 * fault.dim)
    brightness = np.clip(rng.normal(118 + bright_hour, 11, n) - 45 * fault.dim, 5, 250)
    brightness += 10 * fault.lens  # the veil brightens a little
    luma_p01 = np.clip(rng.normal(9, 3, n) + 22 * fault.lens - 6 * fault.dim, 0, None)
    luma_p99 = np.clip(brightness + 2.3 * contrast, 0, 255)
    clipped_dark = np.clip(rng.beta(1, 200, n) + 0.12 * fault.dim, 0, 1)
    clipped_bright = np.clip(rng.beta(1, 300, n), 0, 1)
    blur = sharpness * contrast**2

    share = fault.critical_share
    mix = NORMAL_MIX if share is None else ((1 - share) * 0.82, (1 - share) * 0.18, share)
    classes = rng.choice(3, size=n, p=np.array(mix) / sum(mix))
    top = rng.uniform(0.55, 0.98, n)
    latency = np.clip(rng.normal(fault.latency_ms or 9.0, 2.0, n), 0.5, None)
    seconds = np.sort(rng.uniform(0, 3600, n))

    records = []
    for i in range(n):
        probs = [(1 - top[i]) / 2] * 3
        probs[classes[i]] = top[i]
        cls = CLASSES[classes[i]]
        records.append(
            PredictionRecord(
                id=uuid.UUID(bytes=rng.bytes(16), version=4),
                station_id=station,
                captured_at=hour + timedelta(seconds=float(seconds[i])),
                parcel_id=None,
                model_version="cnn-int8-1",
                predicted_class=cls,
                p_undamaged=probs[0],
                p_minor=probs[1],
                p_critical=probs[2],
                latency_ms=float(latency[i]),
                brightness=float(brightness[i]),
                blur=float(blur[i]),
                sharpness=float(sharpness[i]),
                sharpness_tile_min=float(tile[i]),
                contrast=float(contrast[i]),
                clipped_dark=float(clipped_dark[i]),
                clipped_bright=float(clipped_bright[i]),
                luma_p01=float(luma_p01[i]),
                luma_p99=float(luma_p99[i]),
                mean_r=float(brightness[i] * 1.05),
                mean_g=float(brightness[i]),
                mean_b=float(brightness[i] * 0.9),
                action={"critical": "divert", "minor": "review"}.get(cls, "none"),
            )
        )
    return records


def traffic(
    stations: list[str],
    start: datetime,
    hours: int,
    per_hour: int,
    *,
    seed: int = 0,
    faults: dict[tuple[str, int], Fault] | None = None,
) -> Iterator[PredictionRecord]:
    """Hours of traffic; faults[(station, hour index)] injects a fault."""
    faults = faults or {}
    for h in range(hours):
        hour = start + timedelta(hours=h)
        for station in stations:
            fault = faults.get((station, h), HEALTHY)
            if fault.silent:
                continue
            yield from hour_records(station, hour, per_hour, seed=seed, fault=fault)
