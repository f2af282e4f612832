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
