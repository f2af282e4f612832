"""What the four notifiers' renderers share: pure functions from an alert notice to text
within a service's limits (UTF-16 widths, cuts that never split a character, bounded keys
and evidence, times for people and for machines, the dashboard link). No I/O here."""

from __future__ import annotations

import hashlib
import json
import math
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from monitor.notifiers.base import AlertNotice


def width(text: str) -> int:
    """UTF-16 code units (as JavaScript and Java count): never fewer than code points."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _joins_previous(ch: str) -> bool:
    code = ord(ch)
    return (
        unicodedata.category(ch) in ("Mn", "Mc", "Me")  # combining marks, variation selectors
        or code == 0x200D  # zero-width joiner
        or 0x1F3FB <= code <= 0x1F3FF  # skin-tone modifiers
        or 0xE0020 <= code <= 0xE007F  # tag characters (subdivision flags)
    )


def truncate(text: str, limit: int, marker: str = "…") -> str:
    """`text` within `limit` UTF-16 units, `marker` ending a cut; never splits a character,
    a combining sequence, an emoji ZWJ sequence or a flag."""
    if width(text) <= limit:
        return text
    budget, used, cut = limit - width(marker), 0, 0
    for ch in text:
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > budget:
            break
        cut += 1
    while 0 < cut < len(text) and (_joins_previous(text[cut]) or text[cut - 1] == "\u200d"):
        cut -= 1
    regional = 0
    while regional < cut and 0x1F1E6 <= ord(text[cut - 1 - regional]) <= 0x1F1FF:
        regional += 1
    if regional % 2 and cut < len(text) and 0x1F1E6 <= ord(text[cut]) <= 0x1F1FF:
        cut -= 1  # do not split a flag (a pair of regional indicators)
    return text[:cut].rstrip() + marker


def bounded_key(key: str, limit: int) -> str:
    """`key` if it fits, else a prefix and a hash: still unique, and the same every time."""
    if len(key) <= limit:
        return key
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    return f"{key[: limit - 17]}~{digest}"


def fmt_value(value: Any) -> str:
    """A value for people: 4 significant figures, yes/no."""
    if isinstance(value, bool) or value is None:
        return {True: "yes", False: "no", None: "none"}[value]
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def flatten(evidence: Mapping[str, Any], max_list: int = 10) -> list[tuple[str, str]]:
    """("signals.sharpness.shift_sd", "-4.2") pairs in order; short lists of scalars are
    joined, longer ones (samples, histograms) left out."""
    pairs: list[tuple[str, str]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), item)
        elif isinstance(value, list | tuple):
            if len(value) > max_list:
                return
            if all(not isinstance(item, Mapping | list | tuple) for item in value):
                pairs.append((prefix, ", ".join(fmt_value(item) for item in value) or "none"))
            else:
                for index, item in enumerate(value):
                    walk(f"{prefix}.{index}", item)
        else:
            pairs.append((prefix, fmt_value(value)))

    walk("", evidence)
    return pairs


def jsonable(value: Any) -> Any:
    """Plain JSON data: NaN and infinities (invalid JSON) become strings, so do odd types."""
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    finite = isinstance(value, float) and math.isfinite(value)
    return value if value is None or finite or isinstance(value, str | int | bool) else str(value)


def dumps(body: Any) -> bytes:
    """The exact bytes sent (and signed): compact UTF-8 JSON."""
    text = json.dumps(jsonable(body), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.encode("utf-8")


def bounded_evidence(evidence: Mapping[str, Any], max_bytes: int) -> dict[str, Any]:
    """The evidence as is if its JSON fits, else its flattened pairs that fit."""
    if len(dumps(evidence)) <= max_bytes:
        return dict(evidence)
    kept: dict[str, Any] = {"truncated": True}
    used = len(dumps(kept))
    for key, value in flatten(evidence):
        size = len(dumps({key: value}))
        if used + size > max_bytes:
            break
        kept[key], used = value, used + size
    return kept


def station(notice: AlertNotice) -> str:
    """The station, or "site" for a site-wide alert (as the rules' summaries say)."""
    return notice.station_id or "site"


def summary_of(notice: AlertNotice) -> str:
    """The alert's one line; never blank (PagerDuty, Opsgenie and Slack refuse a blank one)."""
    return notice.summary.strip() or f"{station(notice)}: {notice.rule}"


def parse_time(value: Any) -> datetime | None:
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def rfc3339(value: Any) -> str | None:
    moment = parse_time(value)
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def human_time(value: Any) -> str:
    moment = parse_time(value)
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "unknown time"


def lasted(started_at: Any, resolved_at: Any) -> str | None:
    """How long the episode lasted ("3 h", "1 d 4 h", "45 min"), None if unknown."""
    start, end = parse_time(started_at), parse_time(resolved_at)
    if start is None or end is None or end < start:
        return None
    minutes = round((end - start).total_seconds() / 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} d" * bool(days), f"{hours} h" * bool(hours), f"{mins} min" * bool(mins)]
    return " ".join(part for part in parts if part) or "under a minute"


def dashboard_link(dashboard_url: str | None, notice: AlertNotice) -> str | None:
    """The dashboard page of this alert: dashboard_url plus alert= and fingerprint=."""
    if not dashboard_url:
        return None
    parts = urlsplit(dashboard_url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query.append(("alert", str(notice.alert_id)))
    query.append(("fingerprint", notice.fingerprint))
    return urlunsplit(parts._replace(query=urlencode(query)))
