"""The dashboard in a real browser: `beltwatch dashboard` serves the seeded database,
headless Chromium (Debian's `chromium`, driven by Playwright) opens it, the Overview
renders its verdict, every page in the navigation renders without an error, and both
sign-ins hold: the password, and OIDC against a real OpenID provider on this machine.
Screenshots of every page go to `DASHBOARD_SCREENSHOTS` (a folder) when it is set, else to
the test's temporary folder.

Skipped, with the reason, where Playwright or Chromium is missing; `.ci/run` installs both.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from test_dashboard_command import free_port

playwright = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (the dev extra has it)"
)

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium")
if CHROMIUM is None:
    pytest.skip(
        "no Chromium: install Debian's `chromium` package (.ci/run does)", allow_module_level=True
    )

PASSWORD = "conveyor-belt-42"
RENDER_TIMEOUT_MS = 60_000
SSO_SIGN_IN = "text=Sign in with your organisation"


def serve(
    url, data_dir: Path, *, port: int | None = None, **settings: str
) -> tuple[subprocess.Popen[bytes], str]:
    """`beltwatch dashboard` on `port` (a free one by default); returns the process and its
    address once its health check answers."""
    port = port or free_port()
    env = {
        **os.environ,
        "BELTWATCH_DATABASE_URL": url.render_as_string(hide_password=False),
        "BELTWATCH_DASHBOARD_PORT": str(port),
        "BELTWATCH_DATA_DIR": str(data_dir),
        **{f"BELTWATCH_{name.upper()}": value for name, value in settings.items()},
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "dashboard"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    address = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"{address}/_stcore/health", timeout=2).status_code == 200:
                return server, address
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    stop(server)
    raise AssertionError("`beltwatch dashboard` did not come up within 60 s")


def stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=30)


@pytest.fixture
def browser() -> Iterator[object]:
    with playwright.sync_playwright() as driver:
        chromium = driver.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("DASHBOARD_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def settled(page) -> None:
    """Wait until the page's script has finished: a title is drawn and Streamlit's
    'running' indicator is gone."""
    page.wait_for_selector("h1", timeout=RENDER_TIMEOUT_MS)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
        timeout=RENDER_TIMEOUT_MS,
    )
    page.wait_for_timeout(500)  # the last chart's paint


def visible_text(page) -> str:
    return page.inner_text("section.stMain, [data-testid='stMain']")


def test_every_page_renders_in_a_real_browser(seeded, browser, screenshots, tmp_path) -> None:
    url, _ = seeded
    server, address = serve(url, tmp_path)
    try:
        page = browser.new_page(viewport={"width": 1600, "height": 2400})
        page.goto(address)
        page.wait_for_selector("text=Attention:", timeout=RENDER_TIMEOUT_MS)
        settled(page)
        text = visible_text(page)
        assert "Attention: site, S1" in text, text[:300]
        assert "FIRING: critical_rate, lens_drift" in text and "Firing alerts" in text
        page.screenshot(path=str(screenshots / "overview.png"), full_page=True)

        links = page.locator("[data-testid='stSidebarNavLink']")
        targets = [
            (links.nth(i).inner_text().strip().splitlines()[-1], links.nth(i).get_attribute("href"))
            for i in range(links.count())
        ]
        titles = [title for title, _ in targets]
        assert "Overview" in titles and "Alerts" in titles, titles
        for title, href in targets:
            page.goto(href if href.startswith("http") else address + href)
            settled(page)
            shown = visible_text(page)
            assert "Traceback" not in shown and "Error" not in page.title(), title
            assert not page.locator("[data-testid='stException']").count(), title
            name = title.lower().replace(" ", "-").replace("&", "and")
            page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)
    finally:
        stop(server)


def test_the_password_sign_in_holds_in_a_real_browser(seeded, browser, tmp_path) -> None:
    url, _ = seeded
    server, address = serve(url, tmp_path, dashboard_auth="password", dashboard_password=PASSWORD)
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(address + "/alerts")  # a deep link does not skip the sign-in
        page.wait_for_selector("text=Sign in", timeout=RENDER_TIMEOUT_MS)
        settled(page)
        assert "History" not in visible_text(page) and "S1" not in visible_text(page)
        page.get_by_label("Your name (recorded on what you change)").fill("Ana")
        page.get_by_label("Password", exact=True).fill("not the password")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_selector("text=Wrong password.", timeout=RENDER_TIMEOUT_MS)
        settled(page)  # typing into a form that is still being redrawn is lost
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_selector("text=Signed in as Ana", timeout=RENDER_TIMEOUT_MS)
        # The sidebar is drawn before the page replaces the sign-in: wait for the page the
        # deep link pointed at (the Alerts page's history), not the Overview.
        page.wait_for_selector("text=History", timeout=RENDER_TIMEOUT_MS)
        settled(page)
        text = visible_text(page)
        assert "S1" in text and "Wrong password." not in text
        assert page.url.rstrip("/").endswith("/alerts"), page.url
    finally:
        stop(server)


def test_the_oidc_sign_in_holds_against_a_real_provider(seeded, browser, tmp_path) -> None:
    """Streamlit's `st.login` against a real OpenID provider (oidc-provider-mock: discovery,
    authorization form, token and userinfo endpoints, signed ID tokens) over plain HTTP on
    this machine: the sign-in page, the provider's form, the callback, the name recorded
    on changes, and the sign-out."""
    provider = pytest.importorskip(
        "oidc_provider_mock", reason="oidc-provider-mock is not installed (the dev extra has it)"
    )
    url, _ = seeded
    port = free_port()
    user = provider.User(sub="ana", claims={"name": "Ana Operator", "email": "ana@example.com"})
    # Authlib refuses plain HTTP on both sides unless told this is a test.
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"
    try:
        with provider.run_server_in_thread(user_claims=[user]) as oidc:
            issuer = f"http://localhost:{oidc.server_port}"
            server, address = serve(
                url,
                tmp_path,
                port=port,
                dashboard_auth="oidc",
                dashboard_oidc_metadata_url=f"{issuer}/.well-known/openid-configuration",
                dashboard_oidc_client_id="beltwatch-dashboard",
                dashboard_oidc_client_secret="not-a-real-secret",
                dashboard_oidc_redirect_uri=f"http://127.0.0.1:{port}/oauth2callback",
            )
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(address)
                page.wait_for_selector(SSO_SIGN_IN, timeout=RENDER_TIMEOUT_MS)
                settled(page)
                assert "Firing alerts" not in visible_text(page)
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_selector("text=Authorize Client", timeout=RENDER_TIMEOUT_MS)
                assert page.url.startswith(issuer), page.url
                assert "beltwatch-dashboard" in page.inner_text("body")
                page.get_by_role("button", name="ana", exact=True).click()
                page.wait_for_selector("text=Signed in as Ana Operator", timeout=RENDER_TIMEOUT_MS)
                page.wait_for_selector("text=Attention:", timeout=RENDER_TIMEOUT_MS)
                settled(page)
                assert "Firing alerts" in visible_text(page)
                assert page.url.startswith(address), page.url

                # Sign-out ends the provider's session too (RP-initiated logout): the
                # provider confirms, then sends the browser back to the dashboard.
                page.get_by_role("button", name="Sign out").click()
                page.wait_for_selector("text=End Session", timeout=RENDER_TIMEOUT_MS)
                assert page.url.startswith(f"{issuer}/oauth2/end_session"), page.url
                page.get_by_role("button", name="End session").click()
                page.wait_for_selector(SSO_SIGN_IN, timeout=RENDER_TIMEOUT_MS)
                settled(page)
                assert "Firing alerts" not in visible_text(page)
            finally:
                stop(server)
    finally:
        os.environ.pop("AUTHLIB_INSECURE_TRANSPORT", None)
