"""Slack incoming webhook: one Block Kit message per notification, within Slack's limits.

The webhook URL is Slack's credential (whoever holds it can post to the channel), so it is
a SecretStr that never reaches a log line or an error. Slack answers 200 with the body
"ok"; 400 (invalid_payload), 403 (action_prohibited), 404 (channel_not_found) and 410
(channel_is_archived) are permanent; 429 carries Retry-After (about one message a second
per channel). Incoming webhooks take no idempotency key: a retry after a timeout can post
twice. Resolves go out only with send_resolved (Alertmanager's default is not to send them).

Block Kit limits (docs.slack.dev, reference/block-kit/blocks): 50 blocks a message; a
header's plain_text 150 characters; section text 3000; at most 10 fields of 2000 each; a
context block at most 10 elements. `text` is always sent: notifications show it. In mrkdwn
&, < and > are control characters and are escaped, so no station name can @-mention.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from monitor.core.settings import Settings
from monitor.notifiers._http import (
    JSON_HEADERS,
    HttpNotifier,
    Request,
    check_secret,
    check_timeout,
    check_url,
    excerpt,
    json_body,
    url_secrets,
    verdict,
)
from monitor.notifiers._render import (
    dashboard_link,
    dumps,
    flatten,
    human_time,
    lasted,
    station,
    summary_of,
    truncate,
    width,
)
from monitor.notifiers.base import Delivery, Message, Outcome, Reason, Receiver

HEADER_MAX = 150
SECTION_MAX = 3000
FIELD_MAX = 2000
FIELDS_MAX = 10
CONTEXT_MAX = 10
BLOCKS_MAX = 50
TEXT_MAX = 3000  # Slack keeps 40,000; a notification needs far less
_ICONS = {
    "critical": ":red_circle:",
    "warning": ":large_orange_circle:",
    "info": ":large_blue_circle:",
}
# Evidence shown elsewhere in the message, not as a field.
_NOT_FIELDS = {"headline", "provisional_reference"}


@dataclass(frozen=True)
class SlackConfig:
    """One Slack channel's incoming webhook."""

    webhook_url: SecretStr
    send_resolved: bool = False
    dashboard_url: str | None = None
    timeout_s: float | None = None  # None: the client's timeout

    def __post_init__(self) -> None:
        url = check_secret(
            "slack_webhook_url",
            self.webhook_url,
            "the incoming-webhook URL Slack gave you (https://hooks.slack.com/services/...)",
        )
        check_url("slack_webhook_url", url, secret=True)
        object.__setattr__(self, "webhook_url", url)
        if self.dashboard_url is not None:
            check_url("dashboard_url", self.dashboard_url, secret=False, https_only=False)
        check_timeout("slack_timeout_s", self.timeout_s)


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn(text: str, limit: int) -> str:
    """`text` escaped for mrkdwn and cut to `limit` after escaping (never inside an entity)."""
    escaped, budget = escape(text), limit
    while width(escaped) > limit:
        budget -= width(escaped) - limit
        escaped = escape(truncate(text, budget))
    return escaped


def render(message: Message, config: SlackConfig) -> dict[str, Any]:
    """The webhook body: {text, blocks} (header, summary, evidence fields, context, link)."""
    notice = message.payload
    who, rule, severity = station(notice), notice.rule, notice.severity
    summary = summary_of(notice)
    link = dashboard_link(config.dashboard_url, message.payload)
    started = human_time(notice.started_at)

    if message.event == "resolve":
        took = lasted(notice.started_at, notice.resolved_at)
        title = f":white_check_mark: RESOLVED · {truncate(who, 60)} · {rule}"
        body = f"*Resolved* after {took}. It was: {summary}" if took else f"*Resolved.* {summary}"
        fallback = f"RESOLVED after {took}: {summary}" if took else f"RESOLVED: {summary}"
    else:
        icon = _ICONS.get(severity, ":white_circle:")
        state = {"repeat": " (still firing)", "test": " (test)"}.get(message.event, "")
        title = f"{icon} {severity.upper()}{state} · {truncate(who, 60)} · {rule}"
        body = summary if message.event != "repeat" else f"{summary}\n_Firing since {started}._"
        fallback = f"{severity.upper()}{state}: {summary}"

    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": truncate(title, HEADER_MAX), "emoji": True},
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn(body, SECTION_MAX)}},
    ]
    fields = [] if message.event == "resolve" else _fields(notice.evidence, link)
    if fields:
        blocks.append({"type": "section", "fields": fields})
    blocks.append({"type": "context", "elements": _context(message, started)})
    if link and width(link) < SECTION_MAX - 50:
        text = f"<{escape(link)}|Open this alert in the beltwatch dashboard>"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    return {"text": mrkdwn(fallback, TEXT_MAX), "blocks": blocks[:BLOCKS_MAX]}


