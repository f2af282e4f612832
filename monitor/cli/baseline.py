"""`beltwatch baseline ...`: the stations' reference profiles."""

from __future__ import annotations

from typing import Annotated

import typer

from monitor.cli.common import engine_for, fail, parse_time, settings_from

baseline_app = typer.Typer(help="Reference profiles of the stations.", no_args_is_help=True)


@baseline_app.command("set")
def baseline_set(
    ctx: typer.Context,
    station: Annotated[str, typer.Option("--station", help="Station id.")],
    since: Annotated[str, typer.Option("--since", help="Start of a known-good window.")],
    until: Annotated[str, typer.Option("--until", help="End of it (exclusive).")],
) -> None:
    """Store the station's reference profile from a known-good window."""
    from monitor.calibration import Limits
    from monitor.reference import NoData, build_reference

    settings = settings_from(ctx)
    with engine_for(settings) as engine, engine.begin() as conn:
        try:
            reference = build_reference(
                conn,
                station,
                parse_time(since, "--since"),
                parse_time(until, "--until"),
                sample_size=settings.reference_sample_size,
                limits=Limits.from_settings(settings),
            )
        except NoData as error:
            raise fail(str(error)) from None
    _print_reference(reference)


@baseline_app.command("show")
def baseline_show(
    ctx: typer.Context, station: Annotated[str, typer.Option("--station", help="Station id.")]
) -> None:
    """Print a station's reference profile."""
    from monitor.reference import load_reference

    settings = settings_from(ctx)
    with engine_for(settings) as engine, engine.connect() as conn:
        reference = load_reference(conn, station)
    if reference is None:
        raise fail(f"station {station} has no reference profile; `beltwatch baseline set`")
    _print_reference(reference)


def _print_reference(reference) -> None:
    kind = "PROVISIONAL " if reference.provisional else ""
    typer.echo(
        f"{kind}reference of station {reference.station_id}: {reference.n:,} predictions, "
        f"{reference.hourly_volume or 0:,.0f} per hour"
    )
    mix = ", ".join(f"{cls} {share:.1%}" for cls, share in reference.class_mix.items())
    typer.echo(f"class mix: {mix}")
    typer.echo(f"{'statistic':<20}{'p05':>10}{'p50':>10}{'p95':>10}{'hourly sd':>12}")
    for column, q in reference.quantiles.items():
        sd = (reference.hourly_spread.get(column) or {}).get("sd")
        typer.echo(
            f"{column:<20}{q['p05']:>10.3g}{q['p50']:>10.3g}{q['p95']:>10.3g}"
            f"{sd if sd is not None else float('nan'):>12.3g}"
        )
    _print_limits(reference)


def _print_limits(reference) -> None:
    """The calibrated yardsticks the drift rules judge this station by."""
    from monitor.calibration import CUSUM_SIGNALS

    watched = {column for column, _ in CUSUM_SIGNALS}
    sticks = [reference.yardsticks[c] for c in sorted(watched) if c in reference.yardsticks]
    if not sticks:
        typer.echo(
            "calibrated limits: none (a profile from before calibration; "
            "`beltwatch baseline set` again to calibrate)"
        )
        return
    typer.echo(
        "calibrated limits (hourly medians; centre and robust SD on the log scale where "
        "marked; CUSUM limits for one false alarm per station per alarm_budget_years):"
    )
    typer.echo(
        f"{'statistic':<20}{'centre':>10}{'robust sd':>11}{'scale':>7}{'daily cycle':>13}"
        f"{'k':>6}{'h down':>8}{'h up':>7}{'hours':>7}"
    )
    for stick in sticks:
        cycle = "no"
        if stick.cycle is not None:
            swing = (stick.cycle[0] ** 2 + stick.cycle[1] ** 2) ** 0.5
            cycle = f"+-{swing:.2g}"
        h_down, h_up = stick.h.get("down"), stick.h.get("up")
        typer.echo(
            f"{stick.column:<20}{stick.level(None):>10.3g}{stick.scale:>11.3g}"
            f"{'log' if stick.log else 'linear':>7}{cycle:>13}{stick.k:>6g}"
            f"{'-' if h_down is None else f'{h_down:g}':>8}"
            f"{'-' if h_up is None else f'{h_up:g}':>7}{stick.hours:>7}"
        )
