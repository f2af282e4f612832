"""`cannot_judge` says which rules will skip a station's last closed hour, and why, the way
the rules decide: an exact table of stations and reasons, then the monitor itself as the
judge of agreement on a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from daygen import hour_records
from hourly_support import DAY2, write

from monitor.core.settings import Settings, load_settings
from monitor.hourly import process_hour
from monitor.judgeable import DRIFT_RULES, ReferenceState, Unjudged, cannot_judge, unjudged
from monitor.rules import RULES

HOUR = datetime(2026, 12, 5, 14, tzinfo=UTC)  # the hour judged: 14:00-15:00
SET = ReferenceState("set", since=datetime(2026, 12, 1, 8, tzinfo=UTC), set_by="alice")
PROVISIONAL = ReferenceState("provisional", since=datetime(2026, 12, 2, 9, tzinfo=UTC))
NONE = ReferenceState("none")
NO_REFERENCE = (
    "no reference yet (set one with `beltwatch baseline set --station S3 --since T --until T`; "
    "the monitor makes a provisional one from its first 24 hours with frames: 7 so far)"
)
ALL_CHECKED = ("critical_rate", *DRIFT_RULES)


def per_hour(*volumes: int) -> dict[datetime, int]:
    """Volumes of the hours ending with HOUR, oldest first."""
    last = len(volumes) - 1
    return {HOUR - timedelta(hours=last - i): n for i, n in enumerate(volumes)}


def reasons(
    counts: dict[datetime, int],
    reference: ReferenceState = SET,
    settings: Settings | None = None,
    **kwargs,
) -> list[str]:
    found = cannot_judge("S3", HOUR, reference, counts, settings or load_settings(), **kwargs)
    return [str(u) for u in found]


@pytest.mark.parametrize(
    ("counts", "reference", "kwargs", "expected"),
    [
        pytest.param(per_hour(300), SET, {}, [], id="busy-with-a-reference"),
        pytest.param(per_hour(300), PROVISIONAL, {}, [], id="a-provisional-reference-judges"),
        pytest.param(
            per_hour(300),
            NONE,
            {"hours_seen": 7},
            [f"lens_drift, lighting_drift, class_drift: {NO_REFERENCE}"],
            id="no-reference",
        ),
        pytest.param(
            per_hour(300),
            NONE,
            {"hours_seen": 30},
            [
                "lens_drift, lighting_drift, class_drift: no reference yet (set one with "
                "`beltwatch baseline set --station S3 --since T --until T`; the monitor makes "
                "a provisional one at its next hour with frames)"
            ],
            id="no-reference-but-hours-enough-for-a-provisional-one",
        ),
        pytest.param(
            per_hour(30, 30, 30, 30),
            SET,
            {},
            ["critical_rate: too few predictions: 30 in the hour 14:00-15:00 UTC, needs 50"],
            id="thin-hour-pooled-over-four-hours-for-drift-but-not-for-critical-rate",
        ),
        pytest.param(
            per_hour(5, 6, 7, 8, 7, 8),
            SET,
            {},
            [
                "critical_rate: too few predictions: 8 in the hour 14:00-15:00 UTC, needs 50",
                "lens_drift, lighting_drift, class_drift: too few predictions: 41 in the last "
                "6 h (09:00-15:00 UTC), needs 100",
            ],
            id="too-few-even-pooled",
        ),
        pytest.param(
            {**per_hour(5, 6, 7, 8, 7, 8), HOUR - timedelta(hours=6): 500},
            SET,
            {},
            [
                "critical_rate: too few predictions: 8 in the hour 14:00-15:00 UTC, needs 50",
                "lens_drift, lighting_drift, class_drift: too few predictions: 41 in the last "
                "6 h (09:00-15:00 UTC), needs 100",
            ],
            id="an-hour-beyond-the-pool-does-not-count",
        ),
        pytest.param(
            per_hour(300, 0),
            SET,
            {},
            [
                "critical_rate, lens_drift, lighting_drift, class_drift: no predictions in the "
                "hour 14:00-15:00 UTC"
            ],
            id="silent-hour-is-not-pooled",
        ),
        pytest.param(
            per_hour(10),
            NONE,
            {"hours_seen": 7},
            [
                "critical_rate: too few predictions: 10 in the hour 14:00-15:00 UTC, needs 50",
                f"lens_drift, lighting_drift, class_drift: {NO_REFERENCE}",
            ],
            id="no-reference-comes-first-as-the-rules-check-it-first",
        ),
        pytest.param(
            {},
            SET,
            {"retired_at": datetime(2026, 12, 4, 9, tzinfo=UTC)},
            [
                "every rule: retired 2026-12-04 09:00Z, nothing expected "
                "(`beltwatch station unretire S3` to expect it again)"
            ],
            id="retired-and-silent",
        ),
        pytest.param(
            per_hour(300),
            SET,
            {"retired_at": datetime(2026, 12, 4, 9, tzinfo=UTC)},
            [],
            id="retired-but-sending-is-judged",
        ),
        pytest.param(
            {},
            SET,
            {"retired_at": HOUR + timedelta(hours=1)},
            [
                "critical_rate, lens_drift, lighting_drift, class_drift: no predictions in the "
                "hour 14:00-15:00 UTC"
            ],
            id="retired-after-the-hour-is-still-expected-in-it",
        ),
    ],
)
def test_reasons(counts, reference, kwargs, expected) -> None:
    assert reasons(counts, reference, **kwargs) == expected


def test_without_pooling_a_thin_hour_is_judged_on_its_own() -> None:
    settings = load_settings(drift_max_pool_hours=1)
    assert reasons(per_hour(80, 80), settings=settings) == [
        "lens_drift, lighting_drift, class_drift: too few predictions: 80 in the hour "
        "14:00-15:00 UTC, needs 100"
    ]


def test_the_thresholds_come_from_the_settings() -> None:
    settings = load_settings(drift_min_predictions=20, critical_rate_min_predictions=10)
    assert reasons(per_hour(25), settings=settings) == []
    assert reasons(per_hour(4, 4, 4), settings=settings) == [
        "critical_rate: too few predictions: 4 in the hour 14:00-15:00 UTC, needs 10",
        "lens_drift, lighting_drift, class_drift: too few predictions: 12 in the last 6 h "
        "(09:00-15:00 UTC), needs 20",
    ]


def test_each_rule_is_named_once_and_the_reasons_carry_the_rules() -> None:
    found = cannot_judge("S3", HOUR, NONE, per_hour(10), load_settings(), hours_seen=7)
    assert found == [
        Unjudged(
            ("critical_rate",),
            "too few predictions: 10 in the hour 14:00-15:00 UTC, needs 50",
        ),
        Unjudged(DRIFT_RULES, NO_REFERENCE),
    ]
    named = [rule for u in found for rule in u.rules]
    assert sorted(named) == sorted(ALL_CHECKED)


def test_the_reference_state_reads_a_stored_profile() -> None:
    assert ReferenceState.of(None) == NONE
    band = {
        "provisional": True,
        "created_at": SET.since,
        "window_start": HOUR - timedelta(days=3),
        "window_end": HOUR - timedelta(days=2),
        "set_by": None,
    }
    state = ReferenceState.of(band)
    assert (state.state, state.since, state.set_by) == ("provisional", SET.since, None)
    assert ReferenceState.of({**band, "provisional": False, "set_by": "bob"}).state == "set"


def test_what_it_says_the_monitor_then_does(db_url, engine, tmp_path) -> None:
    """Processed for real, each station's skipped rules are exactly those named."""
    settings = load_settings(
        database_url=db_url.render_as_string(hide_password=False),
        data_dir=tmp_path / "data",
        provisional_reference_hours=2,
    )
    hours = [DAY2 + timedelta(hours=h) for h in range(8, 11)]
    volumes = {
        "busy": (150, 150, 150),  # provisional reference after two hours: judged by all
        "thin": (20, 20, 20),  # a reference, but 60 in three hours
        "new": (0, 0, 150),  # one hour old: no reference yet
        "gone": (150, 150, 0),  # silent in the hour judged
    }
    write(
        db_url,
        settings,
        [
            record
            for station, ns in volumes.items()
            for hour, n in zip(hours, ns, strict=True)
            if n
            for record in hour_records(station, hour, n, seed=3)
        ],
    )
    for hour in hours:
        outcome = process_hour(engine, hour, settings)
        assert outcome.ok, outcome.error
    skipped = {
        (r.station_id, r.rule)
        for r in outcome.results
        if r.station_id is not None and r.state == "skipped" and r.rule in ALL_CHECKED
    }
    with engine.connect() as conn:
        said = unjudged(conn, hours[-1], settings, stations=volumes)
    named = {(station, rule) for station, found in said.items() for u in found for rule in u.rules}
    assert named == skipped
    assert "busy" not in said
    assert [str(u) for u in said["new"]] == [
        "lens_drift, lighting_drift, class_drift: no reference yet (set one with `beltwatch "
        "baseline set --station new --since T --until T`; the monitor makes a provisional one "
        "from its first 2 hours with frames: 1 so far)"
    ]
    assert set(RULES) > {rule for _, rule in named}
