"""`beltwatch demo`: a day of a fulfilment centre with faults, end to end, in minutes.

Migrate; simulate a clean reference day and then a day with one fault of each kind
through the real worker; set each station's reference from the clean day; run the hourly
monitor over every hour, delivering each hour's notifications to the console (and to any
channel configured); print the scorecard; start the dashboard. Its own embedded
PostgreSQL and files live in `<data_dir>/demo` (wiped at each run), so a demo never mixes
with real data; `--use-database` takes BELTWATCH_DATABASE_URL instead (an empty one).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from monitor.cli.common import config_path, fail, settings_from
from monitor.cli.simulate import for_simulation, print_result, progress_bar
from monitor.core.exceptions import BeltwatchError
from monitor.core.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from inference.training.faults import Fault
    from monitor.cli.scorecard import Scorecard


class DemoError(BeltwatchError):
    """The demo cannot run here (a database that already holds data)."""


@dataclass(frozen=True)
class Plan:
    """A demo's size: stations, frames an hour, the hours of each day, the faults."""

    stations: tuple[str, ...]
    per_hour: int
    first_hour: int  # each day simulates [first_hour, first_hour + hours)
    hours: int
    faults: tuple[str, ...]  # times on the fault day

    @property
    def start(self) -> timedelta:
        return timedelta(hours=self.first_hour)

    @property
    def end(self) -> timedelta:
        return timedelta(hours=self.first_hour + self.hours)


# Stations send 120 frames an hour: above drift_min_predictions (100), so each hour is
# judged on its own rather than pooled with the hours before it. The days are the shift
# from 08:00 to 20:00 (UTC), the reference day's the same hours (no_data compares an hour
# with the same hour the day before); the night between is declared a planned stop.
FULL = Plan(
    stations=("S1", "S2", "S3", "S4", "S5"),
    per_hour=120,
    first_hour=8,
    hours=12,
    faults=(
        "down:S4@08:00-10:00",
        "damage:S2@09:00-10:00",
        "slow:S5@10:00-11:00",
        "lens:S3@11:00-15:00",
        "smudge:S4@12:00-16:00",
        "lighting:S1@15:00-17:00",
    ),
)
# For CI: three stations, 08:00-16:00, the same six kinds of fault.
QUICK = Plan(
    stations=("S1", "S2", "S3"),
    per_hour=120,
    first_hour=8,
    hours=8,
    faults=(
        "down:S3@09:00-10:00",
        "damage:S1@09:00-10:00",
        "slow:S2@10:00-11:00",
        "lens:S3@11:00-13:00",
        "lighting:S1@11:00-13:00",
        "smudge:S2@11:00-13:00",
    ),
)


@dataclass
class DemoResult:
    scorecard: Scorecard
    seconds: dict[str, float]  # step -> wall time
    frames: int


def demo_settings(settings: Settings, *, use_database: bool) -> Settings:
    """The demo's settings: its own data directory, wiped (the spool, stored images,
    reports and, unless `use_database`, the embedded database); console notifications
    on; the model on one thread."""
    demo_dir = settings.data_dir / "demo"
    shutil.rmtree(demo_dir, ignore_errors=True)
    update: dict[str, object] = {
        "console_notifications": True,
        "data_dir": demo_dir,
        "spool_dir": None,
        "image_store_dir": None,
        "reports_dir": None,
    }
    if not use_database:
        update["database_url"] = None
    return for_simulation(settings.model_copy(update=update))


def run_demo(engine: Engine, settings: Settings, plan: Plan, *, day: datetime) -> DemoResult:
    """Everything but the database's creation and the dashboard; `day` is the fault day
    (midnight UTC), the reference day the one before."""
    from inference.training.faults import parse_fault
    from monitor.cli.scorecard import render, score
    from monitor.core.db import migrate
    from monitor.core.queries.alerts import alert_history
    from monitor.core.queries.predictions import counts_since

    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    migrate.upgrade(engine)
    seconds["migrate"] = time.perf_counter() - clock
    reference = (day - timedelta(days=1) + plan.start, day - timedelta(days=1) + plan.end)
    judged = (day + plan.start, day + plan.end)
    with engine.connect() as conn:
        if counts_since(conn, reference[0]):
            raise DemoError(
                f"the database already holds predictions since {reference[0]:%Y-%m-%d %H:%M} "
                "UTC; give the demo an empty database"
            )
    faults = tuple(parse_fault(spec).place(*judged) for spec in plan.faults)

    clock = time.perf_counter()
    frames = _simulate_days(
        settings, plan, [("reference day", reference, ()), ("fault day", judged, faults)]
    )
    seconds["simulate"] = time.perf_counter() - clock
    clock = time.perf_counter()
    _set_references(engine, settings, plan.stations, reference)
    seconds["references"] = time.perf_counter() - clock
    if reference[1] < judged[0]:
        # The belt stops between the two shifts: a planned stop, so its silence is no page.
        night = f"{reference[1]:%Y-%m-%dT%H:%M}/{judged[0]:%Y-%m-%dT%H:%M}"
        settings = settings.model_copy(update={"planned_stops": [*settings.planned_stops, night]})
        typer.echo(f"planned stop between the shifts: {night} (UTC)")
    clock = time.perf_counter()
    _monitor_hours(engine, settings, reference[0], judged[1])
    seconds["monitor"] = time.perf_counter() - clock

    with engine.connect() as conn:
        alerts = alert_history(conn, since=reference[0], until=judged[1] + timedelta(days=1))
    card = score(faults, alerts)
    typer.echo("\nscorecard (times UTC; delay: hours from the fault's start to the alert's hour)")
    for line in render(card):
        typer.echo(line)
    return DemoResult(card, seconds, frames)


