"""Console: each notification printed as one readable line on standard output."""

from __future__ import annotations

import io

import pytest
from notifiers_support import message

from monitor.core.settings import load_settings
from monitor.notifiers.base import Outcome, Reason
from monitor.notifiers.console import ConsoleNotifier
from monitor.receivers import build_notifiers
from monitor.routing import configured_channels

SUMMARY = "cam-3: 12.0 % critical (12 of 100) vs 3 % baseline, 4.0x — p < 1e-9"


def test_a_trigger_prints_one_line_with_rule_station_start_and_summary(client) -> None:
    out = io.StringIO()
    delivery = ConsoleNotifier(out).send(message("trigger"), client)
    assert (delivery.outcome, delivery.reason) == (Outcome.DELIVERED, Reason.OK)
    assert out.getvalue() == (
        "[beltwatch] FIRING   critical  critical_rate on cam-3 since 2026-11-25 03:00 UTC: "
        f"{SUMMARY}\n"
    )


def test_a_resolve_says_how_long_it_lasted(client) -> None:
    out = io.StringIO()
    ConsoleNotifier(out).send(message("resolve"), client)
    assert out.getvalue() == (
        f"[beltwatch] RESOLVED critical  critical_rate on cam-3 after 3 h: {SUMMARY}\n"
    )


@pytest.mark.parametrize(("event", "word"), [("repeat", "STILL   "), ("test", "TEST    ")])
def test_repeats_and_tests_are_named(client, event: str, word: str) -> None:
    out = io.StringIO()
    ConsoleNotifier(out).send(message(event), client)
    assert out.getvalue().startswith(f"[beltwatch] {word} critical  critical_rate on cam-3 since")


def test_a_site_alert_names_the_site(client) -> None:
    out = io.StringIO()
    ConsoleNotifier(out).send(message(station_id=None, summary=""), client)
    assert " critical_rate on site since " in out.getvalue()
    assert out.getvalue().rstrip().endswith(": site: critical_rate")


def test_a_closed_stream_gives_up_without_raising(client) -> None:
    out = io.StringIO()
    out.close()
    delivery = ConsoleNotifier(out).send(message(), client)
    assert delivery.outcome is Outcome.GIVE_UP
    assert "cannot write" in delivery.detail


def test_standard_output_is_the_default(client, capsys: pytest.CaptureFixture[str]) -> None:
    ConsoleNotifier().send(message(), client)
    assert capsys.readouterr().out.startswith("[beltwatch] FIRING")


def test_the_setting_turns_the_console_channel_on() -> None:
    assert "console" not in configured_channels(load_settings())
    settings = load_settings(console_notifications=True)
    assert configured_channels(settings) == ["console"]
    assert isinstance(build_notifiers(settings)["console"], ConsoleNotifier)
