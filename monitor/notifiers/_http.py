"""What the four notifiers share: config checks, one HTTP attempt and its verdict,
the one-attempt `send` skeleton, Retry-After, safe truncation, evidence flattening and
secret redaction.

Status table (Alertmanager's retrier, with reasons): 2xx DELIVERED/OK; 408 RETRY/TIMEOUT;
429 RETRY/RATE_LIMITED and 5xx RETRY/SERVER_ERROR, both with retry_after_s from any
Retry-After (seconds or HTTP-date); 400, 422 GIVE_UP/REJECTED; 401, 403 GIVE_UP/AUTH;
404, 410 GIVE_UP/NOT_FOUND; anything else, 3xx included (redirects are not followed),
GIVE_UP/UNEXPECTED.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import httpx
from pydantic import SecretStr

from monitor.core import urls
from monitor.core.exceptions import BeltwatchError
from monitor.notifiers.base import AlertNotice, Delivery, Message, Outcome, Reason

try:
    USER_AGENT = f"beltwatch/{version('beltwatch')}"
except PackageNotFoundError:  # running from a checkout that was never installed
    USER_AGENT = "beltwatch"
JSON_HEADERS = {"Content-Type": "application/json", "User-Agent": USER_AGENT}


class NotifierConfigError(BeltwatchError, ValueError):
    """A notifier setting is missing or malformed; the message never echoes a secret."""

    def __init__(self, setting: str, message: str) -> None:
        self.setting, self.message = setting, message
        super().__init__(f"{setting}: {message}")


def check_secret(setting: str, value: SecretStr | str | None, what: str) -> SecretStr:
    """A non-empty secret as SecretStr; `what` says where to find it."""
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    if raw is None or not raw.strip():
        raise NotifierConfigError(setting, f"missing; set it to {what}")
    if raw != raw.strip():
        raise NotifierConfigError(setting, "has leading or trailing whitespace; paste it again")
    return value if isinstance(value, SecretStr) else SecretStr(raw)


def check_url(
    setting: str, value: SecretStr | str | None, *, secret: bool, https_only: bool = True
) -> str:
    """The URL; http:// only to a loopback host (a local proxy, a test) unless https_only.
    The same rule Settings applies when it loads the value (monitor.core.urls)."""
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    try:
        return urls.check_url(raw, secret=secret, https_only=https_only)
    except ValueError as error:
        raise NotifierConfigError(setting, str(error)) from None


def check_timeout(setting: str, value: float | None) -> None:
    if value is not None and not (isinstance(value, int | float) and 0 < value < math.inf):
        raise NotifierConfigError(setting, f"expected a positive number of seconds (got {value!r})")


def check_text(setting: str, value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise NotifierConfigError(setting, "must not be empty")


def post(
    client: httpx.Client,
    url: str,
    body: bytes,
    *,
    headers: Mapping[str, str],
    timeout: float | None,
    secrets: Iterable[str],
) -> httpx.Response | Delivery:
    """POST the exact bytes once; a Delivery instead of a response when the network failed."""
    extra: dict[str, Any] = {"follow_redirects": False, "headers": dict(headers)}
    if timeout is not None:
        extra["timeout"] = timeout
    try:
        response = client.post(url, content=body, **extra)
    except httpx.TimeoutException as exc:
        return Delivery(Outcome.RETRY, Reason.TIMEOUT, detail=_failure("timed out", exc, secrets))
    except httpx.HTTPError as exc:  # TransportError and the rest: the request may not have landed
        failed = _failure("connection failed", exc, secrets)
        return Delivery(Outcome.RETRY, Reason.CONNECTION, detail=failed)
    return response


@dataclass(frozen=True)
class Request:
    """What one attempt sends: the URL, the exact body bytes and the headers."""

    url: str
    body: bytes
    headers: Mapping[str, str]


def send_once(
    notifier: str,
    logger: logging.Logger,
    message: Message,
    client: httpx.Client,
    *,
    prepare: Callable[[Message], Request],
    judge: Callable[[httpx.Response], Delivery],
    timeout: float | None,
    secrets: Iterable[str],
) -> Delivery:
    """The `send` every notifier shares: render the request (a payload that cannot be
    rendered is given up, never retried), POST it once, judge the answer, log the verdict."""
    try:
        request = prepare(message)
    except (KeyError, TypeError, ValueError) as exc:
        return logged(logger, notifier, message, unrenderable(exc))
    result = post(
        client, request.url, request.body, headers=request.headers, timeout=timeout, secrets=secrets
    )
    delivery = result if isinstance(result, Delivery) else judge(result)
    return logged(logger, notifier, message, delivery)


def _failure(what: str, exc: Exception, secrets: Iterable[str]) -> str:
    text = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
    return redact(f"{what} ({text})", secrets)[:300]


_BY_STATUS = {
    408: (Outcome.RETRY, Reason.TIMEOUT),
    429: (Outcome.RETRY, Reason.RATE_LIMITED),
    **dict.fromkeys((400, 422), (Outcome.GIVE_UP, Reason.REJECTED)),
    **dict.fromkeys((401, 403), (Outcome.GIVE_UP, Reason.AUTH)),
    **dict.fromkeys((404, 410), (Outcome.GIVE_UP, Reason.NOT_FOUND)),
}


def classify(status: int) -> tuple[Outcome, Reason]:
    """The status table of the module docstring."""
    if 200 <= status < 300:
        return Outcome.DELIVERED, Reason.OK
    if 500 <= status < 600:
        return Outcome.RETRY, Reason.SERVER_ERROR
    return _BY_STATUS.get(status, (Outcome.GIVE_UP, Reason.UNEXPECTED))


def verdict(
    response: httpx.Response,
    clock: Callable[[], float],
    *,
    detail: str = "",
    data: dict[str, Any] | None = None,
    override: tuple[Outcome, Reason] | None = None,
) -> Delivery:
    """The Delivery for a response; Retry-After is read on every retryable answer."""
    outcome, reason = override or classify(response.status_code)
    headers, retry_after = response.headers, None
    if outcome is Outcome.RETRY:
        retry_after = parse_retry_after(headers.get("Retry-After"), clock(), headers.get("Date"))
    status = response.status_code
    return Delivery(outcome, reason, status, retry_after, detail=detail, response=data or {})


def parse_retry_after(value: str | None, now: float, date: str | None = None) -> float | None:
    """Seconds to wait: delay-seconds, or an HTTP-date less the response's Date (else now)."""
    value = (value or "").strip()
    if value.isascii() and value.isdigit():
        return float(value)
    when = _http_date(value)
    if when is None:
        return None
    base = _http_date(date or "")
    return max(0.0, when - (now if base is None else base))


