"""The Prometheus rules shipped for watching beltwatch itself (prometheus/): promtool finds
them valid and their unit tests pass, they name only metrics beltwatch exposes, and the
worker's and the monitor's real /metrics pass `promtool check metrics`.

promtool comes with Debian's `prometheus` package (CI installs it); without it these tests
skip, saying so."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY, generate_latest

import monitor.predlog.metrics  # noqa: F401 - registers the worker's log metrics
from monitor.dispatch import SENT
from monitor.metrics import DatabaseCollector, serving_metrics

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "prometheus" / "beltwatch-rules.yml"
RULE_TESTS = ROOT / "prometheus" / "beltwatch-rules.test.yml"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool not installed (Debian: apt-get install prometheus); rules not checked",
)


def promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *args], input=stdin, capture_output=True, text=True, timeout=120
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@needs_promtool
def test_promtool_finds_the_rules_valid() -> None:
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_the_rules_unit_tests_pass() -> None:
    result = promtool("test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rules_cover_the_monitor_the_outbox_and_the_worker() -> None:
    names = set(re.findall(r"^\s*- alert: (\w+)$", RULES.read_text(), re.M))
    assert {
        "BeltwatchMonitorNotRunning",
        "BeltwatchOutboxFailures",
        "BeltwatchWorkerLogBacklog",
        "BeltwatchWorkerDatabaseDown",
    } <= names


def _exposed_names(exposition: str) -> set[str]:
    return set(re.findall(r"^# TYPE (\S+)", exposition, re.M))


def test_every_metric_a_rule_names_is_one_beltwatch_exposes(engine, settings) -> None:
    """A renamed metric would leave its alert silently never firing."""
    SENT.labels("webhook", "retry", "server_error")  # a labelled counter shows once used
    REGISTRY.register(collector := DatabaseCollector(engine, settings))
    try:
        exposition = generate_latest(REGISTRY).decode()
    finally:
        REGISTRY.unregister(collector)
    exposed = _exposed_names(exposition) | {
        "beltwatch_predlog_pending_rows",  # present once a PredictionLog lives
        "beltwatch_predlog_db_up",
    }
    named = set(re.findall(r"\b(beltwatch_[a-z_]+)", RULES.read_text()))
    # Counters are exposed as `name` in TYPE lines and queried as `name_total`.
    missing = {n for n in named if n not in exposed and n.removesuffix("_total") not in exposed}
    assert not missing, f"rules name metrics nothing exposes: {sorted(missing)}"


@needs_promtool
def test_the_monitors_metrics_pass_promtool(engine, settings) -> None:
    s = settings.model_copy(update={"monitor_metrics_port": free_port()})
    with serving_metrics(engine, s) as port:  # the default registry: what `monitor run` serves
        exposition = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    assert "beltwatch_outbox_rows" in exposition
    result = promtool("check", "metrics", stdin=exposition)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
@pytest.mark.slow
def test_the_workers_metrics_pass_promtool(tmp_path, settings) -> None:
    """The real `beltwatch worker http` with the shipped model."""
    port = free_port()
    env = {
        **os.environ,
        "BELTWATCH_DATABASE_URL": settings.database_url.get_secret_value(),
        "BELTWATCH_DATA_DIR": str(tmp_path / "data"),
        "BELTWATCH_MODEL_PATH": str(ROOT / "models" / "beltcnn-int8.onnx"),
        "BELTWATCH_WORKER_PORT": str(port),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "worker", "http"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        exposition = _metrics_once_up(worker, f"http://127.0.0.1:{port}")
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    assert "beltwatch_predlog_pending_rows" in exposition
    result = promtool("check", "metrics", stdin=exposition)
    assert result.returncode == 0, result.stdout + result.stderr


def _metrics_once_up(process: subprocess.Popen, base: str) -> str:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                return httpx.get(f"{base}/metrics", timeout=5).text
        except httpx.TransportError:
            pass
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, "the worker did not start"
        time.sleep(0.2)
