"""A logged prediction: the record the worker hands to the prediction log, its validation,
and its encoding as one line of PostgreSQL COPY text (what the spool stores).
"""

from __future__ import annotations

import math
import operator
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from monitor.core.exceptions import InvalidRecord
from monitor.core.vocabulary import ACTIONS, CLASSES, PROB_FIELDS, STAT_FIELDS

# The order of the fields in a COPY line; the same as the `predictions` columns.
COLUMNS = (
    "id",
    "captured_at",
    "station_id",
    "parcel_id",
    "model_version",
    "predicted_class",
    *PROB_FIELDS,
    "latency_ms",
    *STAT_FIELDS,
    "action",
    "image_ref",
)

PROB_SUM_TOLERANCE = 0.01  # INT8 models' softmax sums drift from 1 by a few 1e-3

# What log() accepts, the database stores. The numeric columns are REAL (float4): larger
# than FLOAT4_MAX cannot be held at all, and a value below float4's smallest normal (a
# confident float64 softmax gives p = 1e-50) would underflow, which PostgreSQL refuses
# ("out of range for type real"); such a value is stored as 0.0, within float4's rounding.
FLOAT4_MAX = 3.4028234663852886e38
FLOAT4_MIN_NORMAL = 1.1754943508222875e-38
# Physical ranges of the image statistics of an 8-bit frame (inference/imagestats.py):
# levels are 0..255; contrast is the luma SD (<= 127.5); clipping is a fraction; blur is the
# variance of a Laplacian whose kernel gain is at most 8 (<= (8 * 255)^2); sharpness is
# blur / luma variance (<= 64, the kernel gain squared). The bounds leave headroom and
# refuse only what no camera frame can give (a client's unit mix-up, a corrupt value).
STAT_RANGES: dict[str, tuple[float, float]] = {
    "brightness": (0.0, 255.0),
    "blur": (0.0, 1e7),
    "sharpness": (0.0, 1e4),
    "sharpness_tile_min": (0.0, 1e4),
    "contrast": (0.0, 255.0),
    "clipped_dark": (0.0, 1.0),
    "clipped_bright": (0.0, 1.0),
    "luma_p01": (0.0, 255.0),
    "luma_p99": (0.0, 255.0),
    "mean_r": (0.0, 255.0),
    "mean_g": (0.0, 255.0),
    "mean_b": (0.0, 255.0),
}
LATENCY_MAX_MS = 3_600_000.0  # an hour: anything longer is not the latency of one frame
_STAT_LOWS = tuple(STAT_RANGES[name][0] for name in STAT_FIELDS)
_STAT_HIGHS = tuple(STAT_RANGES[name][1] for name in STAT_FIELDS)
# A tab or newline would break the COPY line; no identifier needs a control character.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TEXT_LIMITS = {"station_id": 128, "parcel_id": 256, "model_version": 128, "image_ref": 1024}
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def uuid7() -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 v7): ids of one moment sit together in the index."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return uuid.UUID(int=value)


@dataclass(slots=True, kw_only=True)
class PredictionRecord:
    """One prediction of the classifier and the statistics of the image it saw."""

    station_id: str
    captured_at: datetime
    model_version: str
    predicted_class: str
    p_undamaged: float
    p_minor: float
    p_critical: float
    brightness: float
    blur: float
    sharpness: float
    sharpness_tile_min: float
    contrast: float
    clipped_dark: float
    clipped_bright: float
    luma_p01: float
    luma_p99: float
    mean_r: float
    mean_g: float
    mean_b: float
    latency_ms: float | None = None
    parcel_id: str | None = None
    action: str = "none"
    image_ref: str | None = None
    id: uuid.UUID = field(default_factory=uuid7)


def _text(name: str, value: object, *, required: bool) -> None:
    if value is None:
        if required:
            raise InvalidRecord(name, "is required")
        return
    if not isinstance(value, str):
        raise InvalidRecord(name, f"must be a string, got {type(value).__name__}")
    if required and not value.strip():
        raise InvalidRecord(name, "must not be empty")
    if len(value) > _TEXT_LIMITS[name]:
        raise InvalidRecord(name, f"longer than {_TEXT_LIMITS[name]} characters")
    if _CONTROL.search(value):
        raise InvalidRecord(name, f"contains a control character: {value!r}")


def _escape(value: str | None) -> str | None:
    return None if value is None else value.replace("\\", "\\\\")


