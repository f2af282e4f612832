"""Who may open the dashboard: no sign-in only on a loopback address, a shared password
with each person's name (recorded on what they change), or single sign-on; the command
and the app refuse incomplete access settings."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest
from conftest import open_page, point_app_at
from pydantic import SecretStr
from sqlalchemy import text
from typer.testing import CliRunner

from dashboards.access import is_loopback, oidc_secrets, problems, write_oidc_secrets
from monitor.cli import app as cli
from monitor.cli.dashboard import streamlit_command
from monitor.core.settings import load_settings

PASSWORD = "conveyor-belt-42"
OIDC = {
    "dashboard_auth": "oidc",
    "dashboard_oidc_metadata_url": "https://login.example.com/.well-known/openid-configuration",
    "dashboard_oidc_client_id": "beltwatch",
    "dashboard_oidc_client_secret": 'se"cret\\x',
    "dashboard_oidc_redirect_uri": "https://beltwatch.example.com/oauth2callback",
}


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.0.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("dashboard.example.com", False),
    ],
)
def test_only_loopback_addresses_count_as_this_machine(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_no_sign_in_is_refused_on_an_address_other_machines_reach() -> None:
    assert problems(load_settings(dashboard_host="127.0.0.1")) == []
    [(setting, message)] = problems(load_settings(dashboard_host="0.0.0.0"))
    assert setting == "dashboard_auth" and "0.0.0.0" in message and "password" in message
    assert problems(load_settings(dashboard_host="0.0.0.0", **OIDC)) == []


def test_a_password_sign_in_needs_a_long_enough_password() -> None:
    missing = problems(load_settings(dashboard_auth="password"))
    assert missing == [("dashboard_password", "required when dashboard_auth is 'password'")]
    short = problems(load_settings(dashboard_auth="password", dashboard_password="belt"))
    assert short[0][0] == "dashboard_password" and "12 characters" in short[0][1]
    assert problems(load_settings(dashboard_auth="password", dashboard_password=PASSWORD)) == []


def test_single_sign_on_names_every_missing_setting() -> None:
    found = problems(load_settings(dashboard_auth="oidc", dashboard_oidc_client_id="x"))
    assert [setting for setting, _ in found] == [
        "dashboard_oidc_metadata_url",
        "dashboard_oidc_client_secret",
        "dashboard_oidc_redirect_uri",
    ]


def test_the_single_sign_on_secrets_are_valid_toml_readable_by_the_owner_only(
    tmp_path: Path,
) -> None:
    settings = load_settings(data_dir=tmp_path, dashboard_cookie_secret="cookie-secret", **OIDC)
    auth = tomllib.loads(oidc_secrets(settings))["auth"]
    assert auth == {
        "redirect_uri": OIDC["dashboard_oidc_redirect_uri"],
        "cookie_secret": "cookie-secret",
        "client_id": "beltwatch",
        "client_secret": OIDC["dashboard_oidc_client_secret"],  # quotes and backslash survive
        "server_metadata_url": OIDC["dashboard_oidc_metadata_url"],
    }
    path = write_oidc_secrets(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert tomllib.loads(path.read_text())["auth"]["client_id"] == "beltwatch"
    command = streamlit_command(settings, path)
    assert command[-2:] == ["--secrets.files", str(path)]
    # Without a configured cookie secret each start makes a new random one.
    unset = load_settings(data_dir=tmp_path, **OIDC)
    first, second = (tomllib.loads(oidc_secrets(unset))["auth"] for _ in range(2))
    assert first["cookie_secret"] != second["cookie_secret"]
    assert len(first["cookie_secret"]) >= 32


def test_the_command_refuses_to_serve_other_machines_without_sign_in(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["dashboard"],
        env={"BELTWATCH_DASHBOARD_HOST": "0.0.0.0", "BELTWATCH_DATA_DIR": str(tmp_path)},
    )
    assert result.exit_code == 2
    assert "dashboard_auth" in result.output and "0.0.0.0" in result.output


def test_the_app_shows_no_data_to_other_machines_without_sign_in(seeded, monkeypatch) -> None:
    url, _ = seeded
    point_app_at(monkeypatch, url, dashboard_host="0.0.0.0")
    app = open_page()
    assert not app.exception
    assert "The dashboard will not show data: dashboard_auth" in app.error[0].value
    assert not app.title and not app.markdown


def test_the_password_holds_and_the_name_is_recorded(seeded, monkeypatch) -> None:
    url, engine = seeded
    point_app_at(monkeypatch, url, dashboard_auth="password", dashboard_password=PASSWORD)
    app = open_page()
    assert not app.exception
    assert [t.value for t in app.title] == ["beltwatch"]  # the sign-in, not the Overview
    app.text_input[0].set_value("Ana")
    app.text_input[1].set_value("wrong password!")
    app.button[0].click().run()
    assert app.error[0].value == "Wrong password."
    assert [t.value for t in app.title] == ["beltwatch"]
    app.text_input[0].set_value("Ana")
    app.text_input[1].set_value(PASSWORD)
    app.button[0].click().run()
    assert not app.exception
    assert [t.value for t in app.title] == ["Overview"]
    assert "Signed in as Ana" in [c.value for c in app.sidebar.caption]

    # What Ana changes carries her name, without asking for it again.
    app.switch_page("views/alerts.py").run()
    assert "who" not in [t.key for t in app.text_input]
    app.text_input(key="silence_rule").set_value("lens_drift")
    app.text_input(key="silence_comment").set_value("cleaning S1's lens")
    app.button(key="silence_add").click().run()
    assert not app.exception
    with engine.connect() as conn:
        by = conn.execute(
            text("SELECT created_by FROM silences WHERE comment = 'cleaning S1''s lens'")
        ).scalar_one()
    assert by == "Ana"


def test_a_password_sign_in_needs_a_name(seeded, monkeypatch) -> None:
    url, _ = seeded
    point_app_at(monkeypatch, url, dashboard_auth="password", dashboard_password=PASSWORD)
    app = open_page()
    app.text_input[1].set_value(PASSWORD)
    app.button[0].click().run()
    assert "Give your name" in app.error[0].value
    assert [t.value for t in app.title] == ["beltwatch"]


def test_single_sign_on_shows_only_the_sign_in_button(seeded, monkeypatch) -> None:
    url, _ = seeded
    point_app_at(monkeypatch, url, dashboard_host="0.0.0.0", **OIDC)
    app = open_page()
    assert not app.exception
    assert [b.label for b in app.button] == ["Sign in"]
    assert [t.value for t in app.title] == ["beltwatch"]
    assert not any("critical share" in m.value for m in app.markdown)


def test_secret_settings_stay_secret() -> None:
    settings = load_settings(dashboard_auth="password", dashboard_password=PASSWORD)
    assert isinstance(settings.dashboard_password, SecretStr)
    assert PASSWORD not in repr(settings)
