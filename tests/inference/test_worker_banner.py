"""The worker's daemons say at start, without -v, where they listen or which folders they
watch, their model, their database (password masked) and their spool; `worker dir` ends
with what went to done/ and what to failed/ (issue 15, items 3 and 10)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from onnx_models import colour_model
from sqlalchemy import make_url
from test_worker import png
from typer.testing import CliRunner

from monitor.cli import app

FAKE_PASSWORD = "s3cret-pw"  # the test server trusts local connections: any password works


def worker_env(tmp_path, settings) -> tuple[dict[str, str], str]:
    """The worker's environment, its database URL carrying a password; and that password."""
    url = make_url(settings.database_url.get_secret_value())
    if not url.password:
        url = url.set(password=FAKE_PASSWORD)
    env = {
        "BELTWATCH_DATABASE_URL": url.render_as_string(hide_password=False),
        "BELTWATCH_DATA_DIR": str(tmp_path / "data"),
        "BELTWATCH_MODEL_PATH": str(colour_model(tmp_path)),
        "BELTWATCH_LOG_RETRY_INITIAL_S": "0.05",
    }
    return env, str(url.password)


def assert_worker_lines(output: str, tmp_path, password: str) -> None:
    assert f"model colour-1, input 32x32, from {tmp_path / 'colour.onnx'}" in output
    assert "database postgresql+psycopg://" in output and ":***@" in output
    assert f"spool {tmp_path / 'data' / 'spool'}" in output
    assert password not in output


def test_worker_dir_says_its_folders_model_database_and_counts_done_and_failed_apart(
    tmp_path, settings
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    now = datetime.now(UTC) - timedelta(minutes=1)  # inside the capture window
    for name in (f"dock-1__P1__{now:%Y%m%dT%H%M%S}Z.png", "dock-3.png", "Screenshot (2).png"):
        (inbox / name).write_bytes(png("green"))
        os.utime(inbox / name, (now.timestamp(), now.timestamp()))  # settled
    env, password = worker_env(tmp_path, settings)
    env["BELTWATCH_WORKER_BATCHES_IN_FLIGHT"] = "2"

    result = CliRunner().invoke(app, ["worker", "dir", str(inbox), "--once"], env=env)

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"beltwatch worker dir: watching {inbox} (once)" in out
    assert f"done -> {inbox / 'done'}, failed -> {inbox / 'failed'}" in out
    threads = max(1, (os.cpu_count() or 1) // 2)  # the two batches share the cores
    on = "1 thread" if threads == 1 else f"{threads} threads"
    assert f"2 batches of up to 8 frames at once, the model on {on} each" in out
    assert_worker_lines(out, tmp_path, password)
    assert out.rstrip().endswith("processed 3 frames: 2 done, 1 failed (moved to failed/)")
    assert (inbox / "failed" / "Screenshot (2).png.error.txt").exists()


@pytest.mark.slow
def test_worker_http_says_its_address_model_database_and_spool_once_listening(
    tmp_path, settings
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env, password = worker_env(tmp_path, settings)
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "worker", "http", "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines, deadline = [], time.monotonic() + 60
        while not any(line.startswith("spool ") for line in lines):
            line = process.stdout.readline()  # typer.echo flushes each line
            assert line or process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, f"no banner: {lines}"
            lines.append(line)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    banner = "".join(lines)
    assert lines[0] == (
        f"beltwatch worker http: listening on http://127.0.0.1:{port}; "
        "no token: image routes are open\n"
    )
    assert_worker_lines(banner, tmp_path, password)
    assert password not in out + err
