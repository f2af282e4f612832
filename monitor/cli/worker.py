"""`beltwatch worker ...`: the inference worker on a source."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from monitor.cli.common import fail, settings_from
from monitor.core.exceptions import BeltwatchError

worker_app = typer.Typer(help="The inference worker: model, statistics, log.", no_args_is_help=True)


@worker_app.command("http")
def worker_http(
    ctx: typer.Context,
    sagemaker: Annotated[
        bool,
        typer.Option(
            "--sagemaker", help="SageMaker container contract: /invocations, /ping, port 8080."
        ),
    ] = False,
    port: Annotated[int | None, typer.Option("--port", help="Override the port.")] = None,
) -> None:
    """Serve predictions over HTTP until SIGTERM (a second SIGTERM exits at once)."""
    from inference.exceptions import ModelError
    from inference.runner import run_http

    settings = settings_from(ctx)
    try:
        run_http(settings, sagemaker=sagemaker, port=port)
    except (ModelError, BeltwatchError) as error:
        raise fail(f"worker failed: {error}") from None


@worker_app.command("dir")
def worker_dir(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Folder the cameras drop images into.")],
    once: Annotated[bool, typer.Option("--once", help="Process what is there, then exit.")] = False,
) -> None:
    """Process image files dropped into PATH (see inference/sources/directory.py for naming)."""
    from inference.exceptions import ModelError
    from inference.runner import run_directory

    settings = settings_from(ctx)
    try:
        handled = run_directory(settings, path, once=once)
    except (ModelError, BeltwatchError) as error:
        raise fail(f"worker failed: {error}") from None
    typer.echo(f"{handled} frame(s) processed")
