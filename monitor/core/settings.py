"""The one `Settings` object: environment variables `BELTWATCH_*` over an optional TOML file.

Build it once per entry point with `load_settings()` and pass it down; nothing reads the
environment anywhere else. Every field carries its description; `beltwatch settings
--markdown` renders them as the README's table (a test keeps the two equal). The module is
long because it is the one declaration of every setting.
"""

from __future__ import annotations

import difflib
import functools
import logging
import os
import re
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from monitor.core.exceptions import ConfigError
from monitor.core.stops import parse_stops
from monitor.core.urls import check_url

log = logging.getLogger(__name__)

ENV_PREFIX = "BELTWATCH_"
CONFIG_ENV = "BELTWATCH_CONFIG"

_DB_SCHEMES = ("postgresql://", "postgresql+psycopg://", "postgres://")

# Directory settings that default (when unset) to a folder of data_dir: field -> folder.
UNDER_DATA_DIR = {"spool_dir": "spool", "image_store_dir": "images", "reports_dir": "reports"}


# The shipped default models (a source checkout; see models/README.md in the repository).
_REPO_MODELS = Path(__file__).resolve().parents[2] / "models"


class Route(BaseModel):
    """One alert route as configured: shell-style patterns (`*_drift`, `dock-*`) and the
    channels. Matching and the check of the channels live in `monitor.routing`, beside the
    receivers they name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: str = "*"
    severity: str = "*"
    station: str = "*"
    channels: list[str]


# -- sizes and durations as people write them -------------------------------------------
# A size or duration setting keeps its type and unit (bytes; the unit its name ends with),
# so no caller changes; only what it accepts grows: "2GiB", "2 GiB", "500MB", "90s",
# "15m", "2h", "7d", "1h30m". A plain number (a TOML number, or digits alone) is taken in
# the setting's own unit and validated as before, except that a fraction where the setting
# is whole is refused with the forms it takes.

_SIZE_UNITS = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_DURATION_UNITS = {  # seconds per unit; lower case, as Go and Prometheus write them
    "ms": Fraction(1, 1000),
    "s": Fraction(1),
    "m": Fraction(60),
    "h": Fraction(3600),
    "d": Fraction(86400),
    "w": Fraction(7 * 86400),
}
_UNIT_WORDS = {"ms": "milliseconds", "s": "seconds", "h": "hours", "d": "days"}
_PLAIN_NUMBER = re.compile(r"\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*")
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+)\s*")
_DURATION = re.compile(r"\s*((?:\d+(?:\.\d+)?\s*(?:ms|s|m|h|d|w)\s*)+)")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")

SIZE_FORMS = (
    "a number of bytes (2147483648) or a number and a unit: 2GiB, 2 GiB, 500MB, 512KiB "
    "(KB, MB, GB, TB: powers of 1000; KiB, MiB, GiB, TiB: powers of 1024)"
)


def duration_forms(unit: str) -> str:
    """The accepted forms of a duration setting kept in `unit`, for its error message."""
    return (
        f"a number of {_UNIT_WORDS[unit]} or numbers with units: 90s, 15m, 2h, 7d, 1h30m "
        "(ms, s, m, h, d, w)"
    )


def _is_plain_number(value: Any) -> bool:
    if isinstance(value, str):
        return _PLAIN_NUMBER.fullmatch(value) is not None
    return isinstance(value, int | float) and not isinstance(value, bool)


def _whole(value: str | float) -> bool:
    """Whether a plain number is whole (1.5 is not; 2.0 and 1e3 are, as pydantic takes them)."""
    try:
        return Fraction(value.strip() if isinstance(value, str) else value).denominator == 1
    except (ValueError, OverflowError):  # inf, nan: left for the field's own check
        return True


def parse_size(value: Any) -> Any:
    """A size with a unit as its number of bytes; anything else unchanged (a number is
    bytes already; a wrong value is left for the field's own check)."""
    if _is_plain_number(value):
        if not _whole(value):
            raise ValueError(f"expected a whole number of bytes; {SIZE_FORMS}")
        return value
    if not isinstance(value, str):
        return value
    match = _SIZE.fullmatch(value)
    factor = _SIZE_UNITS.get(match.group(2).lower()) if match else None
    if match is None or factor is None:
        raise ValueError(f"expected a size: {SIZE_FORMS}")
    size = Fraction(match.group(1)) * factor
    if size.denominator != 1:
        raise ValueError(f"expected a whole number of bytes; {SIZE_FORMS}")
    return int(size)


def parse_duration(value: Any, *, unit: str, whole: bool) -> Any:
    """A duration with units ("90s", "1h30m") in the setting's `unit` (an int for a `whole`
    setting, else a float); anything else unchanged, as parse_size."""
    if _is_plain_number(value):
        if whole and not _whole(value):
            raise ValueError(
                f"expected a whole number of {_UNIT_WORDS[unit]}; {duration_forms(unit)}"
            )
        return value
    if not isinstance(value, str):
        return value
    if not _DURATION.fullmatch(value):
        raise ValueError(f"expected a duration: {duration_forms(unit)}")
    seconds = sum(
        (
            Fraction(number) * _DURATION_UNITS[part]
            for number, part in _DURATION_PART.findall(value)
        ),
        Fraction(0),
    )
    amount = seconds / _DURATION_UNITS[unit]
    if not whole:
        return float(amount)
    if amount.denominator != 1:
        raise ValueError(f"expected a whole number of {_UNIT_WORDS[unit]}; {duration_forms(unit)}")
    return int(amount)


def _duration(unit: str, *, whole: bool) -> BeforeValidator:
    return BeforeValidator(functools.partial(parse_duration, unit=unit, whole=whole))


# Field types: int or float in the unit the setting's name ends with, as before.
Bytes = Annotated[int, BeforeValidator(parse_size)]
Days = Annotated[int, _duration("d", whole=True)]
Hours = Annotated[int, _duration("h", whole=True)]
FractionalHours = Annotated[float, _duration("h", whole=False)]
Seconds = Annotated[int, _duration("s", whole=True)]
FractionalSeconds = Annotated[float, _duration("s", whole=False)]
Milliseconds = Annotated[int, _duration("ms", whole=True)]
FractionalMilliseconds = Annotated[float, _duration("ms", whole=False)]


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("beltwatch", appauthor=False))


