"""Errors raised by the monitor package. Each carries its data and says what to do."""

from __future__ import annotations


class BeltwatchError(Exception):
    """Base class for every error beltwatch raises on purpose."""


class ConfigError(BeltwatchError):
    """One or more settings are invalid; `problems` lists each as (setting, message)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {setting}: {message}" for setting, message in problems)
        super().__init__(f"invalid configuration ({len(problems)} problem(s)):\n{lines}")


class InvalidRecord(BeltwatchError, ValueError):
    """A prediction record failed validation; `field` names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"invalid prediction record: {field}: {message}")


class PredictionLogFull(BeltwatchError):
    """The prediction log cannot take another record now (backlog or spool disk full)."""


class PredictionLogClosed(BeltwatchError):
    """log() was called after close()."""


class SpoolLocked(BeltwatchError):
    """Another process already owns this spool directory."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(
            f"spool directory {path} is in use by another process; give each worker its own "
            "BELTWATCH_SPOOL_DIR"
        )


class DatabaseError(BeltwatchError):
    """The database could not be reached or prepared; the message says which and why."""


class HourNotClosed(BeltwatchError, ValueError):
    """An hour was asked for that has not closed yet: its data is still arriving, and an
    episode opened there could never be resolved by real traffic (episodes only move
    forward). `last_closed` is the latest hour that may be processed."""

    def __init__(self, hour: object, last_closed: object) -> None:
        self.hour, self.last_closed = hour, last_closed
        super().__init__(
            f"{_iso(hour)} has not closed yet: the latest hour that can be processed is "
            f"{_iso(last_closed)}"
        )


def _iso(moment: object) -> str:
    strftime = getattr(moment, "strftime", None)
    return strftime("%Y-%m-%dT%H:%MZ") if strftime else str(moment)
