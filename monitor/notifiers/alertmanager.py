"""Prometheus Alertmanager (API v2): beltwatch's alerts inside a site's own Alertmanager,
under its routing, inhibition and silences.

Alertmanager holds state, so it is told the way Prometheus tells it: `POST
/api/v2/alerts` with [{labels, annotations, startsAt, endsAt, generatorURL}]. A trigger,
repeat or test posts the alert with endsAt = now + ENDS_AFTER_PASSES dispatcher passes,
and the dispatcher re-posts every firing alert of this channel on every pass (`refresh`),
so Alertmanager keeps it active; a resolve posts it once with endsAt = its resolution
time. Four passes, as Prometheus uses four resend intervals: three passes may be missed
(a slow hourly run, a restart) before Alertmanager lets an alert lapse; a monitor that
stays down longer resolves its alerts there, as a Prometheus that stops does.

An alert's identity in Alertmanager is its label set: alertname (`Beltwatch` + the rule
in CamelCase, so it cannot collide with other sources' alerts), rule, severity, site and
station (absent for a site-wide alert, so a matcher on stations skips it, as beltwatch's
routes do). Annotations: summary, description (the evidence, one `key: value` a line,
without the report's file path: that is the server's business), dashboard (this alert's
page, also generatorURL) and report (its drift report under `reports_url`, when set).
Values are strings, as Alertmanager wants.

Auth: `user:pass@` in the URL becomes a basic-auth header, or a bearer token
(`alertmanager_token`); never both. The URL and both secrets are redacted from every
error. Answers: 200 delivered; 400 (an alert it refuses) gives up; the shared status
table for the rest (monitor.notifiers._http).
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from os.path import normpath
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import httpx
from pydantic import SecretStr

from monitor.core.settings import Settings
from monitor.notifiers._http import (
    JSON_HEADERS,
    HttpNotifier,
    NotifierConfigError,
    Request,
    check_secret,
    check_text,
    check_timeout,
    check_url,
    post,
    url_secrets,
)
from monitor.notifiers._render import dashboard_link, dumps, flatten, rfc3339, summary_of
from monitor.notifiers.base import AlertNotice, Delivery, Message, Outcome, Reason, Receiver

API_PATH = "/api/v2/alerts"
ALERTNAME_PREFIX = "Beltwatch"
# endsAt of a firing alert: this many dispatcher passes ahead (Prometheus: 4 resend
# intervals), so missed passes do not resolve it.
ENDS_AFTER_PASSES = 4
# Alerts per POST on a refresh (Prometheus' notifier sends at most 64 at once).
BATCH = 64
# Evidence keys left out of the description: the drift report's path on this server.
PRIVATE_EVIDENCE = frozenset({"report"})


@dataclass(frozen=True)
class AlertmanagerConfig:
    """One Alertmanager (or an HA pair behind one URL)."""

    url: SecretStr  # its base URL; may carry user:pass@, so a secret
    token: SecretStr | None = None  # bearer token, for a proxy in front of it
    site: str = "site"
    dashboard_url: str | None = None
    # Where a web server serves reports_dir: a report's link is reports_url + its path there.
    reports_url: str | None = None
    reports_dir: Path | None = None
    pass_interval_s: float = 60.0  # how often the dispatcher re-posts (dispatch_interval_s)
    timeout_s: float | None = None  # None: the client's timeout

    def __post_init__(self) -> None:
        url = check_secret("alertmanager_url", self.url, "Alertmanager's http(s):// base URL")
        check_url("alertmanager_url", url, secret=True, https_only=False)
        object.__setattr__(self, "url", url)
        if self.token is not None:
            token = check_secret("alertmanager_token", self.token, "a bearer token")
            object.__setattr__(self, "token", token)
            if urlsplit(url.get_secret_value()).username is not None:
                raise NotifierConfigError(
                    "alertmanager_token",
                    "set either a token or user:pass@ in alertmanager_url, not both",
                )
        check_text("site_name", self.site)
        if self.dashboard_url is not None:
            check_url("dashboard_url", self.dashboard_url, secret=False, https_only=False)
        if self.reports_url is not None:
            check_url("reports_url", self.reports_url, secret=False, https_only=False)
        if not self.pass_interval_s > 0:
            raise NotifierConfigError("dispatch_interval_s", "must be a positive number")
        check_timeout("alertmanager_timeout_s", self.timeout_s)

    @property
    def alerts_url(self) -> str:
        """The API endpoint, without any user:pass@ (that travels as a header)."""
        parts = urlsplit(self.url.get_secret_value())
        host = parts.netloc.rpartition("@")[2]
        return urlunsplit(parts._replace(netloc=host, path=parts.path.rstrip("/") + API_PATH))

    @property
    def auth_header(self) -> dict[str, str]:
        """Authorization: basic from the URL's user:pass@, or the bearer token, or none."""
        if self.token is not None:
            return {"Authorization": f"Bearer {self.token.get_secret_value()}"}
        parts = urlsplit(self.url.get_secret_value())
        if parts.username is None:
            return {}
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode("ascii")}


