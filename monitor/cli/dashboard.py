"""`beltwatch dashboard`: the ops dashboard (Streamlit) on the configured host and port."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from monitor.cli.common import config_path, settings_from
from monitor.core.exceptions import ConfigError
from monitor.core.settings import CONFIG_ENV, Settings


def app_path() -> Path:
    """The dashboard's entry script, found beside the installed `dashboards` package (so a
    wheel install works as well as a checkout)."""
    import dashboards

    return Path(dashboards.__file__).resolve().parent / "app.py"


def streamlit_command(settings: Settings, secrets_file: Path | None = None) -> list[str]:
    """The `streamlit run` command line for these settings (and the single sign-on
    secrets file, when `dashboard_auth` is `oidc`)."""
    command = [
        sys.executable, "-m", "streamlit", "run", str(app_path()),
        "--server.address", settings.dashboard_host,
        "--server.port", str(settings.dashboard_port),
        "--server.headless", "true",  # a server: never open a browser on the host
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "viewer",  # an operator's screen: no developer menu
    ]  # fmt: skip
    if secrets_file is not None:
        command += ["--secrets.files", str(secrets_file)]
    return command


def dashboard_environment(config: Path | None) -> dict[str, str]:
    """The child's environment: ours, the settings file passed on, and the package's parent
    first on the path so the pages import the same `dashboards` the script was found in."""
    env = dict(os.environ)
    if config is not None:
        env[CONFIG_ENV] = str(Path(config).resolve())
    root = str(app_path().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def dashboard(ctx: typer.Context) -> None:
    """Start the ops dashboard (Streamlit) on dashboard_host:dashboard_port."""
    from dashboards.access import problems, write_oidc_secrets

    settings = settings_from(ctx)
    found = problems(settings)
    if found:
        raise ConfigError(found)
    secrets_file = write_oidc_secrets(settings) if settings.dashboard_auth == "oidc" else None
    typer.echo(
        f"dashboard on http://{settings.dashboard_host}:{settings.dashboard_port}, sign-in: "
        f"{settings.dashboard_auth} (Ctrl-C stops)"
    )
    command = streamlit_command(settings, secrets_file)
    # Replaced by Streamlit (not a child): signals such as a service manager's SIGTERM reach
    # the server itself, and nothing is left running behind a stopped parent.
    os.execve(command[0], command, dashboard_environment(config_path(ctx)))
