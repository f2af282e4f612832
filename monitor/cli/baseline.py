"""`beltwatch baseline ...`: the stations' reference profiles."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from monitor.cli.common import engine_for, fail, login_name, parse_time, settings_from

baseline_app = typer.Typer(help="Reference profiles of the stations.", no_args_is_help=True)


@baseline_app.command("set")
def baseline_set(
    ctx: typer.Context,
    station: Annotated[str, typer.Option("--station", help="Station id.")],
    since: Annotated[str, typer.Option("--since", help="Start of a known-good window.")],
    until: Annotated[str, typer.Option("--until", help="End of it (exclusive).")],
    by: Annotated[
        str | None,
        typer.Option("--by", help="Who sets it, recorded with it (default: your login name)."),
    ] = None,
) -> None:
    """Store the station's reference profile from a known-good window."""
    from monitor.calibration import Limits
    from monitor.core.queries import references
    from monitor.reference import NoData, build_reference

    settings = settings_from(ctx)
    set_by = (by if by is not None else login_name()).strip()
    if not set_by:
        raise fail("no name to record with the reference: pass --by NAME")
    with engine_for(settings) as engine, engine.begin() as conn:
        try:
            reference = build_reference(
                conn,
                station,
                parse_time(since, "--since"),
                parse_time(until, "--until"),
                sample_size=settings.reference_sample_size,
                limits=Limits.from_settings(settings),
                set_by=set_by,
            )
        except NoData as error:
            raise fail(str(error)) from None
        stored = references.reference_bands(conn)[station]
    _print_reference(reference, stored)


@baseline_app.command("show")
def baseline_show(
    ctx: typer.Context, station: Annotated[str, typer.Option("--station", help="Station id.")]
) -> None:
    """Print a station's reference profile, and who set it when."""
    from monitor.core.queries import references
    from monitor.reference import load_reference

    settings = settings_from(ctx)
    with engine_for(settings) as engine, engine.connect() as conn:
        reference = load_reference(conn, station)
        stored = references.reference_bands(conn).get(station)
    if reference is None or stored is None:
        raise fail(f"station {station} has no reference profile; `beltwatch baseline set`")
    _print_reference(reference, stored)


def _print_reference(reference, stored: dict[str, Any]) -> None:
    kind = "PROVISIONAL " if reference.provisional else ""
    typer.echo(
        f"{kind}reference of station {reference.station_id}: {reference.n:,} predictions, "
        f"{reference.hourly_volume or 0:,.0f} per hour"
    )
    who = stored["set_by"] or ("the monitor" if stored["provisional"] else "unknown (not recorded)")
    typer.echo(
        f"window {stored['window_start'].isoformat()} to {stored['window_end'].isoformat()}; "
        f"set by {who} at {stored['created_at'].isoformat(timespec='seconds')}"
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
    from monitor.calibration import limit_rows

    rows = limit_rows(reference.yardsticks)
    if not rows:
        typer.echo(
            "calibrated limits: none (a profile from before calibration; "
            "`beltwatch baseline set` again to calibrate)"
        )
        return
    typer.echo(
        "calibrated limits (hourly medians; centre and robust SD on the log scale where "
        "marked; CUSUM limits for one false alarm per station per alarm_budget_years):"
    )
    widths = {"statistic": 20, "centre": 10, "robust sd": 11, "scale": 7, "daily cycle": 13}
    widths |= {"k": 6, "h down": 8, "h up": 7, "hours": 7}
    typer.echo(_line({name: name for name in widths}, widths))
    for row in rows:
        typer.echo(_line(row, widths))


def _line(row: dict[str, str], widths: dict[str, int]) -> str:
    # The first column left-aligned, the figures right-aligned under their headings.
    first, *rest = widths
    return f"{row[first]:<{widths[first]}}" + "".join(f"{row[n]:>{widths[n]}}" for n in rest)