def alertname(rule: str) -> str:
    """`Beltwatch` + the rule in CamelCase: critical_rate -> BeltwatchCriticalRate."""
    words = re.split(r"[^A-Za-z0-9]+", rule)
    return ALERTNAME_PREFIX + "".join(word[:1].upper() + word[1:] for word in words)


def labels(notice: AlertNotice, site: str) -> dict[str, str]:
    """The alert's identity in Alertmanager; a site-wide alert has no station label."""
    found = {
        "alertname": alertname(notice.rule),
        "rule": notice.rule,
        "severity": notice.severity,
        "site": site,
    }
    if notice.station_id is not None:
        found["station"] = notice.station_id
    return found


def report_link(notice: AlertNotice, config: AlertmanagerConfig) -> str | None:
    """The drift report's URL under reports_url; None without one, or for a report kept
    outside reports_dir (its path is never shown instead)."""
    report = notice.evidence.get("report")
    if not (report and config.reports_url and config.reports_dir):
        return None
    try:
        # Lexical, not resolved: rendering touches no file system (".." is folded first).
        inside = Path(normpath(report)).relative_to(normpath(config.reports_dir))
    except ValueError:
        return None
    return f"{config.reports_url.rstrip('/')}/{quote(inside.as_posix())}"


def render(notice: AlertNotice, config: AlertmanagerConfig, now: datetime) -> dict[str, Any]:
    """One alert of the API v2 body: resolved at its resolution time, else active for
    ENDS_AFTER_PASSES passes from `now`."""
    if notice.event == "resolve":
        ends = notice.resolved_at or now
    else:
        ends = now + timedelta(seconds=ENDS_AFTER_PASSES * config.pass_interval_s)
    evidence = {k: v for k, v in notice.evidence.items() if k not in PRIVATE_EVIDENCE}
    annotations = {
        "summary": summary_of(notice),
        "description": "\n".join(f"{key}: {value}" for key, value in flatten(evidence)),
    }
    link = dashboard_link(config.dashboard_url, notice)
    if link:
        annotations["dashboard"] = link
    if report := report_link(notice, config):
        annotations["report"] = report
    return {
        "labels": labels(notice, config.site),
        "annotations": annotations,
        "startsAt": rfc3339(notice.started_at),
        "endsAt": rfc3339(max(ends, notice.started_at)),  # Alertmanager refuses end < start
        "generatorURL": link or "",
    }


class AlertmanagerNotifier(HttpNotifier):
    """Posts alerts to one Alertmanager; `refresh` re-posts the firing ones each pass."""

    config: AlertmanagerConfig

    def __init__(
        self,
        config: AlertmanagerConfig,
        *,
        name: str = "alertmanager",
        clock: Callable[[], float] = time.time,
    ) -> None:
        token = config.token.get_secret_value() if config.token is not None else ""
        url = config.url.get_secret_value()
        password = unquote(urlsplit(url).password or "")
        auth = config.auth_header.get("Authorization", "").partition(" ")[2]
        secrets = (*url_secrets(url), password, token, auth)
        super().__init__(config, name=name, secrets=secrets, clock=clock)
        self._headers = {**JSON_HEADERS, **config.auth_header}

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def _request(self, message: Message) -> Request:
        body = dumps([render(message.payload, self.config, self._now())])
        return Request(self.config.alerts_url, body, self._headers)

    def refresh(self, notices: Sequence[AlertNotice], client: httpx.Client) -> Delivery:
        """Re-post these firing alerts (in batches of BATCH) so they stay active; the first
        failed batch's verdict, else delivered. Nothing to retry: the next pass re-posts."""
        now = self._now()
        for start in range(0, len(notices), BATCH):
            batch = [render(notice, self.config, now) for notice in notices[start : start + BATCH]]
            result = post(
                client,
                self.config.alerts_url,
                dumps(batch),
                headers=self._headers,
                timeout=self.config.timeout_s,
                secrets=self._secrets,
            )
            delivery = result if isinstance(result, Delivery) else self._verdict(result)
            if not delivery.delivered:
                self._log.warning("alertmanager refresh: %s", delivery.detail or delivery.reason)
                return delivery
        self._log.debug("alertmanager refresh: %d firing alerts re-posted", len(notices))
        return Delivery(Outcome.DELIVERED, Reason.OK)


def from_settings(settings: Settings) -> AlertmanagerNotifier:
    """The Alertmanager notifier as the settings configure it (NotifierConfigError if bad)."""
    return AlertmanagerNotifier(
        AlertmanagerConfig(
            url=settings.alertmanager_url,  # type: ignore[arg-type]  # checked here
            token=settings.alertmanager_token,
            site=settings.site_name,
            dashboard_url=settings.dashboard_url,
            reports_url=settings.reports_url,
            reports_dir=settings.effective_reports_dir,
            pass_interval_s=settings.dispatch_interval_s,
        )
    )


RECEIVER = Receiver(
    channel="alertmanager",
    setting="alertmanager_url",
    secrets=("alertmanager_url", "alertmanager_token"),
    build=from_settings,
)
