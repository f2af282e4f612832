"""Sizes and durations as people write them ("2GiB", "500MB", "90s", "15m", "7d"), from the
environment and the TOML file alike; each setting keeps its type and unit, and a value it
cannot read is refused naming the setting and the forms it takes."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from monitor.core.exceptions import ConfigError
from monitor.core.settings import Settings, load_settings, parse_duration, parse_size

GiB, MiB, KiB = 1024**3, 1024**2, 1024
SIZE_SUFFIX = "_bytes"
DURATION_UNITS = {"_days": "d", "_hours": "h", "_ms": "ms", "_s": "s"}


def _duration_unit(name: str) -> str | None:
    # `_ms` before `_s`: the longest suffix names the unit.
    for suffix in sorted(DURATION_UNITS, key=len, reverse=True):
        if name.endswith(suffix):
            return DURATION_UNITS[suffix]
    return None


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("2GiB", 2 * GiB),
        ("2 GiB", 2 * GiB),
        ("2gib", 2 * GiB),
        ("500MB", 500_000_000),
        ("512KiB", 512 * KiB),
        ("1.5 GiB", 3 * GiB // 2),
        ("64MiB", 64 * MiB),
        ("4096B", 4096),
        ("2147483648", "2147483648"),  # a plain number is bytes: left to the field
        (2147483648, 2147483648),
    ],
)
def test_a_size_is_read_as_bytes(text, size) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize(
    ("text", "unit", "whole", "value"),
    [
        ("90s", "s", True, 90),
        ("15m", "s", True, 900),
        ("2h", "s", True, 7200),
        ("1h30m", "s", True, 5400),
        ("1h 30m", "s", True, 5400),
        ("7d", "d", True, 7),
        ("2w", "d", True, 14),
        ("48h", "d", True, 2),
        ("1.5s", "ms", True, 1500),
        ("250ms", "ms", True, 250),
        ("500ms", "s", False, 0.5),
        ("90m", "h", False, 1.5),
        ("90", "s", True, "90"),  # a plain number is in the setting's unit: left to the field
        (30, "d", True, 30),
    ],
)
def test_a_duration_is_read_in_the_settings_own_unit(text, unit, whole, value) -> None:
    result = parse_duration(text, unit=unit, whole=whole)
    assert result == value and type(result) is type(value)


def test_the_environment_and_the_file_take_the_same_forms(tmp_path: Path, monkeypatch) -> None:
    config = tmp_path / "beltwatch.toml"
    config.write_text(
        'log_spool_max_bytes = "2GiB"\n'
        'worker_max_image_bytes = "500 KiB"\n'
        'monitor_misfire_grace_s = "50m"\n'
        'retention_days = "2w"\n'
        "image_retention_days = 10\n"
        'notify_max_age_hours = "90m"\n'
    )
    monkeypatch.setenv("BELTWATCH_LOG_SEGMENT_MAX_BYTES", "32MiB")
    monkeypatch.setenv("BELTWATCH_LOG_BATCH_MAX_AGE_MS", "1.5s")
    monkeypatch.setenv("BELTWATCH_NOTIFY_BACKOFF_MAX_S", "15m")
    monkeypatch.setenv("BELTWATCH_LOG_RETRY_MAX_S", "45")
    settings = load_settings(config)
    assert settings.log_spool_max_bytes == 2 * GiB
    assert settings.worker_max_image_bytes == 500 * KiB
    assert settings.monitor_misfire_grace_s == 3000
    assert settings.retention_days == 14
    assert settings.image_retention_days == 10
    assert settings.notify_max_age_hours == 1.5
    assert settings.log_segment_max_bytes == 32 * MiB
    assert settings.log_batch_max_age_ms == 1500
    assert settings.notify_backoff_max_s == 900.0
    assert settings.log_retry_max_s == 45.0
    # Types and units as declared, so no caller changes.
    assert type(settings.retention_days) is int and type(settings.notify_backoff_max_s) is float


def test_every_size_and_duration_setting_takes_the_human_forms() -> None:
    """A new `*_bytes`, `*_days`, `*_hours`, `*_s` or `*_ms` setting is declared with its
    type (Bytes, Days, ...), so it reads "64 MiB" or "90m" like the others: here each
    default, written in another unit, comes back as the default, of the declared type."""
    checked = []
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        if name.endswith(SIZE_SUFFIX):
            text = f"{default // KiB} KiB"
        elif (unit := _duration_unit(name)) is not None:
            amount = Decimal(str(default))
            text = {
                "d": f"{amount * 24}h",
                "h": f"{amount * 60}m",
                "s": f"{amount * 1000}ms",
                "ms": f"{amount / 1000}s",
            }[unit]
        else:
            continue
        value = getattr(load_settings(**{name: text}), name)
        assert value == default and type(value) is field.annotation, (name, text, value)
        checked.append(name)
    assert len(checked) >= 31 and {
        "log_spool_max_bytes",
        "retention_days",
        "reports_retention_days",
        "monitor_catchup_hours",
        "notify_max_age_hours",
        "monitor_misfire_grace_s",
        "latency_budget_ms",
    } <= set(checked)


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("BELTWATCH_LOG_SPOOL_MAX_BYTES", "2XB", "expected a size"),
        ("BELTWATCH_LOG_SPOOL_MAX_BYTES", "lots", "expected a size"),
        ("BELTWATCH_LOG_SPOOL_MAX_BYTES", "1.5B", "whole number of bytes"),
        ("BELTWATCH_RETENTION_DAYS", "36h", "whole number of days"),
        ("BELTWATCH_RETENTION_DAYS", "1.5", "whole number of days"),
        ("BELTWATCH_MONITOR_MISFIRE_GRACE_S", "10 minutes", "expected a duration"),
        ("BELTWATCH_NOTIFY_TIMEOUT_S", "5M", "expected a duration"),
    ],
)
def test_a_value_it_cannot_read_names_the_setting_and_the_forms(
    monkeypatch, variable, value, words
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    name = variable.removeprefix("BELTWATCH_").lower()
    assert f"{name} ({variable})" in message
    assert words in message and f"got {value!r}" in message
    forms = "2GiB, 2 GiB, 500MB, 512KiB" if variable.endswith("_BYTES") else "90s, 15m, 2h, 7d"
    assert forms in message


def test_the_bounds_still_hold_after_the_units(monkeypatch) -> None:
    monkeypatch.setenv("BELTWATCH_LOG_SPOOL_MAX_BYTES", "512KiB")  # below 1 MiB
    with pytest.raises(ConfigError, match=r"log_spool_max_bytes .*greater than or equal"):
        load_settings()


def test_a_bad_value_in_the_file_is_named_too(tmp_path: Path) -> None:
    config = tmp_path / "beltwatch.toml"
    config.write_text('dispatch_interval_s = "a minute"\n')
    result = CliRunner().invoke(app, ["settings", "--config", str(config)])
    assert result.exit_code == 2
    assert "dispatch_interval_s (BELTWATCH_DISPATCH_INTERVAL_S)" in result.output
    assert "expected a duration" in result.output


def test_beltwatch_settings_shows_a_human_size_readably(tmp_path: Path) -> None:
    config = tmp_path / "beltwatch.toml"
    config.write_text('log_spool_max_bytes = "512 MiB"\nmonitor_misfire_grace_s = "50m"\n')
    result = CliRunner().invoke(app, ["settings", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert re.search(r"log_spool_max_bytes\s+512 MiB\s+file", result.output)
    assert re.search(r"monitor_misfire_grace_s\s+3000\s+file", result.output)
