"""The alert manager: the episode state machine as a decision table, the SQL step that
applies it against a real PostgreSQL, and the notice it hands the notifiers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from monitor.alerts import Decision, Episode, Step, apply_results, decide
from monitor.core.queries.silences import add_silence
from monitor.core.settings import load_settings
from monitor.notifiers.base import AlertNotice
from monitor.rules.base import RuleResult

H = datetime(2026, 11, 25, 12, tzinfo=UTC)  # the hour being applied
T0 = H - timedelta(hours=6)  # when the episode started


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


# repeat every 4 h, resolve after 2 ok hours in a row
SETTINGS = load_settings(repeat_interval_hours=4, resolve_after_ok_hours=2)
NOTIFIED_3H_AGO = Episode(T0, last_notified_at=H - hours(3))
NOTIFIED_4H_AGO = Episode(T0, last_notified_at=H - hours(4))
HELD_BACK = Episode(T0, last_notified_at=None)  # its trigger was silenced
ONE_OK_HOUR = Episode(T0, last_notified_at=H - hours(3), ok_hours=1, ok_since=H - hours(2))
ONE_OK_HOUR_HELD_BACK = Episode(T0, None, ok_hours=1, ok_since=H - hours(1))

# (episode, state, silenced) -> Decision (None: nothing changes)
TABLE = [
    pytest.param(None, "firing", False, Decision(Step.OPEN, "trigger", H), id="new-firing"),
    pytest.param(None, "firing", True, Decision(Step.OPEN, None, None), id="new-firing-quiet"),
    pytest.param(
        NOTIFIED_3H_AGO,
        "firing",
        False,
        Decision(Step.FIRING, None, H - hours(3)),
        id="still-firing-before-repeat",
    ),
    pytest.param(
        NOTIFIED_4H_AGO, "firing", False, Decision(Step.FIRING, "repeat", H), id="repeat-due"
    ),
    pytest.param(
        NOTIFIED_4H_AGO,
        "firing",
        True,
        Decision(Step.FIRING, None, H - hours(4)),
        id="repeat-due-but-silenced",
    ),
    pytest.param(
        HELD_BACK, "firing", False, Decision(Step.FIRING, "trigger", H), id="silence-ended"
    ),
    pytest.param(HELD_BACK, "firing", True, Decision(Step.FIRING, None, None), id="still-silent"),
    pytest.param(
        ONE_OK_HOUR,
        "firing",
        False,
        Decision(Step.FIRING, None, H - hours(3)),
        id="firing-again-breaks-the-ok-run",
    ),
    pytest.param(
        NOTIFIED_3H_AGO,
        "ok",
        False,
        Decision(Step.OK, None, H - hours(3), ok_hours=1, ok_since=H),
        id="ok-hour-1",
    ),
    pytest.param(
        ONE_OK_HOUR,
        "ok",
        False,
        Decision(
            Step.RESOLVE,
            "resolve",
            H - hours(3),
            ok_hours=2,
            ok_since=H - hours(2),  # a skipped hour between the ok hours kept the run
            resolved_at=H - hours(2),
        ),
        id="ok-hour-N-resolves",
    ),
    pytest.param(
        ONE_OK_HOUR,
        "ok",
        True,
        Decision(Step.RESOLVE, "resolve", H - hours(3), 2, H - hours(2), H - hours(2)),
        id="resolve-goes-out-through-a-silence",
    ),
    pytest.param(
        ONE_OK_HOUR_HELD_BACK,
        "ok",
        False,
        Decision(Step.RESOLVE, None, None, 2, H - hours(1), H - hours(1)),
        id="resolve-without-a-delivered-trigger",
    ),
    pytest.param(None, "ok", False, None, id="ok-without-an-episode"),
    pytest.param(None, "skipped", False, None, id="skipped"),
    pytest.param(ONE_OK_HOUR, "skipped", False, None, id="skipped-keeps-the-episode"),
]


@pytest.mark.parametrize(("episode", "state", "silenced", "expected"), TABLE)
def test_episode_decision_table(episode, state, silenced, expected) -> None:
    assert decide(episode, state, H, silenced, SETTINGS) == expected


# -- the SQL step ---------------------------------------------------------------------

DAY = datetime(2026, 11, 25, tzinfo=UTC)


def result(state: str, rule: str = "critical_rate", summary: str = "S1: too many") -> RuleResult:
    return RuleResult(rule, "S1", state, "critical", summary, {"rate": 0.2})  # type: ignore[arg-type]


def outbox(engine) -> list[tuple[str, datetime, dict]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT event, hour, payload FROM notifications ORDER BY hour, id")
        ).all()
    return [(event, hour, payload) for event, hour, payload in rows]


def test_a_long_episode_triggers_repeats_on_the_interval_and_resolves_once(
    engine, settings
) -> None:
    states = ["firing"] * 6 + ["ok", "skipped", "ok"]
    with engine.begin() as conn:
        for offset, state in enumerate(states):
            apply_results(conn, DAY + hours(offset), [result(state)], settings)
    sent = outbox(engine)
    assert [(event, hour) for event, hour, _ in sent] == [
        ("trigger", DAY),
        ("repeat", DAY + hours(4)),  # repeat_interval_hours = 4
        ("resolve", DAY + hours(8)),  # 2 ok hours in a row; the skipped one between them
    ]
    repeat = AlertNotice.from_json(sent[1][2])
    assert (repeat.event, repeat.started_at, repeat.hour) == ("repeat", DAY, DAY + hours(4))
    resolve = AlertNotice.from_json(sent[2][2])
    assert resolve.resolved_at == DAY + hours(6)  # the first ok hour began it
    assert resolve.status == "resolved" and resolve.summary == "S1: too many"


def test_a_silence_pattern_holds_the_trigger_until_it_ends(engine, settings) -> None:
    with engine.begin() as conn:
        add_silence(
            conn,
            rule="*_drift",
            station_id=None,
            starts_at=DAY,
            ends_at=DAY + hours(1.5),
            created_by="test",
            comment="lens cleaning",
        )
        first = apply_results(conn, DAY, [result("firing", "lens_drift")], settings)
        second = apply_results(conn, DAY + hours(1), [result("firing", "lens_drift")], settings)
    assert [(c.event, c.silenced) for c in first] == [(None, True)]
    assert [(c.event, c.silenced) for c in second] == [("trigger", False)]
    assert [(event, hour) for event, hour, _ in outbox(engine)] == [("trigger", DAY + hours(1))]


def test_applying_an_hour_again_queues_nothing_new(engine, settings) -> None:
    with engine.begin() as conn:
        apply_results(conn, DAY, [result("firing")], settings)
        again = apply_results(conn, DAY, [result("firing")], settings)
    # Nothing new, and it says so: the alert has already taken in this hour.
    assert [(c.fingerprint, c.event, c.taken_in) for c in again] == [
        ("critical_rate:S1", None, DAY)
    ]
    assert len(outbox(engine)) == 1


# -- the notice ------------------------------------------------------------------------

STORED_ROW = {  # a payload as rows queued before AlertNotice existed carry it
    "alert_id": 3,
    "fingerprint": "lens_drift:S1",
    "rule": "lens_drift",
    "station_id": "S1",
    "severity": "warning",
    "event": "resolve",
    "status": "resolved",
    "summary": "S1: sharpness down 45 %",
    "evidence": {"sharpness": {"shift": -0.45}},
    "hour": "2026-11-25T08:00:00+00:00",
    "started_at": "2026-11-25T03:00:00+00:00",
    "resolved_at": "2026-11-25T07:00:00+00:00",
}


def test_a_stored_payload_reads_back_and_writes_the_same_keys() -> None:
    notice = AlertNotice.from_json(STORED_ROW)
    assert notice.started_at == datetime(2026, 11, 25, 3, tzinfo=UTC)
    assert notice.to_json() == STORED_ROW
    assert AlertNotice.from_json(notice.to_json()) == notice


MISSING = object()


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"fingerprint": MISSING, "rule": MISSING}, "lacks fingerprint, rule$"),
        ({"event": "explode"}, "unknown event 'explode'"),
        ({"hour": "yesterday"}, "yesterday"),
        ({"evidence": [1, 2]}, "evidence is not an object"),
    ],
)
def test_an_unreadable_payload_is_a_value_error_saying_what(change, complaint) -> None:
    broken = {key: value for key, value in {**STORED_ROW, **change}.items() if value is not MISSING}
    with pytest.raises(ValueError, match=complaint):
        AlertNotice.from_json(broken)


def test_the_test_notice_is_a_complete_info_alert() -> None:
    notice = AlertNotice.test("slack", H)
    assert AlertNotice.from_json(notice.to_json()) == notice
    assert (notice.event, notice.severity, notice.status) == ("test", "info", "firing")


def test_an_inhibited_alert_is_kept_but_sent_only_if_it_outlives_its_inhibitor(
    engine, settings
) -> None:
    from monitor.rules import diagnose

    mix = RuleResult("class_drift", "S1", "firing", "warning", "S1: class mix moved", {})
    with engine.begin() as conn:
        # A damage wave: the spike and the mix move are one incident, one page.
        both = diagnose([result("firing"), mix])
        first = apply_results(conn, DAY, both, settings)
        # The spike ends, the mix stays moved: now it is news of its own.
        second = apply_results(conn, DAY + hours(1), diagnose([result("ok"), mix]), settings)
    assert [(c.fingerprint, c.event, c.silenced, c.inhibited) for c in first] == [
        ("critical_rate:S1", "trigger", False, False),
        ("class_drift:S1", None, False, True),
    ]
    assert [(c.fingerprint, c.event) for c in second] == [
        ("critical_rate:S1", None),
        ("class_drift:S1", "trigger"),
    ]
    sent = outbox(engine)
    assert [(AlertNotice.from_json(p).fingerprint, e) for e, _, p in sent] == [
        ("critical_rate:S1", "trigger"),
        ("class_drift:S1", "trigger"),
    ]
    spike = AlertNotice.from_json(sent[0][2])
    assert spike.evidence["linked"] == ["class_drift:S1"] and "linked: class_drift:S1" in (
        spike.summary
    )


def test_an_alert_keeps_the_evidence_of_its_worst_hour(engine, settings) -> None:
    def spike(rate: float, hint: str = "") -> RuleResult:
        summary = f"S1: {rate:.0%} critical{hint}"
        return RuleResult("critical_rate", "S1", "firing", "critical", summary, {"magnitude": rate})

    hours_ = [
        spike(0.2),
        spike(0.5, "; likely a camera fault: worst-tile sharpness down 68 %"),
        spike(0.15),  # the camera was cleaned; the spike fades
        result("ok"),
        result("ok"),
    ]
    with engine.begin() as conn:
        for offset, hour_result in enumerate(hours_):
            apply_results(conn, DAY + hours(offset), [hour_result], settings)
        evidence = conn.execute(text("SELECT evidence FROM alerts")).scalar_one()
    worst = evidence["worst_hour"]
    assert worst["hour"] == (DAY + hours(1)).isoformat() and worst["magnitude"] == 0.5
    assert worst["summary"].endswith("likely a camera fault: worst-tile sharpness down 68 %")
    resolve = AlertNotice.from_json(outbox(engine)[-1][2])
    assert resolve.event == "resolve"
    assert resolve.evidence["worst_hour"] == worst  # the hint outlives the fault
    assert resolve.summary == worst["summary"]  # "It was: ..." the worst hour
