"""Drift reports are kept `reports_retention_days`: `db partitions --prune` deletes each
older hour's folder of reports with the predictions' old partitions, and nothing else."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.cli import app
from monitor.core.db import partitions
from monitor.core.settings import Settings, load_settings

runner = CliRunner()


@pytest.mark.parametrize(
    ("name", "day"),
    [
        ("20261124T13Z", date(2026, 11, 24)),
        ("20261124T00Z", date(2026, 11, 24)),
        ("20261124T23Z", date(2026, 11, 24)),
        ("20261124T24Z", None),  # no such hour
        ("20261340T10Z", None),  # no such day
        ("20261124", None),
        ("index.html", None),
        ("js", None),
    ],
)
def test_an_hour_folder_is_known_by_its_name(name: str, day: date | None) -> None:
    assert partitions.report_folder_day(name) == day


def test_only_hour_folders_before_the_cutoff_expire() -> None:
    names = ["20261124T13Z", "20261123T23Z", "20261125T00Z", "20260101T05Z", "notes", "js"]
    assert partitions.expired_report_folders(names, date(2026, 11, 24)) == [
        "20260101T05Z",
        "20261123T23Z",
    ]
    assert partitions.expired_report_folders(names, date(2026, 1, 1)) == []


def _report(root: Path, folder: str, name: str = "lens_drift-S1.html") -> Path:
    path = root / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("<html>report</html>")
    return path


def test_prune_deletes_old_hours_and_nothing_else(tmp_path: Path) -> None:
    root = tmp_path / "reports"
    old = _report(root, "20261101T08Z")
    _report(root, "20261101T08Z", "class_drift-S2.html")
    kept = _report(root, "20261124T13Z")
    mine = _report(root, "notes")  # a folder of the operator's
    (root / "README.txt").write_text("served by nginx")
    outside = _report(tmp_path / "elsewhere", "20261101T09Z")
    (root / "20261101T09Z").symlink_to(outside.parent)  # a link is never followed

    deleted = partitions.prune_reports(root, date(2026, 11, 24))

    assert deleted == ["20261101T08Z"]
    assert not old.parent.exists()
    assert kept.is_file() and mine.is_file() and (root / "README.txt").is_file()
    assert outside.is_file()


def test_prune_without_a_reports_folder_does_nothing(tmp_path: Path) -> None:
    assert partitions.prune_reports(tmp_path / "never-made", date(2026, 11, 24)) == []


def test_reports_are_kept_as_long_as_predictions_by_default() -> None:
    fields = Settings.model_fields
    assert fields["reports_retention_days"].default == fields["retention_days"].default == 90
    assert load_settings(reports_retention_days="2w").reports_retention_days == 14


def test_db_partitions_prune_deletes_reports_past_their_retention(db_url, tmp_path) -> None:
    today = datetime.now(UTC).date()
    root = tmp_path / "data" / "reports"

    def hour(days_ago: int) -> str:
        return f"{today - timedelta(days=days_ago):%Y%m%d}T12Z"

    expired = [_report(root, hour(10)), _report(root, hour(8))]
    kept = [_report(root, hour(7)), _report(root, hour(0))]
    env = {
        "BELTWATCH_DATABASE_URL": db_url.render_as_string(hide_password=False),
        "BELTWATCH_DATA_DIR": str(tmp_path / "data"),
        "BELTWATCH_REPORTS_RETENTION_DAYS": "8d",  # today and the 7 days before it
    }

    listed = runner.invoke(app, ["db", "partitions"], env=env)
    assert listed.exit_code == 0, listed.output
    assert all(path.is_file() for path in expired + kept)  # only --prune deletes

    result = runner.invoke(app, ["db", "partitions", "--prune"], env=env)
    assert result.exit_code == 0, result.output
    assert not any(path.exists() for path in expired)
    assert all(path.is_file() for path in kept)
    assert f"deleted the drift reports of 2 hour(s): {hour(10)} .. {hour(8)}" in result.output
    assert "(retention 8 days)" in result.output
    assert sorted(os.listdir(root)) == sorted([hour(7), hour(0)])
