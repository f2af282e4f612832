"""What `log()` accepts, the database stores: the record's checks match the REAL (float4)
columns and the physical ranges of the statistics, so no acknowledged row is refused later."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import Engine, text
from tests_support import record

from monitor.core.exceptions import InvalidRecord
from monitor.core.settings import Settings
from monitor.core.vocabulary import STAT_FIELDS
from monitor.predlog import PredictionLog
from monitor.predlog.records import (
    FLOAT4_MAX,
    FLOAT4_MIN_NORMAL,
    LATENCY_MAX_MS,
    STAT_RANGES,
    encode,
)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("latency_ms", 1e300),
        ("latency_ms", LATENCY_MAX_MS * 1.01),
        ("latency_ms", FLOAT4_MAX * 2),
        ("brightness", 1e39),
        ("brightness", 255.5),
        ("blur", -1.0),
        ("blur", 1e30),
        ("sharpness", 1e20),
        ("clipped_dark", 1.5),
        ("clipped_bright", -0.01),
        ("mean_r", 300.0),
        ("luma_p99", float("nan")),
        ("contrast", float("inf")),
    ],
)
def test_a_value_the_column_cannot_hold_is_refused_naming_the_field(
    field: str, value: float
) -> None:
    with pytest.raises(InvalidRecord, match=re.escape(f"{field}: must be")):
        encode(record(1, **{field: value}))


def test_every_statistic_has_a_range() -> None:
    assert set(STAT_RANGES) == set(STAT_FIELDS)


def _extremes() -> list[dict[str, object]]:
    """Records at every edge that log() accepts."""
    low = {name: STAT_RANGES[name][0] for name in STAT_FIELDS}
    high = {name: STAT_RANGES[name][1] for name in STAT_FIELDS}
    tiny = {name: 1e-300 for name in STAT_FIELDS}
    return [
        {"p_undamaged": 1.0, "p_minor": 1e-50, "p_critical": 1e-300},
        {"p_undamaged": 1.0 - 2e-38, "p_minor": 1e-38, "p_critical": 1e-38},
        {"p_undamaged": 0.0, "p_minor": 0.0, "p_critical": 1.0, "latency_ms": LATENCY_MAX_MS},
        {"latency_ms": 1e-45},
        {"latency_ms": 0.0},
        low,
        high,
        tiny,
        {"clipped_dark": FLOAT4_MIN_NORMAL / 2, "mean_b": 5e-324},
    ]


def test_every_record_log_accepts_is_stored(settings: Settings, db_url, engine: Engine) -> None:
    """Edge values (a float64 softmax's 1e-50, subnormals, the range limits) are all stored:
    no row set aside as rejected, none lost."""
    cases = _extremes()
    with PredictionLog(db_url, settings) as plog:
        for i, fields in enumerate(cases):
            plog.log(record(i, **fields))
    assert plog.stats().accepted == len(cases)
    assert list(settings.effective_spool_dir.glob("rejected-*.txt")) == []
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM predictions")).scalar() == len(cases)
        first = conn.execute(
            text("SELECT p_undamaged, p_minor, p_critical FROM predictions WHERE id = :id"),
            {"id": record(0).id},
        ).one()
    assert tuple(first) == (1.0, 0.0, 0.0)  # below float4's smallest normal: stored as 0


def test_tiny_values_are_encoded_as_zero() -> None:
    line = encode(record(1, p_undamaged=1.0, p_minor=1e-50, p_critical=0.0, clipped_dark=1e-40))
    fields = line.decode().rstrip("\n").split("\t")
    assert fields[7] == "0"  # p_minor
    assert fields[10 + STAT_FIELDS.index("clipped_dark")] == "0"
