"""Log lines the worker can stand behind: no secret, no forged line, no flood.

- `SecretFilter` rewrites a record's message before any handler prints it: credentials in
  a URL (`https://user:password@host`) become `***`, and the values of the worker's secret
  settings are replaced wherever they appear (a divert URL with a token in its path or
  query, which httpx logs in full at INFO).
- `shown(text)` escapes a client's string (station id, parcel id, file name) for a log
  line: a newline in a station id must not start a forged line.
- `Throttle` lets a repeated warning through once per interval, with the count it held back.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable

REDACTED = "***"
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^\s/@]+@")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
SHOWN_MAX_CHARS = 200  # a log line names a client string; it does not reproduce a large one


def shown(text: object) -> str:
    """`text` safe to put in one log line: control characters escaped (`\\n`), cut short."""
    value = str(text)
    if len(value) > SHOWN_MAX_CHARS:
        value = value[:SHOWN_MAX_CHARS] + f"...({len(value)} chars)"
    escaped = _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode(), value)
    # A name that is not UTF-8 arrives with surrogate escapes; show its bytes instead.
    return escaped.encode("utf-8", "backslashreplace").decode("utf-8")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with URL credentials and every one of `secrets` replaced by ***."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return _URL_CREDENTIALS.sub(rf"\g<scheme>{REDACTED}@", text)


class SecretFilter(logging.Filter):
    """Redacts secrets in every record that passes it (attach it to handlers: a filter on a
    logger does not see its children's records)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Longest first, so a URL is replaced whole before a password inside it.
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: let logging report it as it would
            return True
        safe = redact(message, self.secrets)
        if safe != message:
            record.msg, record.args = safe, None
        return True


def install_secret_filter(secrets: Iterable[str]) -> SecretFilter:
    """Attach one SecretFilter to every handler of the root logger and to the `httpx`
    logger (whose records reach handlers set up later, too); return it."""
    secret_filter = SecretFilter(secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(secret_filter)
    logging.getLogger("httpx").addFilter(secret_filter)
    return secret_filter


def remove_secret_filter(secret_filter: SecretFilter) -> None:
    """Undo install_secret_filter (the worker's tests build many workers in one process)."""
    for handler in logging.getLogger().handlers:
        handler.removeFilter(secret_filter)
    logging.getLogger("httpx").removeFilter(secret_filter)


class Throttle:
    """Logs a warning at most once per `interval_s` per key, saying how many it held back."""

    def __init__(self, logger: logging.Logger, interval_s: float = 10.0) -> None:
        self._log = logger
        self._interval_s = interval_s
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    def warning(self, key: str, message: str, *args: object) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(key, -self._interval_s) < self._interval_s:
                self._held[key] = self._held.get(key, 0) + 1
                return
            self._last[key] = now
            held = self._held.pop(key, 0)
        if held:
            message += " (%d more like this in the last %gs)"
            args = (*args, held, self._interval_s)
        self._log.warning(message, *args)