def _simulate_days(
    settings: Settings,
    plan: Plan,
    days: list[tuple[str, tuple[datetime, datetime], tuple[Fault, ...]]],
) -> int:
    """Send each (title, window, faults) through one worker; the frames logged."""
    from inference.runner import built_worker
    from inference.training.simulator import Scenario, simulate

    frames = 0
    with built_worker(settings) as worker:
        for title, (since, until), faults in days:
            scenario = Scenario(plan.stations, since, until, plan.per_hour, seed=1, faults=faults)
            typer.echo(f"simulating the {title}: {since:%Y-%m-%d %H:%M} to {until:%H:%M} UTC")
            for fault in faults:
                typer.echo(f"  fault {fault} (expect {fault.rule})")
            with progress_bar(f"{title} frames") as advance:
                result = simulate(worker, scenario, settings, progress=advance)
            print_result(result)
            frames += result.logged
    return frames


def _set_references(
    engine: Engine, settings: Settings, stations: tuple[str, ...], window: tuple[datetime, datetime]
) -> None:
    from monitor.calibration import Limits
    from monitor.reference import build_reference

    with engine.begin() as conn:
        for station in stations:
            build_reference(
                conn,
                station,
                *window,
                sample_size=settings.reference_sample_size,
                limits=Limits.from_settings(settings),
                set_by="beltwatch demo",
            )
    typer.echo(f"references set for {', '.join(stations)} from the reference day")


def _monitor_hours(engine: Engine, settings: Settings, since: datetime, until: datetime) -> None:
    """The hourly monitor over [since, until), each hour's notifications delivered after it."""
    from monitor.dispatch import Dispatcher
    from monitor.hourly import run_range
    from monitor.receivers import build_notifiers

    hours = [since + timedelta(hours=h) for h in range(int((until - since) / timedelta(hours=1)))]
    dispatcher = Dispatcher(engine, build_notifiers(settings), settings)
    # The console receiver prints each alert; the alert manager's own warning of the same
    # event would print it twice.
    alerts_log = logging.getLogger("monitor.alerts")
    level = alerts_log.level
    alerts_log.setLevel(logging.ERROR)
    try:
        with progress_bar("monitor hours") as advance:
            for done, hour in enumerate(hours, 1):
                outcome = run_range(engine, settings, hour, hour + timedelta(hours=1))
                for failed in (h for h in outcome.hours if not h.ok):
                    typer.secho(f"hour {failed.hour:%H:%M} failed: {failed.error}", fg="red")
                dispatcher.run_once()
                advance(done, len(hours))
    finally:
        alerts_log.setLevel(level)
        dispatcher.close()


def demo_command(
    ctx: typer.Context,
    quick: Annotated[
        bool, typer.Option("--quick", help="A reduced size for CI: 3 stations, 8-hour days.")
    ] = False,
    dashboard: Annotated[
        bool, typer.Option("--dashboard/--no-dashboard", help="Start the dashboard after.")
    ] = True,
    use_database: Annotated[
        bool,
        typer.Option(
            "--use-database",
            help="Use BELTWATCH_DATABASE_URL (an empty database) instead of the demo's own "
            "embedded one in <data_dir>/demo.",
        ),
    ] = False,
) -> None:
    """Simulate a day of a fulfilment centre with one fault of each kind, run the monitor
    over it, print what it found, and open the dashboard on the result."""
    from monitor.cli.common import engine_for
    from monitor.core.db.engine import database_url

    started = time.perf_counter()
    settings = demo_settings(settings_from(ctx), use_database=use_database)
    if use_database and settings.database_url is None:
        raise fail("--use-database needs BELTWATCH_DATABASE_URL")
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    with engine_for(settings) as engine:
        result = run_demo(engine, settings, QUICK if quick else FULL, day=day)
    steps = ", ".join(f"{step} {s:.0f} s" for step, s in result.seconds.items())
    typer.echo(f"\ndemo done in {time.perf_counter() - started:.0f} s ({steps})")
    if not result.scorecard.all_found or result.scorecard.uninjected:
        typer.secho("the monitor missed a fault or raised an alert nobody injected", fg="yellow")
    if dashboard:
        _dashboard(ctx, settings, database_url(settings).render_as_string(hide_password=False))


def _dashboard(ctx: typer.Context, settings: Settings, url: str) -> None:
    """Run the dashboard on the demo's database until Ctrl-C (a child process, so the
    embedded database stops with the demo)."""
    from dashboards.access import problems, write_oidc_secrets
    from monitor.cli.dashboard import dashboard_environment, streamlit_command
    from monitor.core.exceptions import ConfigError

    found = problems(settings)
    if found:
        raise ConfigError(found)
    secrets_file = write_oidc_secrets(settings) if settings.dashboard_auth == "oidc" else None
    env = dashboard_environment(config_path(ctx))
    env.update(BELTWATCH_DATABASE_URL=url, BELTWATCH_DATA_DIR=str(settings.data_dir))
    typer.echo(
        f"dashboard on http://{settings.dashboard_host}:{settings.dashboard_port} (Ctrl-C stops)"
    )
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends the dashboard and the demo
        subprocess.run(streamlit_command(settings, secrets_file), env=env, check=False)
