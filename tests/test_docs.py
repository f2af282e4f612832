"""A user has only the repository: every document the code, the docs or `pyproject.toml`
names must be in it, and no file may point outside it (a design note, a team folder)."""

from __future__ import annotations

import functools
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# A document named in text: `models/README.md`, ARCHITECTURE.md, ../x/NOTES.md.
_DOC_NAME = re.compile(r"(?<![\w/.-])((?:\.\.?/)?[\w./-]*[\w-]\.md)\b")
# A Markdown link's target: [text](target).
_LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")
_TEXT_SUFFIXES = {".py", ".md", ".toml", ".cfg", ".ini", ".yml", ".yaml", ".txt", ""}


@functools.cache
def _tracked_text_files() -> tuple[Path, ...]:
    listed = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return tuple(
        ROOT / name
        for name in listed
        if Path(name).suffix in _TEXT_SUFFIXES and (ROOT / name).is_file()
    )


def _resolves(name: str, source: Path) -> bool:
    """Relative to the naming file's folder or to the repository's root; a bare name (a
    file a command writes, `evaluation.md`) may be any tracked file of that name."""
    for base in (source.parent, ROOT):
        target = (base / name).resolve()
        if target.is_file() and target.is_relative_to(ROOT):
            return True
    return "/" not in name and any(path.name == name for path in _tracked_text_files())


def _named_documents() -> list[tuple[Path, str]]:
    found = []
    for path in _tracked_text_files():
        if path == Path(__file__).resolve():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        names = set(_DOC_NAME.findall(text))
        if path.suffix == ".md":
            names |= {target for target in _LINK.findall(text) if "://" not in target}
        found += [(path, name) for name in sorted(names)]
    return found


def test_the_scan_finds_documents() -> None:
    """The check below cannot pass by finding nothing."""
    names = {name for _, name in _named_documents()}
    assert {"ARCHITECTURE.md", "README.md", "models/README.md"} <= names


@pytest.mark.parametrize(
    ("source", "name"),
    [pytest.param(s, n, id=f"{s.relative_to(ROOT)}:{n}") for s, n in _named_documents()],
)
def test_every_named_document_is_in_the_repository(source: Path, name: str) -> None:
    where = "outside the repository" if name.startswith("../") else "not in the repository"
    assert _resolves(name, source), f"{source.relative_to(ROOT)} names {name}: {where}"


def test_no_file_points_at_the_team_folder() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in _tracked_text_files()
        if path != Path(__file__).resolve()
        and re.search(
            r"\.\./shared\b|\bDESIGN\.md|\bNOTES\.md|\bSTYLE\.md",
            path.read_text("utf-8", "replace"),
        )
    ]
    assert offenders == []
