"""`beltwatch silence add|expire|list` against a real PostgreSQL: relative and ISO times,
windows that cannot hold anything back refused, rules and stations checked against what
exists, one silence ended now, and each silence's state and author listed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import typer
from click.testing import Result
from sqlalchemy import Engine, Row, insert, select, text
from typer.testing import CliRunner

from monitor.cli import app
from monitor.cli.silence import silence_window
from monitor.core.db.models import HourlyRollup, Silence
from monitor.core.queries import silences
from monitor.rules import RULES

runner = CliRunner()
STATIONS = ("dock-1", "dock-2", "pack-7")
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


@pytest.fixture
def env(db_url, tmp_path) -> dict[str, str]:
    return {
        "BELTWATCH_DATABASE_URL": db_url.render_as_string(hide_password=False),
        "BELTWATCH_DATA_DIR": str(tmp_path / "data"),
        "COLUMNS": "250",  # Typer's error box would wrap the message mid-word
    }


@pytest.fixture
def known_stations(engine: Engine) -> None:
    """Three stations the database has seen (rolled-up hours)."""
    with engine.begin() as conn:
        for station in STATIONS:
            conn.execute(
                insert(HourlyRollup).values(
                    hour=datetime(2026, 11, 30, 8, tzinfo=UTC),
                    station_id=station,
                    n_total=10,
                    n_undamaged=10,
                    n_minor=0,
                    n_critical=0,
                )
            )


@pytest.fixture
def stored(engine: Engine) -> Callable[[], list[Row]]:
    """The silences table as it stands, by id."""

    def rows() -> list[Row]:
        with engine.connect() as conn:
            return list(conn.execute(select(Silence.__table__).order_by(Silence.id)))

    return rows


def add(env: dict[str, str], *args: str) -> Result:
    return runner.invoke(app, ["silence", "add", "--comment", "belt work", *args], env=env)


def clock() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


# --- the window: a pure table ------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "until", "lasting", "window"),
    [
        (None, None, "2h", (NOW, NOW + timedelta(hours=2))),
        (None, None, "90m", (NOW, NOW + timedelta(minutes=90))),
        (None, None, "1h30m", (NOW, NOW + timedelta(minutes=90))),
        (None, None, "2d", (NOW, NOW + timedelta(days=2))),
        (None, "+90m", None, (NOW, NOW + timedelta(minutes=90))),
        (None, "2026-12-05T18:00Z", None, (NOW, NOW.replace(hour=18))),
        (None, "2026-12-05T19:00+01:00", None, (NOW, NOW.replace(hour=18))),
        ("+30m", None, "1h", (NOW + timedelta(minutes=30), NOW + timedelta(minutes=90))),
        ("+30m", "+2h", None, (NOW + timedelta(minutes=30), NOW + timedelta(hours=2))),
        ("2026-12-05T11:00Z", "+1h", None, (NOW - timedelta(hours=1), NOW + timedelta(hours=1))),
    ],
)
def test_a_window_takes_relative_and_iso_times(start, until, lasting, window) -> None:
    assert silence_window(NOW, start=start, until=until, lasting=lasting) == window


@pytest.mark.parametrize(
    ("start", "until", "lasting", "option", "words"),
    [
        (None, "+1h", "2h", "--for", "not both"),
        (None, None, None, "--until", "--for 2h"),
        (None, None, "2", "--for", "'2' is not a duration; use numbers with units: 90m"),
        (None, None, "2 hours", "--for", "is not a duration"),
        (None, None, "-2h", "--for", "is not a duration"),
        (None, "tomorrow", None, "--until", "'tomorrow' is not a time; use an ISO 8601 time"),
        (None, "90m", None, "--until", "or +DURATION from now (+90m"),
        (None, "+9x", None, "--until", "is not a time"),
        (None, "2026-12-05T18:00", None, "--until", "is not a time"),
        ("soon", "+1h", None, "--from", "'soon' is not a time"),
        (None, "2026-12-05T11:00Z", None, "--until", "would end in the past"),
        ("2026-12-05T09:00Z", "2026-12-05T10:00Z", None, "--until", "in the past"),
        ("+2h", "+1h", None, "--until", "at or before it starts"),
        (None, None, "0m", "--for", "at or before it starts"),
        (None, "+99999999999d", None, "--until", "too far in the future"),
    ],
)
def test_a_window_that_cannot_be_read_or_holds_nothing_is_refused(
    start, until, lasting, option, words
) -> None:
    with pytest.raises(typer.BadParameter) as refused:
        silence_window(NOW, start=start, until=until, lasting=lasting)
    assert refused.value.param_hint == option
    assert words in refused.value.message


# --- silence add -------------------------------------------------------------------------


def test_for_adds_a_silence_from_now_and_says_who(env, stored, known_stations) -> None:
    before = clock()
    result = add(env, "--for", "1h30m", "--station", "dock-1", "--by", "ana")
    after = clock()
    assert result.exit_code == 0, result.output
    [row] = stored()
    assert before <= row.starts_at <= after
    assert row.ends_at - row.starts_at == timedelta(minutes=90)
    assert (row.rule, row.station_id, row.created_by) == (None, "dock-1", "ana")
    assert f"silence {row.id}: rule any, station dock-1, " in result.output
    assert "(active), by ana" in result.output


def test_until_relative_and_from_relative_make_a_pending_silence(env, stored) -> None:
    before = clock()
    result = add(env, "--start", "+30m", "--until", "+2h", "--rule", "no_data")
    after = clock()
    assert result.exit_code == 0, result.output
    [row] = stored()
    assert before + timedelta(minutes=30) <= row.starts_at <= after + timedelta(minutes=30)
    assert row.ends_at - row.starts_at == timedelta(minutes=90)
    assert "(pending)" in result.output


def test_until_iso_is_stored_in_utc(env, stored) -> None:
    result = add(env, "--until", "2099-01-01T01:00+01:00")
    assert result.exit_code == 0, result.output
    assert stored()[0].ends_at == datetime(2099, 1, 1, tzinfo=UTC)
    assert ".. 2099-01-01 00:00Z" in result.output


def test_by_defaults_to_the_login_name(env, stored, monkeypatch) -> None:
    monkeypatch.setattr("monitor.cli.silence.login_name", lambda: "operator7")
    assert add(env, "--for", "1h").exit_code == 0
    assert stored()[0].created_by == "operator7"


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--for", "2h", "--until", "+3h"], "--for"),
        (["--for", "soon"], "--for"),
        (["--until", "2020-01-01T00:00Z"], "--until"),
        (["--from", "+3h", "--until", "+1h"], "--until"),
    ],
)
def test_a_refused_window_exits_2_naming_the_option_and_stores_nothing(
    env, stored, args, option
) -> None:
    result = add(env, *args)
    assert result.exit_code == 2, result.output
    assert option in result.output
    assert stored() == []


def test_every_registered_rule_is_accepted_by_name(env, stored) -> None:
    for rule in RULES:
        assert add(env, "--for", "1h", "--rule", rule).exit_code == 0, rule
    assert [row.rule for row in stored()] == list(RULES)


def test_an_unknown_rule_is_refused_listing_the_rules_closest_first(env, stored) -> None:
    result = add(env, "--for", "1h", "--rule", "lens_drfit")
    assert result.exit_code == 1
    line = result.stderr.strip()
    assert "rule 'lens_drfit' matches no rule in the registry; known: lens_drift, " in line
    assert all(rule in line for rule in RULES)
    assert "--force" in line
    assert stored() == []


def test_a_rule_pattern_must_match_a_registered_rule(env, stored) -> None:
    assert add(env, "--for", "1h", "--rule", "*_drift").exit_code == 0
    assert add(env, "--for", "1h", "--rule", "*_drfit").exit_code == 1
    assert [row.rule for row in stored()] == ["*_drift"]


def test_an_unknown_station_is_refused_listing_the_known_closest_first(
    env, stored, known_stations
) -> None:
    result = add(env, "--for", "1h", "--station", "dokc-2")
    assert result.exit_code == 1
    assert (
        "station 'dokc-2' matches no station seen in the database; "
        "known: dock-2, dock-1, pack-7 (--force adds the silence anyway)"
    ) in result.stderr
    assert stored() == []


def test_station_patterns_and_stations_known_only_from_a_reference_are_accepted(
    env, stored, known_stations, engine
) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO reference_profiles (station_id, window_start, window_end, "
                "n_predictions, sample, quantiles, hourly_spread, class_mix, "
                "baseline_critical_rate) VALUES ('wrap-1', '2026-11-01', '2026-11-02', 1, "
                "'{}', '{}', '{}', '{}', 0)"
            )
        )
    for station in ("dock-*", "wrap-1", "*"):
        assert add(env, "--for", "1h", "--station", station).exit_code == 0, station
    assert add(env, "--for", "1h", "--station", "wrap-*x").exit_code == 1
    assert [row.station_id for row in stored()] == ["dock-*", "wrap-1", "*"]


def test_a_station_on_an_empty_database_is_refused_unless_forced(env, stored) -> None:
    result = add(env, "--for", "1h", "--station", "dock-1")
    assert result.exit_code == 1
    assert "station 'dock-1' matches no station: none seen in the database yet" in result.stderr
    result = add(env, "--for", "1h", "--station", "dock-1", "--rule", "nope", "--force")
    assert result.exit_code == 0, result.output
    assert [(row.rule, row.station_id) for row in stored()] == [("nope", "dock-1")]


def test_an_unknown_rule_and_station_are_named_together(env, known_stations) -> None:
    result = add(env, "--for", "1h", "--rule", "latncy", "--station", "dock-9")
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert "rule 'latncy'" in line and "station 'dock-9'" in line


# --- silence expire ----------------------------------------------------------------------


def _silence(engine: Engine, starts: timedelta, ends: timedelta, **fields: str) -> int:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        return silences.add_silence(
            conn,
            rule=fields.get("rule"),
            station_id=fields.get("station"),
            starts_at=now + starts,
            ends_at=now + ends,
            created_by=fields.get("by", "ana"),
            comment=fields.get("comment", "lens swap"),
        )


def test_expire_ends_an_active_silence_now(env, engine, stored) -> None:
    sid = _silence(engine, timedelta(hours=-1), timedelta(hours=2), station="dock-1")
    before = clock()
    result = runner.invoke(app, ["silence", "expire", str(sid), "--by", "ben"], env=env)
    after = clock()
    assert result.exit_code == 0, result.output
    assert f"silence {sid} (rule any, station dock-1) ended at " in result.output
    [row] = stored()
    assert before <= row.ends_at <= after
    assert row.comment == "lens swap [ended by ben]"
    with engine.connect() as conn:
        assert silences.active_silences(conn, after + timedelta(seconds=1)) == []


def test_expire_deletes_a_silence_still_to_come(env, engine, stored) -> None:
    sid = _silence(engine, timedelta(hours=1), timedelta(hours=2))
    result = runner.invoke(app, ["silence", "expire", str(sid), "--by", "ben"], env=env)
    assert result.exit_code == 0, result.output
    assert "was still to come: deleted by ben" in result.output
    assert stored() == []


def test_expire_refuses_an_unknown_or_ended_silence(env, engine, stored) -> None:
    result = runner.invoke(app, ["silence", "expire", "999"], env=env)
    assert result.exit_code == 1
    assert "no silence 999" in result.stderr
    sid = _silence(engine, timedelta(hours=-3), timedelta(hours=-1))
    result = runner.invoke(app, ["silence", "expire", str(sid)], env=env)
    assert result.exit_code == 1
    assert f"silence {sid} already ended at " in result.stderr
    assert stored()[0].comment == "lens swap"  # untouched


def test_expire_takes_a_number(env) -> None:
    result = runner.invoke(app, ["silence", "expire", "last"], env=env)
    assert result.exit_code == 2


# --- silence list ------------------------------------------------------------------------


def test_list_shows_each_silences_state_and_author(env, engine) -> None:
    active = _silence(engine, timedelta(hours=-1), timedelta(hours=1), rule="latency", by="ana")
    pending = _silence(engine, timedelta(hours=3), timedelta(hours=4), by="ben")
    recent = _silence(engine, timedelta(hours=-5), timedelta(hours=-2), by="cy")
    old = _silence(engine, timedelta(days=-9), timedelta(days=-8), by="dee")
    result = runner.invoke(app, ["silence", "list"], env=env)
    assert result.exit_code == 0, result.output
    lines = {int(line.split()[0]): line.split() for line in result.output.splitlines()[1:]}
    assert set(lines) == {active, pending, recent}  # ended over a day ago: left out
    assert lines[active][1:3] == ["active", "latency"]
    assert (lines[pending][1], lines[recent][1]) == ("pending", "expired")
    assert [lines[sid][-3] for sid in (active, pending, recent)] == ["ana", "ben", "cy"]
    assert result.output.splitlines()[0].split() == [
        *("id", "state", "rule", "station", "from", "until", "by", "comment")
    ]

    everything = runner.invoke(app, ["silence", "list", "--all"], env=env).output
    assert f"{old:>4}  expired" in everything and "dee" in everything


def test_list_with_no_silences_says_so(env) -> None:
    result = runner.invoke(app, ["silence", "list"], env=env)
    assert result.exit_code == 0 and result.output.strip() == "no silences"