def _fields(evidence: Any, link: str | None) -> list[dict[str, str]]:
    """The evidence numbers as at most 10 two-column fields; the last one counts the rest."""
    if not isinstance(evidence, dict):
        return []
    pairs = [(k, v) for k, v in flatten(evidence) if k.split(".")[0] not in _NOT_FIELDS]
    if len(pairs) > FIELDS_MAX:
        rest = len(pairs) - (FIELDS_MAX - 1)
        where = " in the dashboard" if link else ""
        pairs = [*pairs[: FIELDS_MAX - 1], ("more evidence", f"{rest} more values{where}")]
    return [
        {"type": "mrkdwn", "text": mrkdwn(f"*{truncate(key, 200)}*\n{value}", FIELD_MAX)}
        for key, value in pairs
    ]


def _context(message: Message, started: str) -> list[dict[str, str]]:
    notice = message.payload
    lines = [
        f"rule `{notice.rule}`",
        f"fingerprint `{notice.fingerprint}`",
        f"started {started}",
    ]
    if message.event == "resolve":
        lines.append(f"resolved {human_time(notice.resolved_at)}")
    if notice.evidence.get("provisional_reference"):
        lines.append(":warning: judged against a provisional reference")
    return [{"type": "mrkdwn", "text": mrkdwn(line, FIELD_MAX)} for line in lines[:CONTEXT_MAX]]


class SlackNotifier(HttpNotifier):
    """Posts Block Kit messages to one Slack incoming webhook."""

    config: SlackConfig

    def __init__(
        self, config: SlackConfig, *, name: str = "slack", clock: Callable[[], float] = time.time
    ) -> None:
        secrets = url_secrets(config.webhook_url.get_secret_value())
        super().__init__(config, name=name, secrets=secrets, clock=clock)
        self.sends_resolved = config.send_resolved

    def _request(self, message: Message) -> Request:
        url = self.config.webhook_url.get_secret_value()
        return Request(url, dumps(render(message, self.config)), JSON_HEADERS)

    def _verdict(self, response: httpx.Response) -> Delivery:
        text = response.text.strip()
        said = excerpt(text, self._secrets)
        if response.is_success:
            if text in ("", "ok"):
                return verdict(response, self._clock)
            data = json_body(response)
            if data.get("ok") is False:  # an API-style answer from a proxy or a Slack app
                error = excerpt(str(data.get("error", "")), self._secrets)
                override = (Outcome.GIVE_UP, Reason.REJECTED)
                return verdict(response, self._clock, detail=f"slack: {error}", override=override)
            # Slack took the request: retrying could post the message twice.
            return verdict(response, self._clock, detail=f"slack: unexpected answer {said!r}")
        return verdict(
            response, self._clock, detail=f"slack: {response.status_code} {said}".strip()
        )


def from_settings(settings: Settings) -> SlackNotifier:
    """The Slack notifier as the settings configure it (NotifierConfigError if bad)."""
    return SlackNotifier(
        SlackConfig(
            webhook_url=settings.slack_webhook_url,  # type: ignore[arg-type]  # checked here
            send_resolved=settings.slack_send_resolved,
            dashboard_url=settings.dashboard_url,
        )
    )


# Resolves go to Slack only when asked for (Alertmanager's default is not to send them).
RECEIVER = Receiver(
    channel="slack",
    setting="slack_webhook_url",
    secrets=("slack_webhook_url",),
    build=from_settings,
    sends_resolved=lambda settings: settings.slack_send_resolved,
)
