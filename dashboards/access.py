"""Who may open the dashboard, and who they are.

`dashboard_auth` picks one of three modes:

- `none`: no sign-in; allowed only while the dashboard binds a loopback address
  (`dashboard_host`), so it is reachable from this machine alone. Forms that write ask
  for a name.
- `password`: one shared password (`dashboard_password`); each person signs in with it
  and their name, which is recorded on what they write (silences, references, labels).
  The sign-in lasts as long as the browser tab's session.
- `oidc`: single sign-on through Streamlit's `st.login` (any OpenID Connect provider);
  `beltwatch dashboard` writes the provider settings into a private secrets file for
  Streamlit. The provider's name (or e-mail) for the person is what gets recorded.

`problems()` is the one check of these settings: the command refuses to start on any of
them, and the app refuses to show a page.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import secrets
import time
from pathlib import Path

import streamlit as st

from monitor.core.settings import Settings

log = logging.getLogger(__name__)

SIGNED_IN = "beltwatch_signed_in"  # session-state key: the name a person signed in with
MIN_PASSWORD_LENGTH = 12
FAILED_SIGN_IN_DELAY_S = 1.0  # slows guessing from one session; the log records each miss
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}
OIDC_SETTINGS = (
    "dashboard_oidc_metadata_url",
    "dashboard_oidc_client_id",
    "dashboard_oidc_client_secret",
    "dashboard_oidc_redirect_uri",
)


def is_loopback(host: str) -> bool:
    """True when `host` is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def problems(settings: Settings) -> list[tuple[str, str]]:
    """What keeps the dashboard from starting safely: (setting, message) pairs, empty
    when the access settings are complete."""
    mode = settings.dashboard_auth
    found: list[tuple[str, str]] = []
    if mode == "none" and not is_loopback(settings.dashboard_host):
        found.append(
            (
                "dashboard_auth",
                f"the dashboard binds {settings.dashboard_host}, reachable from other "
                "machines, with no sign-in: set dashboard_auth to 'password' or 'oidc', or "
                "bind 127.0.0.1",
            )
        )
    if mode == "password":
        password = settings.dashboard_password
        if password is None:
            found.append(("dashboard_password", "required when dashboard_auth is 'password'"))
        elif len(password.get_secret_value()) < MIN_PASSWORD_LENGTH:
            found.append(
                ("dashboard_password", f"at least {MIN_PASSWORD_LENGTH} characters, please")
            )
    if mode == "oidc":
        for name in OIDC_SETTINGS:
            if getattr(settings, name) is None:
                found.append((name, "required when dashboard_auth is 'oidc'"))
    return found


def oidc_secrets(settings: Settings) -> str:
    """The `[auth]` table Streamlit's `st.login` reads, as TOML. The cookie secret is the
    configured one, or a fresh random one (a restart then signs everyone out)."""
    assert settings.dashboard_oidc_client_secret is not None
    cookie = (
        settings.dashboard_cookie_secret.get_secret_value()
        if settings.dashboard_cookie_secret is not None
        else secrets.token_urlsafe(32)
    )
    values = {
        "redirect_uri": settings.dashboard_oidc_redirect_uri,
        "cookie_secret": cookie,
        "client_id": settings.dashboard_oidc_client_id,
        "client_secret": settings.dashboard_oidc_client_secret.get_secret_value(),
        "server_metadata_url": settings.dashboard_oidc_metadata_url,
    }
    # A JSON string is a valid TOML basic string (the same escapes).
    lines = ["[auth]"] + [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def write_oidc_secrets(settings: Settings) -> Path:
    """Write `oidc_secrets()` to `<data_dir>/dashboard/secrets.toml`, readable by this
    user only, and return its path (for `streamlit run --secrets.files`)."""
    folder = settings.data_dir / "dashboard"
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    path = folder / "secrets.toml"
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(oidc_secrets(settings))
    return path


def signed_in_name(settings: Settings) -> str | None:
    """The signed-in person's name (what gets recorded), or None without sign-in."""
    if settings.dashboard_auth == "password":
        return st.session_state.get(SIGNED_IN)
    # st.user has no is_logged_in key until a provider is configured (as in AppTest).
    if settings.dashboard_auth == "oidc" and st.user.get("is_logged_in", False):
        for claim in ("name", "email", "preferred_username", "sub"):
            value = st.user.get(claim)
            if value:
                return str(value)
    return None


def may_enter(settings: Settings) -> bool:
    """Whether this visitor is let in, without drawing anything (admitted() draws the
    sign-in for one who is not)."""
    if problems(settings):
        return False
    return settings.dashboard_auth == "none" or signed_in_name(settings) is not None


def admitted(settings: Settings) -> bool:
    """Whether this visitor may see the pages; otherwise the sign-in (or the reason the
    dashboard refuses to serve) is shown and False comes back."""
    found = problems(settings)
    if found:
        details = "; ".join(f"{setting}: {message}" for setting, message in found)
        st.error(f"The dashboard will not show data: {details}.")
        return False
    if settings.dashboard_auth == "none":
        return True
    if signed_in_name(settings) is not None:
        _sign_out_button(settings)
        return True
    st.title("beltwatch")
    if settings.dashboard_auth == "oidc":
        st.markdown("Sign in with your organisation's account to see the line.")
        st.button("Sign in", on_click=st.login, type="primary")
        return False
    _password_form(settings)
    return False


def _password_form(settings: Settings) -> None:
    assert settings.dashboard_password is not None
    with st.form("sign-in"):
        name = st.text_input("Your name (recorded on what you change)")
        password = st.text_input("Password", type="password")
        if not st.form_submit_button("Sign in", type="primary"):
            return
    expected = settings.dashboard_password.get_secret_value().encode()
    if not hmac.compare_digest(password.encode(), expected):
        log.warning("dashboard: a sign-in failed (wrong password) for name %r", name[:80])
        time.sleep(FAILED_SIGN_IN_DELAY_S)
        st.error("Wrong password.")
        return
    if not name.strip():
        st.error("Give your name: it is recorded on the silences, references and labels you set.")
        return
    st.session_state[SIGNED_IN] = name.strip()
    st.rerun()


def _sign_out_button(settings: Settings) -> None:
    with st.sidebar:
        st.caption(f"Signed in as {signed_in_name(settings)}")
        if settings.dashboard_auth == "oidc":
            st.button("Sign out", on_click=st.logout)
        elif st.button("Sign out"):
            st.session_state.pop(SIGNED_IN, None)
            st.rerun()