class Settings(BaseSettings):
    """All beltwatch settings. Environment: `BELTWATCH_<NAME>`; TOML file: `name = value`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", frozen=True, validate_default=True
    )

    database_url: SecretStr | None = Field(
        default=None,
        description=(
            "PostgreSQL URL (`postgresql://user:password@host:5432/db`; secret). Unset: an "
            "embedded PostgreSQL in `<data_dir>/postgres`."
        ),
    )
    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Local state: the embedded database, the prediction spool, reports.",
        json_schema_extra={"default_text": "the user data dir (`~/.local/share/beltwatch`)"},
    )
    spool_dir: Path | None = Field(
        default=None,
        description=(
            "The prediction log's write-ahead spool. One process per directory: give each "
            "worker its own."
        ),
    )
    retention_days: Days = Field(
        default=90,
        ge=1,
        description=(
            "Days of predictions kept; older daily partitions are dropped by "
            "`db partitions --prune`."
        ),
    )
    partitions_ahead_days: Days = Field(
        default=7, ge=1, le=366, description="Daily partitions of `predictions` created ahead."
    )
    log_batch_size: int = Field(
        default=5000, ge=1, le=1_000_000, description="Most rows the log writer sends in one COPY."
    )
    log_batch_max_age_ms: Milliseconds = Field(
        default=200,
        ge=1,
        le=60_000,
        description="Longest a logged prediction waits before the writer sends a partial batch.",
    )
    log_spool_max_bytes: Bytes = Field(
        default=2 * 1024**3,
        ge=1024 * 1024,
        description=(
            "Most bytes of not-yet-stored predictions in the spool (the log's bounded queue); "
            "past it `log_overflow` decides."
        ),
    )
    log_segment_max_bytes: Bytes = Field(
        default=64 * 1024**2,
        ge=64 * 1024,
        description="Size at which the spool starts a new segment file.",
    )
    log_overflow: Literal["block", "raise", "drop"] = Field(
        default="block",
        description=(
            "When the spool is full or its disk fails: `block` waits up to "
            "`log_overflow_block_ms` then raises, `raise` raises `PredictionLogFull` at once, "
            "`drop` drops the record. Each is counted (metrics) and logged."
        ),
    )
    log_overflow_block_ms: Milliseconds = Field(
        default=5, ge=0, le=1000, description="How long `block` waits for spool space."
    )
    log_fsync_interval_ms: Milliseconds = Field(
        default=1000,
        ge=0,
        description=(
            "How often the writer fsyncs the spool (0: after every batch). A process crash "
            "loses nothing either way; this bounds what a power loss can take."
        ),
    )
    log_retry_initial_s: FractionalSeconds = Field(
        default=0.5,
        gt=0,
        description=(
            "First wait before retrying the database after an error (doubles, with jitter)."
        ),
    )
    log_retry_max_s: FractionalSeconds = Field(
        default=30.0, gt=0, description="Longest wait between database retries (backoff cap)."
    )

    # -- the inference worker ------------------------------------------------------------
    model_path: Path = Field(
        default_factory=lambda: _REPO_MODELS / "beltcnn-int8.onnx",
        description=(
            "ONNX model the worker runs; its metadata file (`<model>.json`) must sit beside it."
        ),
        json_schema_extra={"default_text": "`models/beltcnn-int8.onnx` (the shipped model)"},
    )
    inference_threads: int = Field(
        default=0, ge=0, le=256, description="ONNX Runtime intra-op threads (0: one per core)."
    )
    worker_batch_size: int = Field(
        default=8,
        ge=1,
        le=256,
        description="Most frames the worker runs through the model at once.",
    )
    worker_batches_in_flight: int = Field(
        default=0,
        ge=0,
        le=64,
        description=(
            "Batches the HTTP and directory sources run at once (0: one per core): while "
            "one is in the model, the next is decoded, so every core works."
        ),
    )
    worker_batch_wait_ms: FractionalMilliseconds = Field(
        default=5.0,
        ge=0,
        le=1000,
        description=(
            "Longest a frame waits for others to fill a batch (HTTP source, with one batch "
            "in flight; with more, a batch takes the frames already waiting and goes)."
        ),
    )
    worker_host: str = Field(
        default="127.0.0.1",
        description="Address the HTTP source binds (SageMaker mode: `0.0.0.0`).",
    )
    worker_port: int = Field(
        default=8000, ge=1, le=65535, description="Port of the HTTP source (SageMaker mode: 8080)."
    )
    worker_token: SecretStr | None = Field(
        default=None,
        description="Bearer token required on `/v1/predict` and `/v1/log` (secret); unset: none.",
    )
    worker_max_image_bytes: Bytes = Field(
        default=20 * 1024**2,
        ge=1024,
        description="Largest image body the HTTP source accepts (413 beyond).",
    )
    worker_max_pixels: int = Field(
        default=25_000_000,
        ge=1,
        description=(
            "Most pixels a frame's header may declare (a 6000x4000 camera is 24 Mpx); larger "
            "frames are refused before decoding (decompression-bomb guard)."
        ),
    )
    worker_max_decodes: int = Field(
        default=0,
        ge=0,
        le=1024,
        description=(
            "Frames decoded at once, across all requests (0: one per core); bounds the "
            "worker's memory under many concurrent large frames."
        ),
    )
    capture_max_skew_s: FractionalSeconds = Field(
        default=300.0,
        ge=0,
        description=(
            "How far ahead of the worker's clock a frame's `captured_at` may be. Frames "
            "captured later than that, or longer ago than `retention_days`, are refused."
        ),
    )
    metrics_max_stations: int = Field(
        default=200,
        ge=1,
        description=(
            "Most station ids the worker's metrics label by name; further ids are counted "
            'as `station="other"` (bounds `/metrics` against unknown ids).'
        ),
    )
    divert_url: SecretStr | None = Field(
        default=None,
        description=(
            "URL the worker POSTs a divert request to for a critical parcel (the conveyor's "
            "PLC gateway; secret: it may carry credentials). Unset: no divert call."
        ),
    )
    divert_timeout_ms: Milliseconds = Field(
        default=300,
        ge=1,
        le=10_000,
        description=(
            "Timeout of one divert call; failures are logged and counted, never block the belt."
        ),
    )
    image_store_dir: Path | None = Field(
        default=None,
        description="Where minor and critical images are kept for review (content-addressed).",
    )
    image_retention_days: Days = Field(
        default=30, ge=1, description="Days a stored review or evidence image is kept."
    )
    evidence_frames_per_hour: int = Field(
        default=3,
        ge=0,
        le=60,
        description=(
            "Evidence frames kept per station and hour beside the review images: the first "
            "frame of each of N equal slots of the hour, plus each new least sharp frame "
            "(worst tile) of the station's hour; 0: off."
        ),
    )

    # -- the hourly monitor -------------------------------------------------------------
    monitor_minute: int = Field(
        default=5, ge=0, le=59, description="Minute of every hour (UTC) the monitor runs at."
    )
    monitor_misfire_grace_s: Seconds = Field(
        default=3300,
        ge=1,
        description=(
            "How late a missed hourly run may still start (later: the next run catches up)."
        ),
    )
    monitor_catchup_hours: Hours = Field(
        default=48, ge=1, description="Furthest back an hourly run catches up unprocessed hours."
    )
    monitor_retry_initial_s: FractionalSeconds = Field(
        default=30.0,
        gt=0,
        description=(
            "Wait before retrying an hourly run that failed (database down, an hour that "
            "failed); doubles, with jitter, up to monitor_retry_max_s, within the hour."
        ),
    )
    monitor_retry_max_s: FractionalSeconds = Field(
        default=600.0, gt=0, description="Longest wait between retries of a failed hourly run."
    )
    heartbeat_url: SecretStr | None = Field(
        default=None,
        description=(
            "Dead-man's switch: a URL the monitor POSTs to after every successful hourly run "
            "(healthchecks.io, Cronitor, a Watchdog receiver), so a site learns when "
            "beltwatch itself stops watching (secret: may carry a token)."
        ),
    )
    monitor_metrics_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description=(
            "Port on which `beltwatch monitor run` serves Prometheus `/metrics` (runs, the last "
            "hour done, the outbox, firing alerts); 0: not served."
        ),
    )
    monitor_metrics_host: str = Field(
        default="127.0.0.1",
        description="Address the monitor's `/metrics` binds (scraped from elsewhere: `0.0.0.0`).",
    )
    reports_dir: Path | None = Field(
        default=None,
        description=(
            "Where Evidently drift reports (HTML) are kept; an alert's evidence names its own."
        ),
    )
    reports_retention_days: Days = Field(
        default=90,
        ge=1,
        description=(
            "Days drift reports are kept; older hours' reports are deleted by "
            "`db partitions --prune`, with the predictions' partitions."
        ),
    )
    drift_sample_size: int = Field(
        default=2000,
        ge=100,
        description="Most predictions per station-hour drawn for the drift tests.",
    )
    drift_min_predictions: int = Field(
        default=100,
        ge=10,
        description=(
            "Fewest predictions for the drift rules to judge; a thinner hour is pooled with "
            "the station's previous hours (`drift_max_pool_hours`)."
        ),
    )
    reference_sample_size: int = Field(
        default=5000, ge=100, description="Size of the random sample a reference profile keeps."
    )
    provisional_reference_hours: Hours = Field(
        default=24,
        ge=1,
        description=(
            "A station without a reference gets a provisional one from its first N hours "
            "(marked provisional in alerts)."
        ),
    )
    critical_rate_threshold: float = Field(
        default=0.10, gt=0, lt=1, description="Critical share above which `critical_rate` fires."
    )
    critical_rate_baseline: float = Field(
        default=0.03,
        gt=0,
        lt=1,
        description="Normal critical share (the binomial test's null hypothesis).",
    )
    critical_rate_alpha: float = Field(
        default=1e-5,
        gt=0,
        lt=0.5,
        description="Significance of the one-sided exact binomial test against the baseline.",
    )
    critical_rate_min_predictions: int = Field(
        default=50,
        ge=1,
        description="Fewest predictions in an hour for `critical_rate` to judge.",
    )
    critical_drop_fraction: float = Field(
        default=0.5,
        gt=0,
        lt=1,
        description=(
            "`critical_drop` fires when a station's critical share over its last "
            "`critical_drop_hours` fell by at least this fraction of its baseline (a camera "
            "fault can hide damage) ..."
        ),
    )
    critical_drop_alpha: float = Field(
        default=1e-6,
        gt=0,
        lt=0.5,
        description="... and a one-sided exact binomial test of the drop gives p at most this.",
    )
    critical_drop_hours: Hours = Field(
        default=8,
        ge=1,
        le=48,
        description="Hours `critical_drop` sums (this one and the ones before it).",
    )
    critical_rate_station_thresholds: dict[str, float] = Field(
        default_factory=dict,
        description='Per-station `critical_rate` thresholds, JSON: `{"dock-3": 0.15}`.',
    )
    lens_sharpness_drop: float = Field(
        default=0.40,
        gt=0,
        lt=1,
        description="Fall of the hourly median sharpness (fraction) `lens_drift` fires on at once.",
    )
    lighting_brightness_shift: float = Field(
        default=20.0,
        gt=0,
        description="Move of mean brightness (levels) `lighting_drift` fires on.",
    )
    lighting_clipping_increase: float = Field(
        default=0.05,
        gt=0,
        lt=1,
        description=(
            "Rise of the clipped-pixel fraction (dark or bright) `lighting_drift` fires on."
        ),
    )
    drift_control_sigmas: float = Field(
        default=4.5,
        ge=0,
        description=(
            "An hourly median must lie this many hour-to-hour SDs (robust, and wider for an "
            "hour of fewer frames than the reference's) from its normal level to count as "
            "moved at once (4.5: one clean hour in ~300,000 per signal; 3 paged thin hours)."
        ),
    )
    drift_slow_min_fraction: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description=(
            "A CUSUM alarm also needs this fraction of the abrupt threshold "
            "(`lens_sharpness_drop`, `lighting_brightness_shift`), so a sustained harmless "
            "shift never fires."
        ),
    )
    lens_veil_haze: float = Field(
        default=0.2,
        gt=0,
        lt=1,
        description=(
            "Fraction of the luma range a haze veil must take (with the dark level lifted) "
            "for `lens_drift`; a quarter of it makes `lighting_drift` discount the brightness the "
            "veil explains."
        ),
    )
    drift_test_alpha: float = Field(
        default=1e-3,
        gt=0,
        lt=0.5,
        description=(
            "Significance of the K-S test (Evidently) that confirms `lens_drift` and "
            "`lighting_drift` once an effect passed its floor (0.05 let the tail of clean "
            "hours through)."
        ),
    )
    cusum_k: float = Field(
        default=1.0,
        ge=0,
        description=(
            "CUSUM slack, in robust hour-to-hour standard deviations of the reference (1.0: "
            "tuned to a shift of about 2 SDs, what a slow defocus reaches in a few hours)."
        ),
    )
    cusum_h: float = Field(
        default=8.0,
        gt=0,
        description=(
            "Least CUSUM decision limit, in hour-to-hour standard deviations; each reference "
            "calibrates its own limits to `alarm_budget_years`, never below this."
        ),
    )
    alarm_budget_years: float = Field(
        default=1.0,
        gt=0,
        description=(
            "False-alarm budget of the drift rules' slow path: at most one per station per "
            "this many years on a clean camera; the CUSUM limits are calibrated to it from "
            "each station's reference hours (shown by `beltwatch baseline show`)."
        ),
    )
    drift_max_pool_hours: Hours = Field(
        default=6,
        ge=1,
        le=24,
        description=(
            "A thin hour (fewer than `drift_min_predictions`) is pooled with the station's "
            "previous hours, up to this many in all, so that a quiet station is still judged."
        ),
    )
    class_drift_alpha: float = Field(
        default=1e-6,
        gt=0,
        lt=1,
        description=(
            "Chance that sampling noise alone moves an hour's class mix past `class_drift`'s "
            "volume-aware effect floor (the floor grows as the hour gets smaller)."
        ),
    )
    class_drift_threshold: float = Field(
        default=0.1,
        gt=0,
        lt=1,
        description=(
            "Jensen-Shannon distance of the class mix from the reference that `class_drift` "
            "fires on."
        ),
    )
    latency_budget_ms: FractionalMilliseconds = Field(
        default=100.0,
        gt=0,
        description="Per-image budget; `latency` fires when an hour's p95 exceeds it.",
    )
    no_data_min_expected: float = Field(
        default=30.0,
        gt=0,
        description=(
            "`no_data` fires for a station that normally sends at least this many an hour and "
            "sent none."
        ),
    )
    repeat_interval_hours: Hours = Field(
        default=4, ge=1, description="Re-notify a still-firing alert after this many hours."
    )
    resolve_after_ok_hours: Hours = Field(
        default=2, ge=1, description="Hours a firing alert must be ok in a row to resolve."
    )

    # -- alert delivery ---------------------------------------------------------------
    slack_webhook_url: SecretStr | None = Field(
        default=None, description="Slack incoming-webhook URL (secret); unset: no Slack."
    )
    console_notifications: bool = Field(
        default=False,
        description=(
            "Print each notification as one line on the standard output of the process "
            "that delivers it (`beltwatch demo` turns it on)."
        ),
    )
    slack_send_resolved: bool = Field(
        default=False,
        description=(
            "Also post to Slack when an alert resolves (the paging tools always get resolves)."
        ),
    )
    pagerduty_routing_key: SecretStr | None = Field(
        default=None, description="PagerDuty Events API v2 routing key (secret)."
    )
    pagerduty_url: str = Field(
        default="https://events.pagerduty.com/v2/enqueue",
        description="PagerDuty Events API v2 endpoint.",
    )
    opsgenie_api_key: SecretStr | None = Field(
        default=None,
        description="Opsgenie API key (secret), sent as `Authorization: GenieKey ...`.",
    )
    opsgenie_api_url: str = Field(
        default="https://api.opsgenie.com",
        description=(
            "Opsgenie API base URL; EU accounts: `https://api.eu.opsgenie.com`. Opsgenie's API "
            "is announced to end on 2027-04-05: point this at the successor's compatible "
            "endpoint (see `monitor/notifiers/opsgenie.py`)."
        ),
    )
    webhook_url: SecretStr | None = Field(
        default=None,
        description="URL that receives Prometheus-Alertmanager-format JSON (secret).",
    )
    webhook_secret: SecretStr | None = Field(
        default=None,
        description=(
            "Signs webhook bodies the Standard Webhooks way (`webhook-id`, "
            "`webhook-timestamp`, `webhook-signature`): base64 of at least 24 bytes, "
            "optionally prefixed `whsec_`, as the spec's libraries read it (secret)."
        ),
    )
    alertmanager_url: SecretStr | None = Field(
        default=None,
        description=(
            "Prometheus Alertmanager's base URL (`http://alertmanager:9093`, plus its route "
            "prefix if it has one): firing alerts are posted to `/api/v2/alerts` and re-posted "
            "every dispatcher pass; `user:pass@` in it is sent as basic auth (secret)."
        ),
    )
    alertmanager_token: SecretStr | None = Field(
        default=None,
        description=(
            "Bearer token for an Alertmanager behind an authenticating proxy, sent as "
            "`Authorization: Bearer ...` (secret); not together with `user:pass@`."
        ),
    )
    reports_url: str | None = Field(
        default=None,
        description=(
            "Base URL under which a web server of yours serves `reports_dir`; Alertmanager "
            "alerts then carry a `report` link to their drift report (never its file path)."
        ),
    )
    alert_routes: list[Route] = Field(
        default_factory=list,
        description=(
            'Which channels each alert goes to, JSON: [{"rule": "critical_rate", "channels": '
            '["pagerduty", "slack"]}, {"rule": "*_drift", "station": "dock-*", "channels": '
            '["slack"]}]; first match wins; empty: every configured channel.'
        ),
    )
    dashboard_url: str | None = Field(
        default=None, description="Base URL of the dashboard, for links in notifications."
    )
    site_name: str = Field(default="site", description="This site's name (PagerDuty `group`).")
    notify_timeout_s: FractionalSeconds = Field(
        default=10.0, gt=0, le=120, description="Timeout of one delivery attempt."
    )
    notify_max_attempts: int = Field(
        default=12, ge=1, description="Attempts before a notification is marked failed."
    )
    notify_max_age_hours: FractionalHours = Field(
        default=24.0,
        gt=0,
        description="Age after which an undelivered notification is marked failed.",
    )
    notify_backoff_initial_s: FractionalSeconds = Field(
        default=5.0,
        gt=0,
        description=(
            "Wait before the first retry (doubles each time, with jitter; a longer "
            "`Retry-After` wins)."
        ),
    )
    notify_backoff_max_s: FractionalSeconds = Field(
        default=1800.0, gt=0, description="Longest wait between retries."
    )
    dispatch_interval_s: Seconds = Field(
        default=60,
        ge=1,
        description=(
            "How often the monitor process drains the notification outbox (also right after "
            "each hourly run)."
        ),
    )

    # -- the dashboard ------------------------------------------------------------------
    dashboard_host: str = Field(
        default="127.0.0.1",
        description=(
            "Address `beltwatch dashboard` binds (a wall screen elsewhere: `0.0.0.0`, which "
            "needs a sign-in: `dashboard_auth`)."
        ),
    )
    dashboard_port: int = Field(
        default=8501, ge=1, le=65535, description="Port `beltwatch dashboard` listens on."
    )
    dashboard_refresh_s: Seconds = Field(
        default=60,
        ge=5,
        le=3600,
        description=(
            "How often the dashboard's Overview refreshes itself; its database reads are "
            "cached this long."
        ),
    )
    planned_stops: list[str] = Field(
        default_factory=list,
        description=(
            "The shift calendar: when belts stop on purpose, so `no_data` stays quiet then; "
            'JSON, in `site_timezone`: `["Sun 00:00-24:00", "Mon-Fri 22:00-06:00", '
            '"2026-12-24T18:00/2026-12-27T06:00", "Sat 00:00-24:00 on dock-7"]`.'
        ),
    )
    site_timezone: str = Field(
        default="UTC",
        description=(
            "IANA time zone the dashboard shows times in (`Europe/Berlin`); they are stored in UTC."
        ),
    )
    dashboard_auth: Literal["none", "password", "oidc"] = Field(
        default="none",
        description=(
            "Who may open the dashboard: `none` (allowed only while `dashboard_host` is a "
            "loopback address), `password` (`dashboard_password`; each person also gives "
            "the name recorded on what they change) or `oidc` (single sign-on through "
            "Streamlit's login: the `dashboard_oidc_*` settings)."
        ),
    )
    dashboard_password: SecretStr | None = Field(
        default=None,
        description=(
            "The shared password when `dashboard_auth` is `password` (12 characters or more)."
        ),
    )
    dashboard_oidc_metadata_url: str | None = Field(
        default=None,
        description=(
            "The OpenID provider's discovery document "
            "(`https://login.example.com/.well-known/openid-configuration`)."
        ),
    )
    dashboard_oidc_client_id: str | None = Field(
        default=None, description="The dashboard's client id at the OpenID provider."
    )
    dashboard_oidc_client_secret: SecretStr | None = Field(
        default=None, description="The dashboard's client secret at the OpenID provider."
    )
    dashboard_oidc_redirect_uri: str | None = Field(
        default=None,
        description=(
            "The dashboard's own address plus `/oauth2callback`, as registered at the "
            "provider (`https://beltwatch.example.com/oauth2callback`)."
        ),
    )
    dashboard_cookie_secret: SecretStr | None = Field(
        default=None,
        description=(
            "Signs the single sign-on cookie; unset, a random one is made at each start "
            "(a restart then signs everyone out)."
        ),
    )

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: SecretStr | None) -> SecretStr | None:
        expected = "expected a URL of the form postgresql://user:password@host:port/db"
        if value is None:
            return value
        url = value.get_secret_value()
        if not url.startswith(_DB_SCHEMES):
            raise ValueError(expected)
        from sqlalchemy import make_url

        try:  # parsed now, so a bad port is a settings error, not a traceback later
            make_url(url)
        except ValueError:
            raise ValueError(f"{expected} (the port must be a number)") from None
        except Exception:
            raise ValueError(expected) from None
        return value

    # The receivers' URLs, by the rule their notifiers apply (monitor.core.urls), so a
    # value that loads is one the receiver accepts at start-up. The message never echoes
    # the value: _problems adds it for settings that are not secret.
    @field_validator("slack_webhook_url", "pagerduty_url", "opsgenie_api_url")
    @classmethod
    def _check_https_url(cls, value: SecretStr | str | None) -> SecretStr | str | None:
        if value is not None:
            raw = value.get_secret_value() if isinstance(value, SecretStr) else value
            check_url(raw, secret=True, https_only=True)
        return value

    @field_validator(
        "webhook_url",
        "alertmanager_url",
        "dashboard_url",
        "reports_url",
        "heartbeat_url",
        "dashboard_oidc_metadata_url",
        "dashboard_oidc_redirect_uri",
    )
    @classmethod
    def _check_any_url(cls, value: SecretStr | str | None) -> SecretStr | str | None:
        if value is not None:
            raw = value.get_secret_value() if isinstance(value, SecretStr) else value
            check_url(raw, secret=True, https_only=False)
        return value

    @field_validator("site_timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("expected an IANA time zone name such as Europe/Berlin") from None
        return value

    @field_validator("planned_stops")
    @classmethod
    def _check_stops(cls, value: list[str]) -> list[str]:
        parse_stops(value)  # a StopError (a ValueError) names the entry and its wrong part
        return value

    @field_validator("divert_url")
    @classmethod
    def _check_http_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value

    @property
    def effective_spool_dir(self) -> Path:
        """`spool_dir`, or its folder in `data_dir` when unset."""
        return self.under_data_dir("spool_dir")

    @property
    def effective_reports_dir(self) -> Path:
        """`reports_dir`, or its folder in `data_dir` when unset."""
        return self.under_data_dir("reports_dir")

    def under_data_dir(self, name: str) -> Path:
        """The directory setting `name` (one of UNDER_DATA_DIR), or its default in data_dir."""
        value = getattr(self, name)
        return value if value is not None else self.data_dir / UNDER_DATA_DIR[name]

    def critical_threshold_for(self, station_id: str | None) -> float:
        if station_id is None:
            return self.critical_rate_threshold
        return self.critical_rate_station_thresholds.get(station_id, self.critical_rate_threshold)

    @property
    def effective_image_store_dir(self) -> Path:
        """`image_store_dir`, or its folder in `data_dir` when unset."""
        return self.under_data_dir("image_store_dir")


def _problems(error: ValidationError, secret_fields: set[str]) -> list[tuple[str, str]]:
    problems = []
    for item in error.errors():
        name = str(item["loc"][0]) if item["loc"] else "?"
        setting = f"{name} ({ENV_PREFIX}{name.upper()})"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown setting"
        elif name not in secret_fields:
            message = f"{message}; got {item['input']!r}"
        problems.append((setting, message))
    return problems


def load_settings(config: Path | str | None = None, **overrides: Any) -> Settings:
    """Build Settings from overrides, then `BELTWATCH_*` variables, then the TOML file.

    The file is `config`, or `BELTWATCH_CONFIG` when `config` is None. Every invalid value
    is reported at once in a ConfigError naming the setting and the expected form.
    """
    path = config if config is not None else os.environ.get(CONFIG_ENV)
    if path is not None and not Path(path).is_file():
        raise ConfigError([("config", f"no such file: {path}")])

    class _FromFile(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            sources: tuple[PydanticBaseSettingsSource, ...] = (init_settings, env_settings)
            if path is not None:
                sources += (TomlConfigSettingsSource(settings_cls, toml_file=Path(path)),)
            return sources

    warn_unknown_variables(os.environ)
    fields = Settings.model_fields
    secret_fields = {
        name for name, field in fields.items() if "SecretStr" in repr(field.annotation)
    }
    try:
        loaded = _FromFile(**overrides)
    except ValidationError as error:
        raise ConfigError(_problems(error, secret_fields)) from None
    except ValueError as error:  # a TOML syntax error
        raise ConfigError([("config", f"{path}: {error}")]) from None
    return Settings.model_construct(**{name: getattr(loaded, name) for name in fields})


# Variables with the prefix that are not settings: the settings file, the tests' server.
OTHER_VARIABLES = frozenset({CONFIG_ENV, "BELTWATCH_TEST_DATABASE_URL"})


def unknown_variables(environ: Mapping[str, str]) -> list[tuple[str, str | None]]:
    """`BELTWATCH_*` variables that are no setting (a typo is silently ignored otherwise,
    while the same key in the TOML file is an error), each with the closest known name."""
    known = [f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields]
    found = []
    for variable in sorted(environ):
        if not variable.upper().startswith(ENV_PREFIX):
            continue
        if variable.upper() in known or variable.upper() in OTHER_VARIABLES:
            continue
        # Compared without the shared prefix, which would make every name look close.
        name = variable.upper().removeprefix(ENV_PREFIX).lower()
        close = difflib.get_close_matches(name, list(Settings.model_fields), n=1, cutoff=0.6)
        found.append((variable, f"{ENV_PREFIX}{close[0].upper()}" if close else None))
    return found


def warn_unknown_variables(environ: Mapping[str, str]) -> None:
    """Log a warning for each unknown `BELTWATCH_*` variable, naming the closest setting."""
    for variable, close in unknown_variables(environ):
        hint = f"; did you mean {close}?" if close else ""
        log.warning("unknown environment variable %s is ignored%s", variable, hint)
