"""reference_profiles (monitor/core/queries/references.py): one profile per station,
stored again replaces it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.core.queries import references

START = datetime(2026, 11, 23, tzinfo=UTC)


def _profile(station: str, n: int) -> dict:
    return {
        "station_id": station,
        "window_start": START,
        "window_end": START + timedelta(days=1),
        "provisional": False,
        "n_predictions": n,
        "sample": {"brightness": [118.0, 121.5]},
        "quantiles": {"brightness": {"p50": 119.0}},
        "hourly_spread": {"n": {"mean": n / 24, "sd": 3.0, "n": 24}},
        "class_mix": {"undamaged": 0.8, "minor": 0.17, "critical": 0.03},
        "baseline_critical_rate": 0.03,
    }


def test_a_profile_is_stored_read_back_and_replaced(engine) -> None:
    with engine.begin() as conn:
        references.save_profile(conn, _profile("S1", 7200))
        references.save_profile(conn, _profile("S1", 4800))  # `baseline set` again
        references.save_profile(conn, _profile("S0", 2400))
        stored = references.profile(conn, "S1")
        every = references.all_profiles(conn)
        missing = references.profile(conn, "S9")
    assert stored is not None and stored["n_predictions"] == 4800
    assert stored["sample"] == {"brightness": [118.0, 121.5]}
    assert [p["station_id"] for p in every] == ["S0", "S1"]
    assert missing is None
