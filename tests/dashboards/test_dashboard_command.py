"""`beltwatch dashboard` starts Streamlit on the configured host and port, serving
dashboards/app.py found beside the `dashboards` package."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

import dashboards
from monitor.cli.dashboard import app_path, dashboard_environment, streamlit_command
from monitor.core.settings import CONFIG_ENV, load_settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_app_is_found_beside_the_dashboards_package() -> None:
    assert app_path() == Path(dashboards.__file__).resolve().parent / "app.py"
    assert app_path().is_file()


def test_the_command_line_carries_host_and_port_from_the_settings() -> None:
    settings = load_settings(dashboard_host="0.0.0.0", dashboard_port=8600)
    command = streamlit_command(settings)
    assert command[:5] == [sys.executable, "-m", "streamlit", "run", str(app_path())]
    options = dict(zip(command[5::2], command[6::2], strict=True))
    assert options["--server.address"] == "0.0.0.0"
    assert options["--server.port"] == "8600"
    assert options["--server.headless"] == "true"


def test_the_settings_file_is_handed_to_the_pages(tmp_path: Path) -> None:
    config = tmp_path / "beltwatch.toml"
    env = dashboard_environment(config)
    assert env[CONFIG_ENV] == str(config.resolve())
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(app_path().parents[1])


def test_beltwatch_dashboard_serves_the_app(db_url, tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "BELTWATCH_DATABASE_URL": db_url.render_as_string(hide_password=False),
        "BELTWATCH_DASHBOARD_PORT": str(port),
        "BELTWATCH_DATA_DIR": str(tmp_path),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "dashboard"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, ended as one below
    )
    try:
        deadline = time.monotonic() + 60
        health = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.5)
        assert health is not None and health.status_code == 200, "the server did not come up"
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert page.status_code == 200 and "<title>" in page.text
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
