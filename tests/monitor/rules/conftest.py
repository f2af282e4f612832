"""Fixtures for the rule tests: default settings (no database), a simulated station, and
statistics of real photographs under simulated faults (built once per session)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rules_support import (
    FAULTS,
    Belt,
    Stats,
    build_reference,
    make_settings,
    photo_frames,
    photo_stats,
)

from monitor import drift
from monitor.core.settings import Settings
from monitor.rules.base import Reference


@pytest.fixture
def settings() -> Settings:
    """Default settings (overrides the database-backed fixture of tests/conftest.py)."""
    return make_settings()


@pytest.fixture
def belt() -> Belt:
    return Belt(seed=1)


@pytest.fixture(scope="session")
def small_reference() -> Reference:
    """A cheap reference (24 simulated hours of 500 frames, the usual class mix)."""
    return Belt(seed=2).reference(hours=24, n=500)


@pytest.fixture(scope="session")
def photo_reference() -> Reference:
    """Reference of 480 clean frames, split into 6 pseudo-hours of 80 for the spread."""
    stats = photo_stats(photo_frames(seed=1, count=480))
    hours = [{c: v[i::6] for c, v in stats.items()} for i in range(6)]
    return build_reference(hours)


@pytest.fixture(scope="session")
def photo_hours() -> dict[str, Stats]:
    """Fault name -> statistics of 120 fresh frames (other crops) under that fault."""
    frames = photo_frames(seed=2, count=120)
    return {name: photo_stats([fault(f) for f in frames]) for name, fault in FAULTS.items()}


@pytest.fixture
def evidently_runs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """The columns of every real Evidently run the test makes, in order (a spy: each run
    still happens)."""
    runs: list[tuple[str, ...]] = []
    real: Callable[..., object] = drift._run_report

    def counted(reference, current, columns, *args, **kwargs):
        runs.append(tuple(columns))
        return real(reference, current, columns, *args, **kwargs)

    monkeypatch.setattr(drift, "_run_report", counted)
    return runs
