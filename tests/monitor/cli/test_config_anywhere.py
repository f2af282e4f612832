"""Every command takes `--config FILE` and `-v` wherever they stand on the line: before
the command, after it, inside a nested group, as `--config=FILE`; a value of another
option that reads like one of them stays that option's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from monitor.cli import app
from monitor.cli.common import lift_global_options

runner = CliRunner()

# A server nobody listens on: a command that read the file fails fast, naming the database.
UNREACHABLE = 'database_url = "postgresql://bw:pw@127.0.0.1:1/beltwatch"\n'


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "beltwatch.toml"
    path.write_text("retention_days = 30\n")
    return path


@pytest.fixture
def unreachable(tmp_path: Path) -> Path:
    path = tmp_path / "unreachable.toml"
    path.write_text(UNREACHABLE)
    return path


def _settings_shown(args: list[str], env: dict[str, str] | None = None) -> dict:
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.parametrize(
    "where",
    [
        ["--config", "{config}", "settings", "--json"],
        ["settings", "--config", "{config}", "--json"],
        ["settings", "--json", "--config", "{config}"],
        ["settings", "--json", "--config={config}"],
        ["-v", "settings", "--json", "--config={config}"],
    ],
)
def test_settings_read_the_file_wherever_config_is_given(config: Path, where) -> None:
    args = [arg.format(config=config) for arg in where]
    shown = _settings_shown(args)
    assert shown["retention_days"] == {
        "env": "BELTWATCH_RETENTION_DAYS",
        "value": 30,
        "source": "file",
    }


def test_the_config_variable_still_works(config: Path) -> None:
    shown = _settings_shown(["settings", "--json"], env={"BELTWATCH_CONFIG": str(config)})
    assert shown["retention_days"]["value"] == 30 and shown["retention_days"]["source"] == "file"


def test_a_config_option_after_the_command_wins_over_the_variable(
    config: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.toml"
    other.write_text("retention_days = 7\n")
    shown = _settings_shown(
        ["settings", "--json", "--config", str(config)], env={"BELTWATCH_CONFIG": str(other)}
    )
    assert shown["retention_days"]["value"] == 30


@pytest.mark.parametrize(
    "command",
    [
        ["monitor", "once"],
        ["silence", "list"],
        ["silence", "add", "--until", "2099-01-01T00:00Z", "--comment", "lens cleaning"],
        ["baseline", "show", "--station", "S1"],
        ["alerts", "list"],
        ["db", "current"],
    ],
)
def test_nested_commands_take_config_after_their_options(command, unreachable: Path) -> None:
    result = runner.invoke(app, [*command, "--config", str(unreachable)])
    assert result.exit_code == 1, result.output
    assert "database unreachable" in result.output
    assert "pw@" not in result.output


def test_verbose_after_the_command_shows_the_traceback(unreachable: Path) -> None:
    quiet = runner.invoke(app, ["silence", "list", f"--config={unreachable}"])
    loud = runner.invoke(app, ["silence", "list", f"--config={unreachable}", "-v"])
    assert quiet.exit_code == loud.exit_code == 1
    assert "Traceback" not in quiet.output
    assert "Traceback" in loud.output


def test_a_value_of_another_option_is_never_taken(unreachable: Path) -> None:
    # `-v` and `--config` here are the comment itself, not the root's options.
    line = ["silence", "add", "--until", "2099-01-01T00:00Z", "--comment", "-v"]
    result = runner.invoke(app, [*line, "--config", str(unreachable)])
    assert result.exit_code == 1 and "Traceback" not in result.output

    root = typer.main.get_command(app)
    ctx = typer.Context(root)
    assert lift_global_options(
        root, ctx, ["silence", "add", "--comment", "--config", "--config", "x.toml"]
    ) == ["--config", "x.toml", "silence", "add", "--comment", "--config"]
    assert lift_global_options(root, ctx, ["simulate", "--fault", "-v", "-v"]) == [
        "-v",
        "simulate",
        "--fault",
        "-v",
    ]
    # After `--` nothing is an option.
    assert lift_global_options(root, ctx, ["db", "upgrade", "--", "--config", "x"]) == [
        "db",
        "upgrade",
        "--",
        "--config",
        "x",
    ]


def test_config_without_a_file_is_a_usage_error() -> None:
    result = runner.invoke(app, ["settings", "--json", "--config"])
    assert result.exit_code == 2
    assert "--config" in result.output


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    result = runner.invoke(app, ["db", "current", "--config", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2
    assert "nope.toml" in result.output
