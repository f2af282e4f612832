"""The wheel carries every package and the migration environment, so `beltwatch db upgrade`
works from an install as well as from a checkout."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_pyproject_lists_every_package_of_the_tree() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for top in ("monitor", "inference", "dashboards")
        for path in (ROOT / top).rglob("__init__.py")
    }
    mapped = set(config["package-dir"])
    assert set(config["packages"]) == on_disk | mapped
    assert config["package-dir"]["monitor.core.db.migrations"] == "alembic"


@pytest.mark.slow
def test_installed_wheel_finds_its_migrations(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(tmp_path / "dist"), str(ROOT)],
        check=True, capture_output=True,
    )  # fmt: skip
    wheel = next((tmp_path / "dist").glob("beltwatch-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "monitor/core/db/migrations/env.py" in names
    assert any(n.startswith("monitor/core/db/migrations/versions/") for n in names)
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
         str(wheel)],
        check=True, capture_output=True,
    )  # fmt: skip
    # Run from elsewhere, with the installed copy first on the path (not the checkout).
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from monitor.core.db import migrate;"
        "print(migrate.script_location()); print(migrate.head())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(target)],
        cwd=tmp_path, check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    assert Path(out[0]) == target / "monitor" / "core" / "db" / "migrations"
    assert out[1]
