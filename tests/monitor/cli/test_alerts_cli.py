"""Every command that routes alerts checks receivers and routes at start, naming the setting."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from monitor.notifiers import CHANNELS

runner = CliRunner()

ROUTES_TO_SMS = {
    "BELTWATCH_ALERT_ROUTES": '[{"rule": "*_drift", "channels": ["sms"]}]',
    "BELTWATCH_WEBHOOK_URL": "http://127.0.0.1:9/hook",
}


@pytest.mark.parametrize(
    "command",
    [
        ["monitor", "run"],
        ["monitor", "once"],
        ["monitor", "backfill", "--since", "2026-11-24T00:00Z", "--until", "2026-11-24T02:00Z"],
        ["alerts", "test", "--channel", "webhook"],
    ],
    ids=lambda command: " ".join(command[:2]),
)
def test_a_route_to_an_unknown_channel_stops_every_routing_command_at_start(command) -> None:
    result = runner.invoke(app, command, env=ROUTES_TO_SMS)
    assert result.exit_code == 2, result.output
    assert "alert_routes (BELTWATCH_ALERT_ROUTES): route channel 'sms' unknown" in result.output


def test_a_route_to_a_channel_without_a_receiver_names_the_setting_to_set() -> None:
    env = {**ROUTES_TO_SMS, "BELTWATCH_ALERT_ROUTES": '[{"channels": ["opsgenie"]}]'}
    result = runner.invoke(app, ["monitor", "once"], env=env)
    assert result.exit_code == 2
    assert "route channel 'opsgenie' has no receiver configured" in result.output
    assert "BELTWATCH_OPSGENIE_API_KEY" in result.output


def test_a_bad_receiver_and_a_bad_route_are_reported_together() -> None:
    env = {**ROUTES_TO_SMS, "BELTWATCH_PAGERDUTY_ROUTING_KEY": "too-short-s3cr3t"}
    result = runner.invoke(app, ["monitor", "once"], env=env)
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()  # one line, every problem named
    assert "pagerduty_routing_key (BELTWATCH_PAGERDUTY_ROUTING_KEY)" in line
    assert "alert_routes (BELTWATCH_ALERT_ROUTES)" in line
    assert "too-short-s3cr3t" not in result.output


def test_alerts_test_help_lists_every_registered_channel() -> None:
    result = runner.invoke(app, ["alerts", "test", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert ", ".join(CHANNELS) in result.output
