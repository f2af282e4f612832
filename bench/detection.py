"""Detection benchmark: how many faults the monitor finds, how fast, and how often it
pages for nothing, beside two baselines on the same data.

    .venv/bin/python bench/detection.py [--stations 40] [--days 28] [--seed 1]

Seeded weeks of stations with harmless variation a real site has: a fixed gain per
station (0.9-1.1), a daylight swing of +-5 % at half of them, volumes from 30 to 400 an
hour (busier by day), JPEG compression, and a nightly stop (01:00-04:00) at a quarter of
them, declared in `planned_stops`. A third of the stations get one fault each, of a kind
in turn: an abrupt dirty lens (defocus 2 px with a 0.15 haze, 6 h), a smudge over part
of the lens (6 h), a light failing (gain 0.55, 4 h), a wave of damaged parcels (20 %
critical, 2 h), and a slow defocus ramp (0 to 2 px over 24 h with a haze growing to 0.15).

Image statistics come from `inference.imagestats.compute` on frames: synthetic conveyor
frames (the model pipeline's generator) and crops of real photographs (scikit-image's),
each under every camera condition and through a JPEG round trip, computed once and cached
(under ~/.cache/beltwatch). Half the stations see synthetic scenes, half photographs; an
hour of a station draws its frames from its scenes' pool of its condition. Class labels
are drawn from the station's mix (80/17/3 %), which a fault moves the way the shipped
model moved on photographs: dark frames +20 points critical, a dirty lens hides damage
(critical x 0.3).

The monitor runs as in production from the windows on: a reference per station set from
its first 3 days (`reference_from_hours`: the calibrated yardsticks `baseline set`
stores), then every hour each station's Window as `monitor/windows.py` builds it (the
hour's counts and sample, 48 hours of rollup medians and counts, the expected volume, a
pool for a thin hour), every rule, `rules.diagnose`, and the alert state machine
(`alerts.decide`, inhibition as a silence) with default settings. Only the SQL is left out.
An alarm is an episode whose trigger went out.

Baselines on the same hours: the seed's rule alone (critical share > 10 % in an hour) and
Evidently's default per-hour drift test on the image statistics (K-S at p < 0.05 per
column, dataset drift when half the columns drift: DataDriftPreset's defaults; computed
with scipy's ks_2samp, the test Evidently runs, and checked against Evidently itself on a
few hours of the run). Each alarm of a baseline is an episode of consecutive firing hours.

Printed: per fault kind, detection (the expected rule on the faulty station from the
fault's first hour to 2 h after its end), median and worst delay (0 = the first faulty
hour), resolution within 2 h of the end, and every other rule that fired; then false
alarms per 100 clean station-days per rule (a station-day is clean when no fault of that
station is within a day of it), beside the baselines.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
from scipy.stats import ks_2samp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inference.imagestats import FIELDS, compute
from inference.training.camera import CameraConditions, apply_camera
from inference.training.synth import FrameSpec, label_for, render
from monitor.alerts import Episode, Step, decide
from monitor.calibration import Limits
from monitor.core.queries.rollups import MEDIAN_COLUMNS
from monitor.core.settings import Settings
from monitor.core.vocabulary import CLASSES
from monitor.reference import reference_from_hours
from monitor.rules import diagnose, evaluate_all
from monitor.rules.base import HourSummary, Pool, Reference, Window
from monitor.windows import HISTORY_HOURS, expected_volume, pool_span

START = datetime(2026, 10, 5, tzinfo=UTC)  # a Monday
REFERENCE_DAYS = 3
MIX = (0.80, 0.17, 0.03)
GAINS = tuple(round(0.85 + 0.025 * i, 3) for i in range(13))  # clean frames: 0.85-1.15
FAULT_GAINS = (0.9, 1.0, 1.1)
RAMP_STEPS = 12  # the ramp's pool: one condition per 2 hours of its 24
POOL_FRAMES = 200  # per source (synthetic, photographs) and condition
JPEG_QUALITY = 85
STOP = (1, 4)  # the nightly stop, hours [1, 4)
KINDS = ("lens", "smudge", "dark", "damage", "ramp")
LENGTH = {"lens": 6, "smudge": 6, "dark": 4, "damage": 2, "ramp": 24}
EXPECTED_RULE = {
    "lens": "lens_drift",
    "smudge": "lens_drift",
    "ramp": "lens_drift",
    "dark": "lighting_drift",
    "damage": "critical_rate",
}
CAMERA_RULES = ("lens_drift", "lighting_drift")
EVIDENTLY_CHECK_HOURS = 4  # hours on which Evidently itself confirms the scipy baseline


# -- frames and their statistics -----------------------------------------------------------


def conditions() -> dict[str, CameraConditions]:
    """Every camera condition an hour can be in, by name."""
    found = {f"clean@{g}": CameraConditions(gain=g) for g in GAINS}
    for g in FAULT_GAINS:
        found[f"lens@{g}"] = CameraConditions(defocus_sigma=2.0, haze=0.15, gain=g)
        found[f"smudge@{g}"] = CameraConditions(smudge=0.8, gain=g)
        found[f"dark@{g}"] = CameraConditions(gain=round(0.55 * g, 3))
        for step in range(1, RAMP_STEPS + 1):
            level = step / RAMP_STEPS
            found[f"ramp{step}@{g}"] = CameraConditions(
                defocus_sigma=2.0 * level, haze=0.15 * level, gain=g
            )
    return found


def base_frames(seed: int) -> list[np.ndarray]:
    """POOL_FRAMES synthetic conveyor frames and POOL_FRAMES crops of real photographs."""
    import skimage.data

    frames = [
        render(FrameSpec(seed, i, label_for(seed, i), (480, 640))) for i in range(POOL_FRAMES)
    ]
    photos = []
    for name in ("astronaut", "chelsea", "coffee", "rocket", "camera", "coins", "brick", "grass"):
        image = getattr(skimage.data, name)()
        photos.append(np.stack([image] * 3, -1) if image.ndim == 2 else image[..., :3])
    rng = np.random.default_rng(seed)
    for _ in range(POOL_FRAMES):
        photo = photos[rng.integers(len(photos))]
        h, w = photo.shape[:2]
        scale = rng.uniform(0.5, 0.95)
        ch, cw = int(h * scale), int(w * scale)
        y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
        crop = np.ascontiguousarray(photo[y : y + ch, x : x + cw])
        frames.append(cv2.resize(crop, (640, 480), interpolation=cv2.INTER_AREA))
    return frames


def frame_stats(seed: int, cache: Path) -> dict[str, np.ndarray]:
    """Condition -> (frames, FIELDS) statistics, from the cache when it holds them."""
    wanted = conditions()
    key = hashlib.sha256(
        repr((seed, POOL_FRAMES, JPEG_QUALITY, sorted(wanted.items()), FIELDS)).encode()
    ).hexdigest()[:16]
    path = cache / f"detection-{key}.npz"
    if path.exists():
        with np.load(path) as stored:
            return {name: stored[name] for name in stored.files}
    started = time.perf_counter()
    frames = base_frames(seed)
    out = {}
    for i, (name, condition) in enumerate(wanted.items()):
        rng = np.random.default_rng([seed, i])
        rows = []
        for frame in frames:
            seen = apply_camera(frame, condition, rng)
            _, jpeg = cv2.imencode(
                ".jpg", seen[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
            )
            decoded = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)[..., ::-1]
            rows.append(list(compute(np.ascontiguousarray(decoded)).as_dict().values()))
        out[name] = np.array(rows, dtype=np.float64)
        if (i + 1) % 10 == 0 or i + 1 == len(wanted):
            print(f"  frame statistics: {i + 1}/{len(wanted)} conditions", flush=True)
    print(f"  ({time.perf_counter() - started:.0f} s, cached in {path})")
    cache.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **out)
    return out


# -- the site ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    station: str
    kind: str
    start: int  # hour index from START
    end: int  # exclusive


@dataclass
class Station:
    name: str
    volume: float  # predictions an hour by day
    gain: float
    daylight: float  # amplitude of the daily swing (0 or 0.05)
    stops: bool  # the nightly planned stop
    photos: bool  # its scenes are real photographs (else synthetic conveyor frames)
    fault: Fault | None = None
    rng: np.random.Generator = field(default_factory=np.random.default_rng)


def site(stations: int, days: int, seed: int) -> list[Station]:
    rng = np.random.default_rng(seed)
    out = []
    faulty = 0
    for i in range(stations):
        station = Station(
            name=f"S{i:02d}",
            volume=float(np.exp(rng.uniform(math.log(30), math.log(400)))),
            gain=float(rng.uniform(0.9, 1.1)),
            daylight=0.05 if i % 2 else 0.0,
            stops=i % 4 == 3,
            photos=(i // 2) % 2 == 1,
            rng=np.random.default_rng([seed, i]),
        )
        if i % 3 == 1:  # a third of the stations get one fault
            kind = KINDS[faulty % len(KINDS)]
            faulty += 1
            day = REFERENCE_DAYS + 2 + int(rng.integers(0, max(1, days - 4)))
            hour = day * 24 + int(rng.integers(7, 15))  # during the day shift
            station.fault = Fault(station.name, kind, hour, hour + LENGTH[kind])
        out.append(station)
    return out


def volume_at(station: Station, t: int) -> float:
    hour = t % 24
    if station.stops and STOP[0] <= hour < STOP[1]:
        return 0.0
    return station.volume * (1.0 if 6 <= hour < 22 else 0.6)


def condition_at(station: Station, t: int) -> tuple[str, tuple[float, float, float]]:
    """The pool an hour draws from, and its class mix."""
    fault = station.fault
    near = min(FAULT_GAINS, key=lambda g: abs(g - station.gain))
    if fault is not None and fault.start <= t < fault.end:
        if fault.kind == "damage":
            return _clean(station, t), (0.65, 0.15, 0.20)
        hides = (MIX[0] + MIX[2] * 0.7, MIX[1], MIX[2] * 0.3)
        if fault.kind == "dark":
            return f"dark@{near}", (MIX[0] - 0.20, MIX[1], MIX[2] + 0.20)
        if fault.kind == "ramp":
            step = min(RAMP_STEPS, 1 + (t - fault.start) * RAMP_STEPS // LENGTH["ramp"])
            return f"ramp{step}@{near}", hides
        return f"{fault.kind}@{near}", hides
    return _clean(station, t), MIX


def _clean(station: Station, t: int) -> str:
    swing = 1 + station.daylight * math.sin(2 * math.pi * ((t % 24) - 7) / 24)
    gain = station.gain * swing
    return f"clean@{min(GAINS, key=lambda g: abs(g - gain))}"


def hour_of(station: Station, t: int, pools: dict[str, np.ndarray]) -> tuple[np.ndarray, dict]:
    """(frames x FIELDS statistics, class counts) of one station-hour."""
    n = int(station.rng.poisson(volume_at(station, t)))
    name, mix = condition_at(station, t)
    # A camera sees its own belt: one population of scenes (POOL_FRAMES synthetic frames
    # first in every pool, then POOL_FRAMES photographs). Drawing a station's frames from
    # both at once would make its hourly medians flip between two humps by chance.
    first = POOL_FRAMES if station.photos else 0
    stats = pools[name][first + station.rng.integers(0, POOL_FRAMES, n)]
    counts = dict(zip(CLASSES, (int(c) for c in station.rng.multinomial(n, mix)), strict=True))
    return stats, counts


# -- the monitor, hour by hour -------------------------------------------------------------


@dataclass
class Alarm:
    rule: str
    station: str
    start: int
    end: int | None = None
    notified: bool = False
    summary: str = ""


@dataclass
class Tracker:
    """Episodes of one rule family: the state machine and what went out."""

    settings: Settings
    open: dict[str, tuple[Episode, Alarm]] = field(default_factory=dict)
    alarms: list[Alarm] = field(default_factory=list)

    def apply(
        self,
        fingerprint: str,
        rule: str,
        station: str,
        state: str,
        t: int,
        quiet: bool,
        summary: str = "",
    ) -> None:
        hour = START + timedelta(hours=t)
        episode, alarm = self.open.get(fingerprint, (None, None))
        decision = decide(episode, state, hour, quiet, self.settings)
        if decision is None:
            return
        if decision.step is Step.OPEN:
            alarm = Alarm(rule, station, t, summary=summary)
            self.alarms.append(alarm)
            episode = Episode(hour, decision.last_notified_at)
        assert alarm is not None and episode is not None
        if decision.event == "trigger":
            alarm.notified = True
        if decision.step is Step.RESOLVE:
            alarm.end = int((decision.resolved_at - START) / timedelta(hours=1))
            del self.open[fingerprint]
            return
        episode = replace(
            episode,
            last_notified_at=decision.last_notified_at,
            ok_hours=decision.ok_hours,
            ok_since=decision.ok_since,
        )
        self.open[fingerprint] = (episode, alarm)


def summary_of(stats: np.ndarray, counts: dict, hour: datetime) -> HourSummary:
    index = {name: FIELDS.index(name) for name in MEDIAN_COLUMNS}
    medians = (
        {name: float(np.median(stats[:, i])) for name, i in index.items()} if len(stats) else {}
    )
    return HourSummary(hour=hour, n=len(stats), medians=medians, counts=counts)


def as_sample(stats: np.ndarray, size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    if len(stats) > size:
        stats = stats[rng.choice(len(stats), size, replace=False)]
    return {name: stats[:, i] for i, name in enumerate(FIELDS)}


def run(stations: list[Station], days: int, pools: dict[str, np.ndarray], settings: Settings):
    """Every hour of every station through the rules; the alarms of the monitor and of the
    baselines, and the hours judged."""
    monitor = Tracker(settings)
    seed_rule = Tracker(settings)
    evidently = Tracker(settings)
    references: dict[str, Reference] = {}
    history: dict[str, list[HourSummary]] = defaultdict(list)
    raw: dict[str, list[tuple[int, np.ndarray, dict]]] = defaultdict(list)  # recent hours
    volumes: dict[str, dict[datetime, int]] = defaultdict(dict)
    reference_hours: dict[str, list] = defaultdict(list)
    checks: list[tuple[bool, bool]] = []
    rng = np.random.default_rng(0)
    total_hours = (REFERENCE_DAYS + days) * 24
    limits = Limits.from_settings(settings)
    started = time.perf_counter()
    for t in range(total_hours):
        hour = START + timedelta(hours=t)
        hour_data = {s.name: hour_of(s, t, pools) for s in stations}
        if t == REFERENCE_DAYS * 24:
            for s in stations:
                hours = [h for h in reference_hours[s.name] if len(h[1])]
                references[s.name] = reference_from_hours(
                    s.name,
                    [as_sample(stats, 10**9, rng) for _, stats, _ in hours],
                    [START + timedelta(hours=ht) for ht, _, _ in hours],
                    {c: sum(h[2][c] for h in hours) for c in CLASSES},
                    sample_size=settings.reference_sample_size,
                    limits=limits,
                    seed=int(s.name[1:]),
                )
        if t < REFERENCE_DAYS * 24:
            for s in stations:
                stats, counts = hour_data[s.name]
                reference_hours[s.name].append((t, stats, counts))
        else:
            results = []
            for s in stations:
                stats, counts = hour_data[s.name]
                window = _window(s, t, stats, counts, history, raw, volumes, settings, rng)
                results += evaluate_all(window, references[s.name], settings)
                _baselines(s, t, stats, counts, references[s.name], seed_rule, evidently, checks)
            for result in diagnose(results):
                quiet = bool(result.evidence.get("inhibited_by"))
                station = result.station_id or "site"
                monitor.apply(
                    result.fingerprint, result.rule, station, result.state, t, quiet, result.summary
                )
        for s in stations:
            stats, counts = hour_data[s.name]
            history[s.name].append(summary_of(stats, counts, hour))
            history[s.name] = history[s.name][-HISTORY_HOURS:]
            raw[s.name] = [*raw[s.name][-(settings.drift_max_pool_hours - 1) :], (t, stats, counts)]
            volumes[s.name][hour] = len(stats)
        if t % (24 * 7) == 24 * 7 - 1 or t == total_hours - 1:
            took = time.perf_counter() - started
            print(f"  day {(t + 1) // 24}/{total_hours // 24} ({took:.0f} s)", flush=True)
    return monitor.alarms, seed_rule.alarms, evidently.alarms, checks


def _window(s, t, stats, counts, history, raw, volumes, settings, rng) -> Window:
    hour = START + timedelta(hours=t)
    n = len(stats)
    window = Window(
        hour=hour,
        station_id=s.name,
        n=n,
        counts=counts,
        latency_p95_ms=40.0 if n else None,
        sample=as_sample(stats, settings.drift_sample_size, rng) if n else {},
        history=tuple(history[s.name]),
        expected_n=expected_volume(volumes[s.name], hour),
    )
    if 0 < n < settings.drift_min_predictions:
        span = pool_span(
            volumes[s.name], hour, n, settings.drift_min_predictions, settings.drift_max_pool_hours
        )
        if span is not None:
            since = span[0]
            first = int((since - START) / timedelta(hours=1))
            parts = [(st, c) for ht, st, c in raw[s.name] if ht >= first] + [(stats, counts)]
            pooled = np.concatenate([st for st, _ in parts])
            pooled_counts = {c: sum(p[1][c] for p in parts) for c in CLASSES}
            window = replace(
                window,
                pool=Pool(
                    since=since,
                    hours=span[1],
                    n=len(pooled),
                    counts=pooled_counts,
                    sample=as_sample(pooled, settings.drift_sample_size, rng),
                ),
            )
    return window


def _baselines(s, t, stats, counts, reference, seed_rule, evidently, checks) -> None:
    n = len(stats)
    share = counts["critical"] / n if n else 0.0
    state = ("firing" if share > 0.10 else "ok") if n else "skipped"
    seed_rule.apply(s.name, "seed: critical > 10 %", s.name, state, t, False)
    if not n:
        evidently.apply(s.name, "Evidently drift", s.name, "skipped", t, False)
        return
    drifted = [
        ks_2samp(reference.sample[name], stats[:, i]).pvalue < 0.05 for i, name in enumerate(FIELDS)
    ]
    dataset = sum(drifted) >= 0.5 * len(drifted)
    evidently.apply(s.name, "Evidently drift", s.name, "firing" if dataset else "ok", t, False)
    if len(checks) < EVIDENTLY_CHECK_HOURS and n >= 30 and (dataset or len(checks) % 2 == 0):
        from monitor import drift

        run = drift.run_drift(
            dict(reference.sample), as_sample(stats, 10**9, np.random.default_rng(0)), list(FIELDS)
        )
        theirs = [run.tests[name].drifted for name in FIELDS]
        checks.append((theirs == drifted, dataset))


# -- scoring -------------------------------------------------------------------------------


def faulty_days(stations: list[Station]) -> set[tuple[str, int]]:
    """Station-days a fault touches, with the day after (not clean)."""
    out = set()
    for s in stations:
        if s.fault is not None:
            for day in range(s.fault.start // 24, (s.fault.end + 24) // 24 + 1):
                out.add((s.name, day))
    return out


def score(stations, days, alarms, seed_alarms, evidently_alarms) -> None:
    judged_days = range(REFERENCE_DAYS, REFERENCE_DAYS + days)
    dirty = faulty_days(stations)
    clean_days = sum(1 for s in stations for d in judged_days if (s.name, d) not in dirty)
    paged = [a for a in alarms if a.notified]

    print("\nFaults: the expected rule on the faulty station (delay 0 = its first faulty hour)")
    header = (
        f"{'fault':<8}{'n':>3}{'found':>7}{'median':>8}{'worst':>7}{'resolved':>10}"
        f"  {'quiet (<100/h) delays':<22}  also fired"
    )
    print(header)
    print("-" * len(header))
    for kind in KINDS:
        faults = [s.fault for s in stations if s.fault is not None and s.fault.kind == kind]
        if not faults:
            continue
        delays, resolved, quiet_delays, others = [], 0, [], defaultdict(int)
        for fault in faults:
            station = next(s for s in stations if s.name == fault.station)
            mine = [
                a
                for a in paged
                if a.station == fault.station and fault.start - 1 <= a.start < fault.end + 2
            ]
            hit = [a for a in mine if a.rule == EXPECTED_RULE[kind]]
            for a in mine:
                if a.rule != EXPECTED_RULE[kind]:
                    others[a.rule] += 1
            if hit:
                delay = hit[0].start - fault.start
                delays.append(delay)
                if station.volume < 100:
                    quiet_delays.append(delay)
                if hit[0].end is not None and hit[0].end <= fault.end + 2:
                    resolved += 1
        also = ", ".join(f"{rule} {count}" for rule, count in sorted(others.items())) or "-"
        print(
            f"{kind:<8}{len(faults):>3}{len(delays):>4}/{len(faults):<2}"
            f"{_h(statistics.median(delays)) if delays else '-':>8}"
            f"{_h(max(delays)) if delays else '-':>7}{resolved:>7}/{len(delays):<2}"
            f"  {', '.join(map(str, quiet_delays)) or '-':<22}  {also}"
        )

    def false(alarm_list, rule=None) -> int:
        return sum(
            1
            for a in alarm_list
            if (rule is None or a.rule == rule)
            and (a.station, a.start // 24) not in dirty
            and a.start >= REFERENCE_DAYS * 24
        )

    print(f"\nFalse alarms on {clean_days} clean station-days (per 100 station-days)")
    rules = sorted(
        {a.rule for a in paged}
        | set(EXPECTED_RULE.values())
        | {"class_drift", "critical_drop", "no_data"}
    )
    for rule in rules:
        count = false(paged, rule)
        print(f"  {rule:<22}{count:>5}  {100 * count / clean_days:>6.2f}")
    for a in paged:
        if (a.station, a.start // 24) not in dirty and a.start >= REFERENCE_DAYS * 24:
            print(f"    {a.station} day {a.start // 24} {a.start % 24:02d}:00  {a.summary[:150]}")
    total = false(paged)
    print(f"  {'beltwatch, all rules':<22}{total:>5}  {100 * total / clean_days:>6.2f}")
    seed_false, evid_false = false(seed_alarms), false(evidently_alarms)
    print(f"  {'seed rule (> 10 %)':<22}{seed_false:>5}  {100 * seed_false / clean_days:>6.2f}")
    print(f"  {'Evidently per hour':<22}{evid_false:>5}  {100 * evid_false / clean_days:>6.2f}")

    print("\nBaselines on the faults (the same windows)")
    for name, alarm_list in (("seed rule", seed_alarms), ("Evidently", evidently_alarms)):
        found = []
        for s in stations:
            fault = s.fault
            if fault is None:
                continue
            hit = [
                a
                for a in alarm_list
                if a.station == s.name and fault.start <= a.start < fault.end + 2
            ]
            found.append((fault.kind, hit[0].start - fault.start if hit else None))
        per = ", ".join(
            f"{kind} {sum(1 for k, d in found if k == kind and d is not None)}/"
            f"{sum(1 for k, _ in found if k == kind)}"
            for kind in KINDS
        )
        print(f"  {name:<10} found: {per}")


def _h(value: float) -> str:
    return f"{value:g} h"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stations", type=int, default=40)
    parser.add_argument(
        "--days", type=int, default=28, help="judged days after the 3 reference days"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "beltwatch")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SETTING=VALUE",
        help="override a default setting (e.g. cusum_h=8), to compare limits",
    )
    args = parser.parse_args()

    stop = f"daily {STOP[0]:02d}:00-{STOP[1]:02d}:00"
    stopped = [f"S{i:02d}" for i in range(args.stations) if i % 4 == 3]
    overrides = dict(item.split("=", 1) for item in args.set)
    settings = Settings(**overrides, planned_stops=[f"{stop} on {name}" for name in stopped])
    print(
        f"beltwatch detection benchmark: {args.stations} stations, {REFERENCE_DAYS} reference "
        f"days + {args.days} judged, seed {args.seed}, default settings"
        + (f" but {', '.join(args.set)}" if args.set else "")
    )
    started = time.perf_counter()
    pools = frame_stats(args.seed, args.cache)
    stations = site(args.stations, args.days, args.seed)
    alarms, seed_alarms, evidently_alarms, checks = run(stations, args.days, pools, settings)
    score(stations, args.days, alarms, seed_alarms, evidently_alarms)
    agree = sum(ok for ok, _ in checks)
    print(
        f"\nEvidently itself agreed with the scipy baseline on {agree} of {len(checks)} "
        f"checked hours; total {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