def _http_date(value: str) -> float | None:
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()  # "-0000": UTC


def json_body(response: httpx.Response) -> dict[str, Any]:
    try:
        return data if isinstance(data := response.json(), dict) else {}
    except ValueError:
        return {}


def excerpt(text: str, secrets: Iterable[str], limit: int = 200) -> str:
    """A response body fit for `detail`: one line, short, no URL or secret."""
    return truncate(" ".join(redact(text, secrets).split()), limit)


_URL = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s\"'<>]+")
_URL_PATH = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s\"'<>?#]+)[/?#][^\s\"'<>]*")


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every URL and every given secret (and its URL-encoded form) removed."""
    for secret in secrets:
        if secret:
            for form in (secret, quote(secret, safe=""), quote(secret)):
                text = text.replace(form, "<redacted>")
    return _URL.sub("<url>", text)


class _HideURLPaths(logging.Filter):
    """httpx logs each request's full URL at INFO; a Slack or webhook URL is a credential."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_hide_path(arg) for arg in record.args)
        elif isinstance(record.msg, str):
            record.msg = _hide_path(record.msg)
        return True


def _hide_path(value: Any) -> Any:
    value = str(value) if isinstance(value, httpx.URL) else value
    return _URL_PATH.sub(r"\1/…", value) if isinstance(value, str) else value


def guard_httpx_logging() -> None:
    """Strip paths and queries from the URLs httpx logs (idempotent; every notifier calls it)."""
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, _HideURLPaths) for f in logger.filters):
        logger.addFilter(_HideURLPaths())


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


def dashboard_link(dashboard_url: str | None, message: Message) -> str | None:
    """The dashboard page of this alert: dashboard_url plus alert= and fingerprint=."""
    if not dashboard_url:
        return None
    parts = urlsplit(dashboard_url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query.append(("alert", str(message.alert_id)))
    query.append(("fingerprint", message.payload.fingerprint))
    return urlunsplit(parts._replace(query=urlencode(query)))


def unrenderable(exc: Exception) -> Delivery:
    """A payload that cannot be rendered never will be: give up on it, keep the outbox moving."""
    detail = f"cannot render ({type(exc).__name__})"
    return Delivery(Outcome.GIVE_UP, Reason.REJECTED, detail=detail)


def logged(logger: logging.Logger, name: str, message: Message, delivery: Delivery) -> Delivery:
    """Log the verdict (the detail is already free of URLs and secrets) and return it."""
    id_, event, status = message.notification_id, message.event, delivery.status_code
    logger.debug(
        "%s: notification %s (%s) %s/%s status=%s %s",
        *(name, id_, event, delivery.outcome, delivery.reason, status, delivery.detail),
    )
    return delivery


def url_secrets(url: str) -> tuple[str, ...]:
    """A secret URL and its token-like parts (long paths, segments, query values)."""
    parts = urlsplit(url)
    rest = parts.path + (f"?{parts.query}" if parts.query else "")
    pieces = [rest, *parts.path.split("/"), *(value for _, value in parse_qsl(parts.query))]
    return (url, *(piece for piece in pieces if len(piece) >= 16))
