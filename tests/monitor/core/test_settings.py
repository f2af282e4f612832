"""Settings: environment over TOML file over defaults; bad values named at start-up."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from monitor.core.exceptions import ConfigError
from monitor.core.settings import Settings, load_settings

README = Path(__file__).parents[3] / "README.md"


def test_environment_overrides_file_overrides_default(tmp_path, monkeypatch) -> None:
    config = tmp_path / "beltwatch.toml"
    config.write_text('retention_days = 30\nlog_batch_size = 100\nlog_overflow = "drop"\n')
    monkeypatch.setenv("BELTWATCH_RETENTION_DAYS", "10")
    settings = load_settings(config)
    assert settings.retention_days == 10  # environment
    assert settings.log_batch_size == 100  # file
    assert settings.log_overflow == "drop"  # file
    assert settings.partitions_ahead_days == 7  # default
    assert type(settings) is Settings


def test_config_file_from_environment_variable(tmp_path, monkeypatch) -> None:
    config = tmp_path / "b.toml"
    config.write_text("retention_days = 45\n")
    monkeypatch.setenv("BELTWATCH_CONFIG", str(config))
    assert load_settings().retention_days == 45


def test_every_bad_value_is_reported_at_once_naming_setting_and_form(monkeypatch) -> None:
    monkeypatch.setenv("BELTWATCH_LOG_BATCH_SIZE", "lots")
    monkeypatch.setenv("BELTWATCH_LOG_OVERFLOW", "explode")
    with pytest.raises(ConfigError) as caught:
        load_settings(retention_days=0)
    message = str(caught.value)
    assert "3 problem(s)" in message
    assert "log_batch_size (BELTWATCH_LOG_BATCH_SIZE)" in message and "valid integer" in message
    assert (
        "log_overflow (BELTWATCH_LOG_OVERFLOW)" in message
        and "'block', 'raise' or 'drop'" in message
    )
    assert (
        "retention_days (BELTWATCH_RETENTION_DAYS)" in message
        and "greater than or equal to 1" in message
    )


def test_unknown_setting_in_file_is_an_error(tmp_path) -> None:
    config = tmp_path / "b.toml"
    config.write_text("retention_dayz = 3\n")
    with pytest.raises(ConfigError, match=r"retention_dayz .*unknown setting"):
        load_settings(config)


def test_missing_or_broken_config_file_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_settings(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("retention_days = = 3\n")
    with pytest.raises(ConfigError, match=r"broken\.toml"):
        load_settings(broken)


def test_database_url_is_secret_and_never_echoed() -> None:
    url = "postgresql://beltwatch:hunter2@db.internal:5432/beltwatch"
    settings = load_settings(database_url=url)
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings)
    with pytest.raises(ConfigError) as caught:
        load_settings(database_url="mysql://beltwatch:hunter2@db/x")
    assert "hunter2" not in str(caught.value)
    assert "database_url (BELTWATCH_DATABASE_URL)" in str(caught.value)


def test_every_setting_is_documented_in_the_readme() -> None:
    documented = set(re.findall(r"`(BELTWATCH_[A-Z0-9_]+)`", README.read_text()))
    declared = {f"BELTWATCH_{name.upper()}" for name in Settings.model_fields}
    assert declared - documented == set(), "add these settings to README.md"
    assert documented - declared - {"BELTWATCH_CONFIG", "BELTWATCH_TEST_DATABASE_URL"} == set()