def _number(name: str, value: object, low: float | None = None, high: float | None = None) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidRecord(name, f"must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise InvalidRecord(name, f"must be finite, got {number}")
    if (low is not None and number < low) or (high is not None and number > high):
        raise InvalidRecord(name, f"must be within [{low}, {high}], got {number}")
    return number


_probs_of = operator.attrgetter(*PROB_FIELDS)
_stats_of = operator.attrgetter(*STAT_FIELDS)
_texts_of = operator.attrgetter("station_id", "model_version", "parcel_id", "image_ref")
_CLASS_SET = frozenset(CLASSES)
# One format for the whole line (a single C call). Nine significant digits round-trip the
# REAL (float32) columns exactly.
_LINE = "\t".join(["%s"] * 6 + ["%.9g"] * 3 + ["%s"] + ["%.9g"] * 12 + ["%s"] * 2) + "\n"
_ACTION_SET = frozenset(ACTIONS)


def encode(record: PredictionRecord) -> bytes:
    """Validate `record` and return it as one COPY text line (ending in a newline).

    Raises InvalidRecord naming the first bad field. This runs in the caller's thread on
    every prediction, so the common case is checked in bulk (one sum tells that sixteen
    numbers are finite); only a record that fails is examined field by field, to name it.
    """
    if not isinstance(record, PredictionRecord):
        raise InvalidRecord("record", f"expected a PredictionRecord, got {type(record).__name__}")
    try:
        probs = tuple(map(float, _probs_of(record)))
        stats = tuple(map(float, _stats_of(record)))
        latency = record.latency_ms
        if latency is not None:
            latency = float(latency)
    except (TypeError, ValueError):
        _explain(record)
        raise
    station, model, parcel, image_ref = _texts_of(record)
    captured = record.captured_at
    if not (
        record.predicted_class in _CLASS_SET
        and record.action in _ACTION_SET
        and isinstance(record.id, uuid.UUID)
        and isinstance(captured, datetime)
        and captured.utcoffset() is not None
        and _EARLIEST <= captured < _LATEST
        and min(probs) >= 0.0
        and max(probs) <= 1.0
        and abs(probs[0] + probs[1] + probs[2] - 1.0) <= PROB_SUM_TOLERANCE
        # Comparisons with NaN are false, so these also refuse NaN and infinities.
        and all(map(operator.le, _STAT_LOWS, stats))
        and all(map(operator.le, stats, _STAT_HIGHS))
        and (latency is None or 0.0 <= latency <= LATENCY_MAX_MS)
        and type(station) is str
        and type(model) is str
        and station.strip()
        and model.strip()
        and (parcel is None or type(parcel) is str)
        and (image_ref is None or type(image_ref) is str)
        and len(station) <= _TEXT_LIMITS["station_id"]
        and len(model) <= _TEXT_LIMITS["model_version"]
        and (parcel is None or len(parcel) <= _TEXT_LIMITS["parcel_id"])
        and (image_ref is None or len(image_ref) <= _TEXT_LIMITS["image_ref"])
        and not _CONTROL.search(texts := f"{station}{model}{parcel or ''}{image_ref or ''}")
    ):
        _explain(record)  # raises InvalidRecord naming the field
    if "\\" in texts:  # COPY text format reads a backslash as an escape
        station, model, parcel, image_ref = (
            _escape(t) for t in (station, model, parcel, image_ref)
        )
    if captured.tzinfo is not UTC:
        captured = captured.astimezone(UTC)
    if min(probs) < FLOAT4_MIN_NORMAL:
        probs = _flush_tiny(probs)
    if any(0.0 < value < FLOAT4_MIN_NORMAL for value in stats):
        stats = _flush_tiny(stats)
    if latency is not None and latency < FLOAT4_MIN_NORMAL:
        latency = 0.0
    return (
        _LINE
        % (
            record.id,
            captured.isoformat(),
            station,
            "\\N" if parcel is None else parcel,
            model,
            record.predicted_class,
            *probs,
            "\\N" if latency is None else f"{latency:.9g}",
            *stats,
            record.action,
            "\\N" if image_ref is None else image_ref,
        )
    ).encode()


def _flush_tiny(values: tuple[float, ...]) -> tuple[float, ...]:
    """Values below float4's smallest normal as 0.0 (all values here are >= 0)."""
    return tuple(0.0 if value < FLOAT4_MIN_NORMAL else value for value in values)


def _explain(record: PredictionRecord) -> None:
    """Check `record` field by field and raise InvalidRecord for the first bad one."""
    if record.predicted_class not in CLASSES:
        raise InvalidRecord(
            "predicted_class",
            f"must be one of {', '.join(CLASSES)}, got {record.predicted_class!r}",
        )
    if record.action not in ACTIONS:
        raise InvalidRecord("action", f"must be one of {', '.join(ACTIONS)}, got {record.action!r}")
    if not isinstance(record.id, uuid.UUID):
        raise InvalidRecord("id", f"must be a uuid.UUID, got {type(record.id).__name__}")
    captured = record.captured_at
    if not isinstance(captured, datetime):
        raise InvalidRecord("captured_at", f"must be a datetime, got {type(captured).__name__}")
    if captured.tzinfo is None or captured.utcoffset() is None:
        raise InvalidRecord("captured_at", "must be timezone-aware (e.g. datetime.now(UTC))")
    if not _EARLIEST <= captured < _LATEST:
        raise InvalidRecord("captured_at", f"is implausible: {captured.isoformat()}")
    probs = [_number(name, getattr(record, name), 0.0, 1.0) for name in PROB_FIELDS]
    total = sum(probs)
    if abs(total - 1.0) > PROB_SUM_TOLERANCE:
        raise InvalidRecord("p_undamaged+p_minor+p_critical", f"must sum to 1, got {total:.6f}")
    if record.latency_ms is not None:
        _number("latency_ms", record.latency_ms, 0.0, LATENCY_MAX_MS)
    for name in STAT_FIELDS:
        _number(name, getattr(record, name), *STAT_RANGES[name])
    _text("station_id", record.station_id, required=True)
    _text("model_version", record.model_version, required=True)
    _text("parcel_id", record.parcel_id, required=False)
    _text("image_ref", record.image_ref, required=False)
    raise InvalidRecord("record", "failed validation")  # unreachable unless a check drifted
