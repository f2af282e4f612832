"""One exception root for the program, and one error boundary for the command line: an
expected failure is one red line and its class's exit code; `-v` adds the traceback."""

from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys

import psycopg
import pytest
import sqlalchemy.exc
import typer
from typer.testing import CliRunner

import inference
import monitor
from inference.exceptions import BadFrame, ModelError
from monitor.cli import app
from monitor.cli.common import ErrorBoundary, failure_line
from monitor.core.exceptions import BeltwatchError, ConfigError, DatabaseError, SpoolLocked

runner = CliRunner()

UNREACHABLE = "postgresql://bw:s3cret-pw@127.0.0.1:1/beltwatch"


def _program_exceptions() -> list[type[BaseException]]:
    for package in (monitor, inference):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if not module.name.endswith(".__main__"):  # importing it runs the command line
                importlib.import_module(module.name)
    found, todo = [], [Exception]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.partition(".")[0] in ("monitor", "inference"):
            found.append(cls)
    return found


def test_every_exception_class_of_the_program_derives_from_the_root() -> None:
    found = _program_exceptions()
    assert {BadFrame, ModelError, ConfigError} <= set(found)
    strays = [
        f"{c.__module__}.{c.__qualname__}" for c in found if not issubclass(c, BeltwatchError)
    ]
    assert strays == []


@pytest.mark.parametrize(
    ("error", "line", "code"),
    [
        (
            ConfigError([("retention_days (BELTWATCH_RETENTION_DAYS)", "too small")]),
            "invalid configuration: retention_days (BELTWATCH_RETENTION_DAYS): too small",
            2,
        ),
        (
            DatabaseError("could not start the embedded PostgreSQL"),
            "database unreachable: could not start the embedded PostgreSQL"
            " (check BELTWATCH_DATABASE_URL and that the server is running)",
            1,
        ),
        (
            psycopg.OperationalError("connection refused\n\tIs the server running?"),
            "database unreachable: connection refused Is the server running?"
            " (check BELTWATCH_DATABASE_URL and that the server is running)",
            1,
        ),
        (
            sqlalchemy.exc.ProgrammingError(
                "SELECT 1", {}, Exception('relation "x" does not exist')
            ),
            'database error: relation "x" does not exist',
            1,
        ),
        (
            ModelError("model file not found: m.onnx"),
            "model unusable: model file not found: m.onnx"
            " (check BELTWATCH_MODEL_PATH and the metadata file beside the model)",
            1,
        ),
        (BadFrame("empty", "no bytes"), "error: bad frame (empty): no bytes", 1),
        (
            SpoolLocked("/s"),
            "error: spool directory /s is in use by another process; give each "
            "worker its own BELTWATCH_SPOOL_DIR",
            1,
        ),
    ],
)
def test_each_failure_class_has_its_line_and_exit_code(error, line, code) -> None:
    assert failure_line(error) == (line, code)


def test_a_password_in_a_failure_message_is_masked() -> None:
    error = DatabaseError("cannot reach postgresql://bw:s3cret-pw@db:5432/x")
    assert failure_line(error) == (
        "database unreachable: cannot reach postgresql://bw:***@db:5432/x"
        " (check BELTWATCH_DATABASE_URL and that the server is running)",
        1,
    )


def test_a_bug_is_not_an_expected_failure() -> None:
    assert failure_line(KeyError("station")) is None


def test_a_bad_setting_exits_2_with_one_line_naming_every_bad_setting() -> None:
    env = {"BELTWATCH_RETENTION_DAYS": "-5", "BELTWATCH_LOG_OVERFLOW": "explode"}
    result = runner.invoke(app, ["db", "current"], env=env)
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("invalid configuration: ")
    assert "retention_days (BELTWATCH_RETENTION_DAYS)" in line
    assert "log_overflow (BELTWATCH_LOG_OVERFLOW)" in line


def test_an_unreachable_database_exits_1_with_one_line_and_no_traceback() -> None:
    result = runner.invoke(app, ["db", "upgrade"], env={"BELTWATCH_DATABASE_URL": UNREACHABLE})
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("database unreachable: ") and "Connection refused" in line
    assert "Traceback" not in result.output
    assert "s3cret-pw" not in result.output


def test_verbose_adds_the_traceback_before_the_line() -> None:
    env = {"BELTWATCH_DATABASE_URL": UNREACHABLE}
    result = runner.invoke(app, ["-v", "db", "upgrade"], env=env)
    assert result.exit_code == 1
    assert result.stderr.startswith("Traceback")
    assert result.stderr.splitlines()[-1].startswith("database unreachable: ")
    assert "s3cret-pw" not in result.output


def test_an_unusable_model_exits_1_naming_what_to_check(tmp_path) -> None:
    env = {"BELTWATCH_MODEL_PATH": str(tmp_path / "missing.onnx")}
    result = runner.invoke(app, ["worker", "dir", str(tmp_path), "--once"], env=env)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"model unusable: model file not found: {tmp_path}/missing.onnx"
        " (check BELTWATCH_MODEL_PATH and the metadata file beside the model)"
    ]


def test_usage_errors_keep_typers_exit_2_and_message() -> None:
    result = runner.invoke(app, ["db", "upgrade", "--no-such-option"])
    assert result.exit_code == 2
    assert "No such option: --no-such-option" in result.output


def test_a_bug_keeps_its_traceback_and_is_not_turned_into_a_line() -> None:
    buggy = typer.Typer(cls=ErrorBoundary)

    @buggy.command()
    def crash() -> None:
        raise KeyError("station")

    @buggy.command()
    def refuse() -> None:
        raise SpoolLocked("/spool")

    result = runner.invoke(buggy, ["crash"])
    assert isinstance(result.exception, KeyError)
    result = runner.invoke(buggy, ["refuse"])
    assert result.exit_code == 1 and result.stderr.startswith("error: spool directory /spool")


def test_python_m_monitor_cli_has_the_same_boundary() -> None:
    env = {**os.environ, "BELTWATCH_RETENTION_DAYS": "-5"}
    done = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "db", "current"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "invalid configuration: retention_days (BELTWATCH_RETENTION_DAYS): Input should be "
        "greater than or equal to 1; got '-5'"
    ]


@pytest.mark.parametrize(
    "command",
    [
        ["db", "current"],
        ["monitor", "once"],
        ["baseline", "show", "--station", "S1"],
        ["silence", "list"],
    ],
)
def test_a_malformed_port_in_the_database_url_is_a_setting_error(command) -> None:
    url = "postgresql://bw:s3cret-pw@db.example:54x2/beltwatch"
    result = runner.invoke(app, command, env={"BELTWATCH_DATABASE_URL": url})
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert "database_url (BELTWATCH_DATABASE_URL)" in line and "port must be a number" in line
    assert "s3cret-pw" not in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    "command",
    [
        ["monitor", "once"],
        ["monitor", "backfill", "--since", "2026-11-24T00:00Z", "--until", "2026-11-24T02:00Z"],
        ["baseline", "show", "--station", "S1"],
        ["silence", "list"],
    ],
)
def test_every_command_says_in_one_line_that_the_database_is_down(command) -> None:
    result = runner.invoke(app, command, env={"BELTWATCH_DATABASE_URL": UNREACHABLE})
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("database unreachable: ") and "BELTWATCH_DATABASE_URL" in line
    assert "s3cret-pw" not in result.output and "Traceback" not in result.output
