"""`beltwatch settings`: every setting, its effective value (secrets masked) and where the
value came from; `--markdown` renders the declarations as the README's settings table.

The table is generated from the `Settings` fields (name, default, description), so the
README cannot drift from the code: a test compares the two.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import SecretStr
from pydantic.fields import FieldInfo
from sqlalchemy import make_url

from monitor.cli.common import config_path
from monitor.core.settings import ENV_PREFIX, UNDER_DATA_DIR, Settings, load_settings

MASK = "**********"  # what pydantic's SecretStr prints, too

_SIZES = (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024))
_PIPED_WIDTH = 400


def env_name(name: str) -> str:
    """The environment variable of setting `name`."""
    return f"{ENV_PREFIX}{name.upper()}"


def is_secret(field: FieldInfo) -> bool:
    """Whether a setting holds a secret (declared as SecretStr)."""
    return "SecretStr" in repr(field.annotation)


def readable(name: str, value: Any) -> str:
    """A value as a person reads it: `unset` for None, sizes in GiB/MiB/KiB for a byte
    count, floats without trailing zeros, JSON for dicts and lists."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and name.endswith("_bytes"):
        for unit, factor in _SIZES:
            if value >= factor and value % factor == 0:
                return f"{value // factor} {unit}"
        return f"{value} bytes"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def default_text(name: str, field: FieldInfo) -> str:
    """The default as the README shows it (Markdown): a computed default by its declared
    text, a folder of data_dir relative to it, strings and JSON as code."""
    extra = field.json_schema_extra
    if isinstance(extra, dict) and "default_text" in extra:
        return str(extra["default_text"])
    if name in UNDER_DATA_DIR:
        return f"`<data_dir>/{UNDER_DATA_DIR[name]}`"
    value = field.get_default(call_default_factory=True)
    text = readable(name, value)
    return f"`{text}`" if isinstance(value, str | dict | list | Path) else text


def markdown_table() -> str:
    """The README's settings table: one row per field, in declaration order."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        meaning = (field.description or "").replace("|", "\\|")
        rows.append(f"| `{env_name(name)}` | {default_text(name, field)} | {meaning} |")
    return "\n".join(rows) + "\n"


def setting_sources(config: Path | str | None) -> dict[str, str]:
    """Where each setting's value comes from: `env`, `file` or `default` (the same order of
    precedence as load_settings)."""
    environment = {variable.upper() for variable in os.environ}
    in_file: set[str] = set()
    if config is not None:
        in_file = set(tomllib.loads(Path(config).read_text()))
    return {
        name: "env" if env_name(name) in environment else "file" if name in in_file else "default"
        for name in Settings.model_fields
    }


def effective_values(settings: Settings) -> dict[str, Any]:
    """Every setting's effective value as JSON-able data, secrets masked: the database URL
    keeps all but its password, other secrets become `**********`."""
    dumped = settings.model_dump(mode="json")
    values: dict[str, Any] = {}
    for name, field in Settings.model_fields.items():
        raw = getattr(settings, name)
        if name in UNDER_DATA_DIR:
            values[name] = str(settings.under_data_dir(name))
        elif isinstance(raw, SecretStr):
            values[name] = _masked(name, raw)
        elif is_secret(field):
            values[name] = None if raw is None else MASK
        else:
            values[name] = dumped[name]
    return values


def _masked(name: str, secret: SecretStr) -> str:
    if name == "database_url":
        # Host and database help a reader; only the password is secret.
        return make_url(secret.get_secret_value()).render_as_string(hide_password=True)
    return MASK


def show_settings(
    ctx: typer.Context,
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print the README's settings table.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show every setting: its variable, effective value (secrets masked) and source."""
    if markdown and as_json:
        raise typer.BadParameter("choose one of --markdown and --json")
    if markdown:
        typer.echo(markdown_table(), nl=False)
        return
    config = config_path(ctx)
    settings = load_settings(config)
    values = effective_values(settings)
    sources = setting_sources(config)
    if as_json:
        report = {
            name: {"env": env_name(name), "value": values[name], "source": sources[name]}
            for name in values
        }
        typer.echo(json.dumps(report, indent=2))
        return
    _print_table(values, sources)


def _print_table(values: dict[str, Any], sources: dict[str, str]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None)
    # The variable goes under the name: side by side they leave a terminal no room for values.
    table.add_column("setting / variable", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_column("from", no_wrap=True)
    for name, value in values.items():
        setting = Text(name)
        setting.append(f"\n{env_name(name)}", style="dim")
        # Text, not str: a JSON value's brackets would read as Rich markup.
        table.add_row(setting, Text(readable(name, value)), sources[name])
    console = Console()
    if not console.is_terminal:
        # Piped (grep, a file): values unfolded rather than the 80 columns Rich assumes.
        console = Console(width=_PIPED_WIDTH)
    console.print(table)
