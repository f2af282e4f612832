"""`beltwatch settings`: effective values with secrets masked, and the README's settings
table generated from the declarations (so the two cannot drift)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from monitor.cli.settings import MASK, markdown_table, readable
from monitor.core.settings import Settings

ROOT = Path(__file__).parents[3]
README = ROOT / "README.md"

runner = CliRunner()


def _readme_table() -> str:
    text = README.read_text()
    match = re.search(
        r"<!-- settings-table:start -->\n(.*?)<!-- settings-table:end -->", text, re.S
    )
    assert match, "README.md lacks the settings-table markers"
    return match.group(1)


def _defaults(table: str) -> dict[str, str]:
    cells = (line.split(" | ") for line in table.splitlines()[2:])
    return {row[0].strip("|` "): row[1] for row in cells}


def test_readme_settings_table_is_the_generated_one() -> None:
    # On failure: `beltwatch settings --markdown`, pasted between the README's markers.
    assert _readme_table() == markdown_table()


def test_markdown_option_prints_the_generated_table() -> None:
    result = runner.invoke(app, ["settings", "--markdown"])
    assert result.exit_code == 0, result.output
    assert result.output == markdown_table()


def test_every_setting_has_a_description_and_one_row() -> None:
    assert all(field.description for field in Settings.model_fields.values())
    assert len(markdown_table().splitlines()) == 2 + len(Settings.model_fields)


def test_defaults_read_as_a_person_writes_them() -> None:
    defaults = _defaults(markdown_table())
    assert defaults["BELTWATCH_LOG_SPOOL_MAX_BYTES"] == "2 GiB"
    assert defaults["BELTWATCH_WORKER_MAX_IMAGE_BYTES"] == "20 MiB"
    assert defaults["BELTWATCH_SPOOL_DIR"] == "`<data_dir>/spool`"
    assert defaults["BELTWATCH_IMAGE_STORE_DIR"] == "`<data_dir>/images`"
    assert defaults["BELTWATCH_DATA_DIR"] == "the user data dir (`~/.local/share/beltwatch`)"
    assert defaults["BELTWATCH_MODEL_PATH"].startswith("`models/beltcnn-int8.onnx`")
    assert defaults["BELTWATCH_DATABASE_URL"] == "unset"
    assert defaults["BELTWATCH_CRITICAL_RATE_STATION_THRESHOLDS"] == "`{}`"
    assert defaults["BELTWATCH_ALERT_ROUTES"] == "`[]`"
    assert defaults["BELTWATCH_LOG_OVERFLOW"] == "`block`"
    assert defaults["BELTWATCH_SLACK_SEND_RESOLVED"] == "false"
    assert defaults["BELTWATCH_CRITICAL_RATE_ALPHA"] == "1e-05"
    assert defaults["BELTWATCH_DRIFT_TEST_ALPHA"] == "0.001"
    assert defaults["BELTWATCH_NOTIFY_BACKOFF_MAX_S"] == "1800"


@pytest.mark.parametrize(
    ("name", "value", "text"),
    [
        ("log_spool_max_bytes", 2 * 1024**3, "2 GiB"),
        ("log_segment_max_bytes", 64 * 1024, "64 KiB"),
        ("log_segment_max_bytes", 1_500_000, "1500000 bytes"),
        ("log_batch_size", 5000, "5000"),
        ("cusum_h", 5.0, "5"),
        ("critical_rate_threshold", 0.1, "0.1"),
        ("spool_dir", None, "unset"),
        ("slack_send_resolved", True, "true"),
        ("critical_rate_station_thresholds", {"dock-3": 0.15}, '{"dock-3": 0.15}'),
    ],
)
def test_a_value_is_rendered_readably(name, value, text) -> None:
    assert readable(name, value) == text


def test_settings_show_each_effective_value_and_where_it_came_from(tmp_path) -> None:
    config = tmp_path / "beltwatch.toml"
    config.write_text("retention_days = 30\nlog_batch_size = 100\n")
    env = {"BELTWATCH_LOG_BATCH_SIZE": "250", "BELTWATCH_DATA_DIR": str(tmp_path / "data")}
    result = runner.invoke(app, ["--config", str(config), "settings", "--json"], env=env)
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["log_batch_size"] == {
        "env": "BELTWATCH_LOG_BATCH_SIZE",
        "value": 250,
        "source": "env",
    }
    assert shown["retention_days"]["value"] == 30 and shown["retention_days"]["source"] == "file"
    assert shown["cusum_k"]["value"] == 1.0 and shown["cusum_k"]["source"] == "default"
    # A folder left unset shows where it really is.
    assert shown["spool_dir"]["value"] == str(tmp_path / "data" / "spool")

    table = runner.invoke(app, ["--config", str(config), "settings"], env=env)
    assert table.exit_code == 0, table.output
    assert re.search(r"log_batch_size\s+250\s+env", table.output)
    assert re.search(r"log_spool_max_bytes\s+2 GiB\s+default", table.output)


SECRETS = {
    "BELTWATCH_DATABASE_URL": "postgresql://bw:db-Pa55word@db.internal:5432/beltwatch",
    "BELTWATCH_WORKER_TOKEN": "worker-t0ken",
    "BELTWATCH_DIVERT_URL": "https://plc:divert-pw@plc.internal/divert",
    "BELTWATCH_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/slack-s3cret",
    "BELTWATCH_PAGERDUTY_ROUTING_KEY": "pd-r0uting-key",
    "BELTWATCH_OPSGENIE_API_KEY": "genie-k3y",
    "BELTWATCH_WEBHOOK_URL": "https://hooks.example.com/hook-s3cret",
    "BELTWATCH_WEBHOOK_SECRET": "whsec_c2VjcmV0LXNpZ25pbmc=",
}
SECRET_PARTS = [
    "db-Pa55word",
    "worker-t0ken",
    "divert-pw",
    "slack-s3cret",
    "pd-r0uting-key",
    "genie-k3y",
    "hook-s3cret",
    "c2VjcmV0LXNpZ25pbmc",
]


def test_no_secret_reaches_any_form_of_the_settings_output() -> None:
    outputs = [
        runner.invoke(app, ["settings", *option], env=SECRETS) for option in ([], ["--json"])
    ]
    for result in outputs:
        assert result.exit_code == 0, result.output
        for part in SECRET_PARTS:
            assert part not in result.output
    shown = json.loads(outputs[1].output)
    # The database URL keeps what helps a reader; every other secret is masked whole.
    assert shown["database_url"]["value"] == "postgresql://bw:***@db.internal:5432/beltwatch"
    assert shown["slack_webhook_url"]["value"] == MASK
    assert shown["webhook_secret"]["value"] == MASK
    assert shown["worker_token"]["source"] == "env"
    assert "postgresql://bw:***@db.internal:5432/beltwatch" in outputs[0].output


def test_markdown_and_json_exclude_each_other() -> None:
    result = runner.invoke(app, ["settings", "--markdown", "--json"])
    assert result.exit_code == 2


def test_ci_runs_exactly_the_readmes_test_command() -> None:
    readme = README.read_text()
    command = re.search(r"Run the tests.*?```sh\n(.*?)\n```", readme, re.S)
    assert command and "ruff check . && .venv/bin/ruff format --check ." in command.group(1)
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert command.group(1) in ci_lines
