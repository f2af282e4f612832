"""Routing: which channels an alert goes to, the patterns silences share, and the one
receiver registry that channels, routes and their checks read."""

from __future__ import annotations

import pytest

from monitor.core.exceptions import ConfigError
from monitor.core.settings import Settings, load_settings
from monitor.notifiers import CHANNELS, RECEIVERS
from monitor.receivers import build_notifiers
from monitor.routing import channels_for, configured_channels, matches

SLACK_URL = "https://hooks.slack.com/services/T0/B0/secret-part"
PAGERDUTY_KEY = "R0ut1ngK3yR0ut1ngK3yR0ut1ngK3y32"


def test_alert_routes_pick_channels_first_match_wins(monkeypatch) -> None:
    monkeypatch.setenv(
        "BELTWATCH_ALERT_ROUTES",
        '[{"rule": "critical_rate", "channels": ["pagerduty", "slack"]},'
        ' {"rule": "*_drift", "station": "dock-*", "channels": ["slack"]},'
        ' {"severity": "critical", "channels": ["pagerduty"]}]',
    )
    settings = load_settings(
        slack_webhook_url=SLACK_URL,
        pagerduty_routing_key=PAGERDUTY_KEY,
        webhook_url="https://example.com/hook",
    )
    assert channels_for(settings, "critical_rate", "critical", "S1") == ["pagerduty", "slack"]
    assert channels_for(settings, "lens_drift", "warning", "dock-3") == ["slack"]
    assert channels_for(settings, "no_data", "critical", "S1") == ["pagerduty"]
    # No route matches: every configured channel, in the registry's order.
    assert channels_for(settings, "lens_drift", "warning", "yard-1") == [
        "slack",
        "pagerduty",
        "webhook",
    ]
    # Slack gets resolves only when asked to; the paging tools always do.
    assert channels_for(settings, "critical_rate", "critical", "S1", "resolve") == ["pagerduty"]
    asked = settings.model_copy(update={"slack_send_resolved": True})
    resolves = channels_for(asked, "critical_rate", "critical", "S1", "resolve")
    assert resolves == ["pagerduty", "slack"]


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        (None, "lens_drift", True),  # a silence field left empty: any
        (None, None, True),
        ("*", None, True),  # a site-wide alert matches "any station"
        ("dock-*", None, False),  # ... but no station pattern
        ("*_drift", "lens_drift", True),
        ("*_drift", "critical_rate", False),
        ("lens_drift", "lens_drift", True),  # a plain name matches exactly
        ("lens_drift", "lens_drift_2", False),
        ("Dock-*", "dock-3", False),  # case matters, as in station ids
    ],
)
def test_routes_and_silences_share_one_pattern_match(pattern, value, expected) -> None:
    assert matches(pattern, value) is expected


def test_a_site_wide_alert_takes_only_routes_for_any_station(monkeypatch) -> None:
    monkeypatch.setenv(
        "BELTWATCH_ALERT_ROUTES",
        '[{"station": "dock-*", "channels": ["slack"]}, {"channels": ["pagerduty"]}]',
    )
    settings = load_settings(slack_webhook_url=SLACK_URL, pagerduty_routing_key=PAGERDUTY_KEY)
    assert channels_for(settings, "no_data", "critical", None) == ["pagerduty"]
    assert channels_for(settings, "no_data", "critical", "dock-1") == ["slack"]


def test_routes_are_raw_settings_checked_where_receivers_are_built(monkeypatch) -> None:
    monkeypatch.setenv(
        "BELTWATCH_ALERT_ROUTES", '[{"channels": ["pagerduty"]}, {"channels": ["sms"]}]'
    )
    settings = load_settings(slack_webhook_url=SLACK_URL)  # loads: Settings knows no receivers
    with pytest.raises(ConfigError) as caught:
        build_notifiers(settings)
    message = str(caught.value)
    assert "2 problem(s)" in message
    assert (
        "alert_routes (BELTWATCH_ALERT_ROUTES): route channel 'pagerduty' has no receiver "
        "configured (set BELTWATCH_PAGERDUTY_ROUTING_KEY)" in message
    )
    assert (
        "alert_routes (BELTWATCH_ALERT_ROUTES): route channel 'sms' unknown; expected one of "
        "slack, pagerduty, opsgenie, webhook, alertmanager" in message
    )
    assert "secret-part" not in message


def test_a_slack_url_that_loads_is_one_the_notifier_accepts() -> None:
    # http:// used to pass Settings and fail only when the receiver was built.
    with pytest.raises(ConfigError, match=r"slack_webhook_url \(BELTWATCH_SLACK_WEBHOOK_URL\)"):
        load_settings(slack_webhook_url="http://hooks.slack.com/services/T0/B0/secret-part")
    assert set(build_notifiers(load_settings(slack_webhook_url=SLACK_URL))) == {"slack"}


def test_the_registry_declares_each_receiver_once_with_real_settings() -> None:
    assert CHANNELS == ("slack", "pagerduty", "opsgenie", "webhook", "alertmanager", "console")
    assert len(set(CHANNELS)) == len(RECEIVERS)
    for receiver in RECEIVERS:
        assert receiver.setting in Settings.model_fields
        for secret in receiver.secrets:
            assert "SecretStr" in repr(Settings.model_fields[secret].annotation), secret


def test_configured_channels_are_those_whose_setting_is_set() -> None:
    settings = load_settings(pagerduty_routing_key=PAGERDUTY_KEY, webhook_url="https://e.x/h")
    assert configured_channels(settings) == ["pagerduty", "webhook"]
    assert list(build_notifiers(settings)) == ["pagerduty", "webhook"]


# A malformed value for each receiver's secret; a new receiver must add its own (the
# console has no secret and no value to get wrong).
MALFORMED_SECRETS = {
    "slack": {"slack_webhook_url": "https://hooks.slack.com:99999/services/s3cr3t-slack"},
    "pagerduty": {"pagerduty_routing_key": "s3cr3t-but-too-short"},
    "opsgenie": {"opsgenie_api_key": " s3cr3t-opsgenie-key "},
    "webhook": {"webhook_url": "https://e.x/hook", "webhook_secret": "whsec_s3cr3t!!"},
    "alertmanager": {
        "alertmanager_url": "http://am:s3cr3t@am.example:9093",
        "alertmanager_token": "s3cr3t-token",
    },
}


@pytest.mark.parametrize(
    "receiver", [r for r in RECEIVERS if r.secrets], ids=lambda receiver: receiver.channel
)
def test_a_malformed_secret_is_named_but_never_echoed(receiver) -> None:
    values = MALFORMED_SECRETS[receiver.channel]
    with pytest.raises(ConfigError) as caught:
        build_notifiers(load_settings(**values))
    message = str(caught.value)
    assert any(f"{secret} (BELTWATCH_" in message for secret in receiver.secrets), message
    assert "s3cr3t" not in message


def test_every_receiver_has_a_malformed_secret_case() -> None:
    assert set(MALFORMED_SECRETS) == {r.channel for r in RECEIVERS if r.secrets}
