"""What the four notifiers share on the wire: config checks, the one-attempt `send`
skeleton, the verdict of an answer, Retry-After and secret redaction (what their
renderers share is in _render).

Status table (Alertmanager's retrier, with reasons): 2xx DELIVERED/OK; 408 RETRY/TIMEOUT;
429 RETRY/RATE_LIMITED and 5xx RETRY/SERVER_ERROR, both with retry_after_s from any
Retry-After (seconds or HTTP-date); 400, 422 GIVE_UP/REJECTED; 401, 403 GIVE_UP/AUTH;
404, 410 GIVE_UP/NOT_FOUND; anything else, 3xx included (redirects are not followed),
GIVE_UP/UNEXPECTED.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import httpx
from pydantic import SecretStr

from monitor.core import urls
from monitor.core.exceptions import BeltwatchError
from monitor.notifiers._render import truncate
from monitor.notifiers.base import Delivery, Message, Outcome, Reason

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


class HttpNotifier:
    """What every HTTP receiver shares: its channel name, the secrets its errors must never
    show, a clock (Retry-After dates, signatures), and `send`: one attempt through
    `send_once`. A receiver says how to build its request and how to read the answer."""

    sends_resolved = True

    def __init__(
        self,
        config: Any,
        *,
        name: str,
        secrets: Iterable[str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.name = name
        self._clock = clock
        self._secrets = tuple(secret for secret in secrets if secret)
        self._log = logging.getLogger(type(self).__module__)
        guard_httpx_logging()

    def send(self, message: Message, client: httpx.Client) -> Delivery:
        """One POST of the rendered message; the verdict of the receiver's answer."""
        return send_once(
            self.name,
            self._log,
            message,
            client,
            prepare=self._request,
            judge=self._verdict,
            timeout=self.config.timeout_s,
            secrets=self._secrets,
        )

    def _request(self, message: Message) -> Request:
        raise NotImplementedError

    def _verdict(self, response: httpx.Response) -> Delivery:
        """The status table's verdict; a failure's detail names the receiver, the status
        and an excerpt of the answer (secrets redacted). Receivers whose answers say more
        (Slack, PagerDuty, Opsgenie) read them themselves."""
        detail = "" if response.is_success else f"{self.name}: {response.status_code}"
        if detail and response.text.strip():
            detail += f" {excerpt(response.text, self._secrets)}"
        return verdict(response, self._clock, detail=detail)


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
