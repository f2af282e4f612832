"""Yardsticks and calibrated CUSUM limits (monitor/calibration.py): robust to odd
reference hours, aware of a daily cycle only where there is one, and limits that grow with
heavier tails and a stricter alarm budget, never below the least limit."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from monitor.calibration import (
    CUSUM_SIGNALS,
    HOURS_PER_YEAR,
    Limits,
    Yardstick,
    calibrate_h,
    clipped_cusum,
    cusum_maxima,
    yardstick,
)

START = datetime(2026, 11, 20, tzinfo=UTC)


def _hours(n: int) -> list[datetime]:
    return [START + timedelta(hours=i) for i in range(n)]


def test_the_run_length_target_shares_the_budget_among_every_cusum() -> None:
    assert Limits(budget_years=2.0).target_run_length == pytest.approx(
        2 * HOURS_PER_YEAR * len(CUSUM_SIGNALS)
    )


def test_centre_and_scale_are_robust_to_an_odd_reference_hour() -> None:
    values = np.random.default_rng(1).normal(100.0, 2.0, 72)
    clean = yardstick("brightness", values, _hours(72), Limits())
    values[10] = 10.0  # one hour the camera was covered
    odd = yardstick("brightness", values, _hours(72), Limits())
    assert clean is not None and odd is not None
    assert odd.centre == pytest.approx(clean.centre, abs=0.3)
    assert odd.scale == pytest.approx(clean.scale, rel=0.1)
    assert odd.sd is not None and odd.sd > 4 * odd.scale  # the classical SD is ruined


def test_sharpness_is_judged_on_the_log_scale() -> None:
    values = np.exp(np.random.default_rng(2).normal(math.log(0.3), 0.05, 48))
    stick = yardstick("sharpness", values, _hours(48), Limits())
    assert stick is not None and stick.log
    assert stick.level(None) == pytest.approx(0.3, rel=0.03)
    assert stick.z(0.3 * math.exp(-0.25), None) == pytest.approx(-5, abs=1)


def test_a_daily_swing_becomes_the_normal_level_and_noise_does_not() -> None:
    rng = np.random.default_rng(3)
    hours = _hours(72)
    swing = [110 * (1 + 0.05 * math.sin(2 * math.pi * t.hour / 24)) for t in hours]
    cycled = yardstick("brightness", np.array(swing) + rng.normal(0, 1.0, 72), hours, Limits())
    assert cycled is not None and cycled.cycle is not None
    six, eighteen = START.replace(hour=6), START.replace(hour=18)
    assert cycled.level(six) == pytest.approx(115.5, abs=1)  # the afternoon sun
    assert cycled.level(eighteen) == pytest.approx(104.5, abs=1)
    assert cycled.scale < 2  # the spread around the cycle, not the swing's
    flat = yardstick("brightness", 110 + rng.normal(0, 1.0, 72), hours, Limits())
    assert flat is not None and flat.cycle is None
    # Without the hours of day, no cycle can be known.
    assert yardstick("brightness", np.array(swing), None, Limits()).cycle is None


def test_limits_never_go_below_the_least_limit() -> None:
    z = np.random.default_rng(4).normal(0, 1, 72)
    h = calibrate_h(z, "down", Limits(k=1.0, h_floor=9.0), np.random.default_rng(0))
    assert h == 9.0


def test_heavier_tails_and_a_stricter_budget_raise_the_limit() -> None:
    rng = np.random.default_rng(5)
    normal = rng.normal(0, 1, 200)
    heavy = rng.standard_t(2, 200)  # the worst tile's heavy low tail
    limits = Limits(k=0.5, h_floor=0.1)
    normal_h = calibrate_h(normal, "down", limits, np.random.default_rng(0))
    heavy_h = calibrate_h(heavy / (1.4826 * np.median(np.abs(heavy))), "down", limits,
                          np.random.default_rng(0))  # fmt: skip
    stricter = calibrate_h(
        normal, "down", Limits(k=0.5, h_floor=0.1, budget_years=10), np.random.default_rng(0)
    )
    assert heavy_h > normal_h
    assert stricter > normal_h
    # k = 0.5 on normal hours: about 8.7 for one false alarm per station-year over five
    # CUSUMs (Siegmund's approximation; a fixed h = 5 gives one per ~930 hours per side).
    assert 6 < normal_h < 11


def test_the_calibrated_limit_holds_its_run_length_on_fresh_data() -> None:
    # Hours like the reference's: the limit is crossed about as rarely as the budget says.
    rng = np.random.default_rng(6)
    limits = Limits(k=1.0, h_floor=0.1, budget_years=0.01)  # a short target to measure
    h = calibrate_h(rng.normal(0, 1, 500), "up", limits, np.random.default_rng(0))
    fresh = rng.normal(0, 1, (4000, 500))
    crossed = float(np.mean(cusum_maxima(fresh, limits.k) >= h))
    expected = 500 / limits.target_run_length  # P(a crossing within 500 hours)
    assert expected / 3 < crossed < expected * 3


def test_clipped_cusum_caps_one_odd_hour_and_skips_missing_ones() -> None:
    assert clipped_cusum([10.0], 1.0) == [2.0]  # z clipped at 3: one hour adds at most 3 - k
    assert clipped_cusum([2.0, math.nan, 2.0, -5.0], 1.0) == [1.0, 1.0, 2.0, 0.0]


def test_a_yardstick_survives_json() -> None:
    stick = yardstick("sharpness_tile_min", np.linspace(0.1, 0.2, 30), _hours(30), Limits())
    assert stick is not None
    assert Yardstick.from_json(stick.as_json()) == stick
    assert set(stick.h) == {"down"}  # only the CUSUMs the rules run


def test_too_few_hours_give_no_yardstick() -> None:
    assert yardstick("brightness", [100.0], _hours(1), Limits()) is None
    assert yardstick("sharpness", [0.0, -1.0, 0.2], _hours(3), Limits()) is None
