"""`beltwatch worker ...`: the inference worker on a source."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from monitor.cli.common import settings_from

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
    """Serve predictions over HTTP until SIGTERM (a second SIGTERM exits at once). Says at
    start, without -v, its address, model, database (password masked) and spool."""
    from inference.runner import run_http

    run_http(settings_from(ctx), sagemaker=sagemaker, port=port, announce=typer.echo)


@worker_app.command("dir")
def worker_dir(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Folder the cameras drop images into.")],
    once: Annotated[bool, typer.Option("--once", help="Process what is there, then exit.")] = False,
) -> None:
    """Process image files dropped into PATH (see inference/sources/directory.py for naming).
    Says at start its folders, model, database (password masked) and spool; at the end how
    many frames went to done/ and to failed/."""
    from inference.runner import run_directory

    run_directory(settings_from(ctx), path, once=once, announce=typer.echo)
