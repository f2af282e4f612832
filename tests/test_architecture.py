"""The import rules of ARCHITECTURE.md, read from the code: every `import` and `from ...
import` of every module (including those inside functions) is checked against its room."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OURS = ("monitor", "inference", "dashboards")


def room(module: str) -> str:
    """The room a module (dotted name) belongs to."""
    parts = module.split(".")
    if parts[0] == "monitor":
        if len(parts) > 1 and parts[1] in ("core", "predlog", "cli"):
            return f"monitor.{parts[1]}"
        return "hourly"
    if parts[0] == "inference":
        return "training" if len(parts) > 1 and parts[1] == "training" else "inference"
    return parts[0]


# room -> the rooms (and outside packages) it must never import
FORBIDDEN = {
    "monitor.core": {"monitor.predlog", "hourly", "monitor.cli", "inference", "training", "torch"},
    "monitor.predlog": {"hourly", "monitor.cli", "inference", "training", "torch"},
    "hourly": {"monitor.predlog", "monitor.cli", "inference", "training", "torch"},
    "inference": {"hourly", "monitor.cli", "training", "torch", "torchvision"},
    "training": {"hourly", "monitor.cli"},
    "dashboards": {"inference", "training", "monitor.cli", "monitor.predlog", "torch"},
}


def modules() -> list[tuple[str, Path]]:
    found = []
    for top in OURS:
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found.append((name, path))
    return found


def imports_of(module: str, path: Path) -> set[str]:
    """The absolute names every import statement of the module refers to."""
    names: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                if node.module:
                    names.add(".".join([*base, node.module]))
                else:  # from . import rollup
                    names.update(".".join([*base, alias.name]) for alias in node.names)
            elif node.module:
                names.add(node.module)
    return names


def target(name: str) -> str:
    top = name.split(".")[0]
    return room(name) if top in OURS else top


def test_every_room_imports_only_what_architecture_md_allows() -> None:
    broken = []
    for module, path in modules():
        forbidden = FORBIDDEN.get(room(module), set())
        for name in sorted(imports_of(module, path)):
            if target(name) in forbidden:
                broken.append(f"{path.relative_to(ROOT)} ({room(module)}) imports {name}")
    assert not broken, "imports that break ARCHITECTURE.md:\n" + "\n".join(broken)


def test_vocabulary_imports_nothing_of_beltwatch() -> None:
    path = ROOT / "monitor" / "core" / "vocabulary.py"
    ours = {n for n in imports_of("monitor.core.vocabulary", path) if n.split(".")[0] in OURS}
    assert not ours


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    """The rule test can fail: a lazy import of inference inside the hourly monitor is found."""
    path = tmp_path / "hourly.py"
    path.write_text("def f():\n    from inference.worker import Worker\n    from . import rollup\n")
    names = imports_of("monitor.hourly", path)
    assert names == {"inference.worker", "monitor.rollup"}
    assert target("inference.worker") in FORBIDDEN["hourly"]


@pytest.mark.parametrize(
    "entry",
    ["inference.runner", "inference.sources.http", "inference.sources.directory"],
)
def test_the_worker_imports_neither_torch_nor_the_hourly_monitor(entry: str) -> None:
    """At run time too: importing the worker's entry points loads no torch, no Evidently
    and no hourly-monitor module."""
    code = (
        f"import sys, {entry}\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'evidently') "
        "or m in ('monitor.hourly', 'monitor.alerts', 'monitor.rules', 'monitor.dispatch'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""


def test_test_modules_have_unique_names() -> None:
    """tests/ is no package (pytest's default import mode): two test files with one name
    make the whole run stop at collection."""
    names = [path.name for path in (ROOT / "tests").rglob("test_*.py")]
    assert sorted(n for n in set(names) if names.count(n) > 1) == []
