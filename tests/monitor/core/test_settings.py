"""Settings: environment over TOML file over defaults; bad values named at start-up."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.core.exceptions import ConfigError
from monitor.core.settings import Settings, load_settings, unknown_variables

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


@pytest.fixture(scope="module")
def developer_shell() -> Iterator[str | None]:
    """Variables as a developer's shell may export them, set before any test fixture runs."""
    exported = {"BELTWATCH_RETENTION_DAYS": "3", "BELTWATCH_CONFIG": "/nowhere/beltwatch.toml"}
    os.environ.update(exported)
    yield os.environ.get("BELTWATCH_TEST_DATABASE_URL")
    for name in exported:
        os.environ.pop(name, None)


def test_the_developers_beltwatch_variables_never_reach_a_test(developer_shell) -> None:
    assert not {"BELTWATCH_RETENTION_DAYS", "BELTWATCH_CONFIG"} & set(os.environ)
    assert load_settings().retention_days == 90
    # The test server's URL is what the tests themselves need; it stays.
    assert os.environ.get("BELTWATCH_TEST_DATABASE_URL") == developer_shell


def test_default_model_is_the_shipped_int8_model() -> None:
    model = load_settings().model_path
    assert model.name == "beltcnn-int8.onnx" and model.is_file()
    assert model.with_suffix(".json").is_file()


def test_a_misspelled_variable_is_named_with_the_closest_setting(monkeypatch, caplog) -> None:
    monkeypatch.setenv("BELTWATCH_RETENTON_DAYS", "5")
    monkeypatch.setenv("BELTWATCH_SLACK_WEBHOOK", "https://hooks.slack.com/services/x")
    with caplog.at_level(logging.WARNING, logger="monitor.core.settings"):
        settings = load_settings()
    assert settings.retention_days == 90  # ignored, as pydantic-settings does...
    messages = [r.getMessage() for r in caplog.records]
    assert (  # ...but said at start-up
        "unknown environment variable BELTWATCH_RETENTON_DAYS is ignored; "
        "did you mean BELTWATCH_RETENTION_DAYS?"
    ) in messages
    assert any("BELTWATCH_SLACK_WEBHOOK is ignored; did you mean BELTWATCH_SLACK_WEBHOOK_URL?"
               in m for m in messages)  # fmt: skip
    assert not any("hooks.slack.com" in m for m in messages)  # the value is never shown


def test_known_and_other_beltwatch_variables_raise_no_warning() -> None:
    environ = {
        "BELTWATCH_RETENTION_DAYS": "5",
        "BELTWATCH_CONFIG": "x.toml",
        "BELTWATCH_TEST_DATABASE_URL": "postgresql://",
        "PATH": "/bin",
    }
    assert unknown_variables(environ) == []
    assert unknown_variables({"BELTWATCH_ZZZ": "1"}) == [("BELTWATCH_ZZZ", None)]
