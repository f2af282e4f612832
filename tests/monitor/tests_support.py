"""Plain helpers shared by tests and by the child processes some tests start."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from monitor.predlog.records import PredictionRecord

T0 = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)


def record(i: int, **overrides: object) -> PredictionRecord:
    """The i-th record of a deterministic stream (id = i + 1, one every 10 ms)."""
    fields: dict[str, object] = {
        "id": uuid.UUID(int=i + 1),
        "station_id": f"S{i % 4}",
        "captured_at": T0 + timedelta(milliseconds=10 * i),
        "model_version": "cnn-int8-1",
        "predicted_class": ("undamaged", "minor", "critical")[i % 3],
        "p_undamaged": 0.8,
        "p_minor": 0.15,
        "p_critical": 0.05,
        "latency_ms": 4.5,
        "brightness": 120.0 + i % 50,
        "blur": 310.25,
        "sharpness": 0.42,
        "sharpness_tile_min": 0.21,
        "contrast": 41.5,
        "clipped_dark": 0.002,
        "clipped_bright": 0.0,
        "luma_p01": 12.0,
        "luma_p99": 238.0,
        "mean_r": 121.0,
        "mean_g": 110.5,
        "mean_b": 90.25,
        "action": "none",
        "parcel_id": f"P{i}",
    }
    fields.update(overrides)
    return PredictionRecord(**fields)  # type: ignore[arg-type]
