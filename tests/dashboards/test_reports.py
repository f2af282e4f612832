"""An alert's Evidently drift report on the Alerts page: embedded when the operator asks,
and only from inside reports_dir (the file name comes from the database)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from conftest import open_page, point_app_at
from sqlalchemy import text

from dashboards.reports import report_path
from monitor.core.settings import load_settings

ALERTS = "views/alerts.py"


def test_the_drift_report_is_embedded_when_asked(seeded, module_settings, monkeypatch) -> None:
    url, engine = seeded
    with engine.connect() as conn:
        alert_id, report = conn.execute(
            text("SELECT id, evidence->>'report' FROM alerts WHERE fingerprint = 'lens_drift:S1'")
        ).one()
    assert Path(report).is_file()
    point_app_at(monkeypatch, url, data_dir=str(module_settings.data_dir))
    app = open_page(ALERTS)
    app.date_input(key="range").set_value((date(2026, 11, 23), date(2026, 11, 25))).run()
    toggle = app.toggle(key=f"report-{alert_id}")
    assert toggle.value is False
    assert not app.get("iframe")  # megabytes of report only on demand
    toggle.set_value(True).run()
    assert not app.exception
    [frame] = app.get("iframe")
    assert frame.proto.srcdoc == Path(report).read_text()  # the very report, whole


def test_a_report_outside_reports_dir_is_never_served(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    inside = settings.effective_reports_dir / "20261124T03Z" / "lens_drift-S1.html"
    assert report_path(settings, {"report": str(inside)}) == inside.resolve()
    for name in ("/etc/passwd", str(settings.effective_reports_dir / ".." / "secrets.toml"), ""):
        assert report_path(settings, {"report": name}) is None
    assert report_path(settings, {"report": 42}) is None
    assert report_path(settings, None) is None
