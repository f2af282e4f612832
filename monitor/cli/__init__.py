"""`beltwatch`: the command line, one module per command group. Each command parses,
builds Settings, calls one function and prints a readable result; the functions are what
the tests call. This is the one package that imports every room (core, prediction log,
hourly monitor, inference); heavy imports happen inside the commands.
"""

from __future__ import annotations

from inference.training.cli import model_app
from monitor.cli.alerts import alerts_app
from monitor.cli.baseline import baseline_app
from monitor.cli.common import app
from monitor.cli.dashboard import dashboard
from monitor.cli.db import db_app
from monitor.cli.demo import demo_command
from monitor.cli.monitor import monitor_app
from monitor.cli.settings import show_settings
from monitor.cli.silence import silence_app
from monitor.cli.simulate import simulate_command
from monitor.cli.station import station_app
from monitor.cli.status import status_command
from monitor.cli.worker import worker_app

app.command("settings")(show_settings)
app.command("status")(status_command)
app.add_typer(db_app, name="db")
app.add_typer(worker_app, name="worker")
app.add_typer(monitor_app, name="monitor")
app.add_typer(baseline_app, name="baseline")
app.add_typer(silence_app, name="silence")
app.add_typer(station_app, name="station")
app.add_typer(alerts_app, name="alerts")
app.command("dashboard")(dashboard)
app.command("simulate")(simulate_command)
app.command("demo")(demo_command)
# The model pipeline's commands import torch only when they run (the `train` extra).
app.add_typer(model_app, name="model", help="Train, export, quantize and evaluate models.")

__all__ = ["app"]
