"""`beltwatch simulate`: synthetic conveyor frames, with faults, through the real worker."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from monitor.cli.common import parse_time, settings_from
from monitor.core.settings import Settings

if TYPE_CHECKING:
    from inference.training.faults import Fault
    from inference.training.simulator import SimulationResult

FAULT_HELP = (
    "A fault to inject, KIND:STATION@HH:MM[-HH:MM][:VALUE] (UTC; repeat the option): "
    "lens:S3@14:00 (the lens degrades: blur and haze grow for 2 h; VALUE final severity "
    "0-1, default 1), smudge:S4@16:00[:1] (a smudge over part of the lens; VALUE strength), "
    "lighting:S1@20:00-23:00[:0.6] (the light fails; VALUE gain factor), "
    "damage:S2@10:00-11:00[:0.2] (a real wave of damaged parcels; VALUE critical share), "
    "down:S4@06:00-08:00 (the camera sends nothing), slow:S5@12:00-13:00[:150] (the "
    "model is slowed by VALUE ms a frame: a wrapper around the real model sleeps first). "
    "START is its first time at or after --faults-from; an END not after it is the next "
    "day's; without END the fault lasts to the window's end."
)


def station_names(value: str) -> tuple[str, ...]:
    """`--stations`: a count (S1..Sn) or a comma-separated list of ids."""
    text = value.strip()
    if text.isdigit():
        count = int(text)
        if not 1 <= count <= 500:
            raise typer.BadParameter(f"{count} stations: give 1 to 500", param_hint="--stations")
        return tuple(f"S{i}" for i in range(1, count + 1))
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if not names:
        raise typer.BadParameter("no station named", param_hint="--stations")
    return names


def parse_faults(specs: list[str], anchor: datetime, until: datetime) -> tuple[Fault, ...]:
    """The `--fault` options placed in the window; a bad one is a usage error naming it."""
    from inference.training.faults import FaultSpecError, parse_fault

    faults = []
    for spec in specs:
        try:
            faults.append(parse_fault(spec).place(anchor, until))
        except FaultSpecError as error:
            raise typer.BadParameter(str(error), param_hint="--fault") from None
    return tuple(faults)


@contextlib.contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """A Rich progress bar; yields the callback (done, total) that moves it."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task(description, total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance


def for_simulation(settings: Settings) -> Settings:
    """The settings a simulation's worker runs with: the model on one thread (the other
    cores render frames) unless inference_threads is set."""
    if settings.inference_threads:
        return settings
    return settings.model_copy(update={"inference_threads": 1})


def print_result(result: SimulationResult) -> None:
    calls = ", ".join(f"{cls} {n:,}" for cls, n in sorted(result.predicted.items()))
    drawn = ", ".join(f"{cls} {n:,}" for cls, n in sorted(result.drawn.items()))
    typer.echo(
        f"{result.logged:,} of {result.planned:,} frames logged ({result.stored:,} rows stored) "
        f"in {result.seconds:.0f} s, {result.frames_per_second:.0f} frames/s"
    )
    typer.echo(f"parcels drawn: {drawn}; the model called: {calls}")
    for kind, n in result.refused.items():
        typer.secho(f"refused: {n:,} frames ({kind})", fg=typer.colors.RED)


def simulate_command(
    ctx: typer.Context,
    stations: Annotated[
        str, typer.Option("--stations", help="How many stations (S1..Sn), or their ids: S1,dock-2.")
    ] = "5",
    per_hour: Annotated[
        int, typer.Option("--per-hour", min=1, help="Frames an hour per station (Poisson).")
    ] = 200,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Window start, e.g. 2026-11-24T00:00Z (default: yesterday "
            "00:00 UTC; with --live: now).",
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", help="Window end, exclusive (default: a day after --since)."),
    ] = None,
    faults_from: Annotated[
        str | None,
        typer.Option(
            "--faults-from", help="Faults' times are the first at or after this (default: --since)."
        ),
    ] = None,
    fault: Annotated[list[str] | None, typer.Option("--fault", help=FAULT_HELP)] = None,
    live: Annotated[
        bool, typer.Option("--live", help="Send each frame at its capture time (a wall screen).")
    ] = False,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Scenes, parcels and volumes.")] = 0,
) -> None:
    """Feed synthetic conveyor frames, with faults, through the real worker (decode,
    statistics, the ONNX model, actions, the prediction log). A past window runs as fast as
    the machine renders (a process per core); --live paces frames in real time. Frames
    reach the worker one at a time; its model runs on one thread unless
    BELTWATCH_INFERENCE_THREADS says otherwise (the other cores render)."""
    from inference.runner import built_worker
    from inference.training.simulator import Scenario, simulate
    from monitor.scheduler import stop_on_signals

    settings = for_simulation(settings_from(ctx))
    now = datetime.now(UTC)
    yesterday = (now - timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    default_start = now if live else yesterday
    start = parse_time(since, "--since") if since is not None else default_start
    end = parse_time(until, "--until") if until else start + timedelta(days=1)
    anchor = parse_time(faults_from, "--faults-from") if faults_from else start
    scenario = Scenario(
        station_names(stations), start, end, per_hour, seed, parse_faults(fault or [], anchor, end)
    )
    typer.echo(
        f"simulating {len(scenario.stations)} stations, {per_hour}/h, "
        f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC" + (" (live)" if live else "")
    )
    for placed in scenario.faults:
        typer.echo(f"  fault {placed} (expect {placed.rule})")
    with (
        stop_on_signals() as stop,
        built_worker(settings) as worker,
        progress_bar("frames") as advance,
    ):
        result = simulate(worker, scenario, settings, live=live, progress=advance, stop=stop)
    print_result(result)
