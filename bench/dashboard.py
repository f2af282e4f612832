"""Dashboard benchmark: the render time of every page with 30 days of 20 stations, against
the same page with 1 day of 3 stations, in one run.

    python bench/dashboard.py [--days 30] [--stations 20] [--per-hour 100] [--monitor-days 3]
                              [--url postgresql://postgres@127.0.0.1:5432/postgres] [--keep]

Two databases are seeded (on the server `--url` names, an administrative URL, else an
embedded PostgreSQL): the large one with `--days` days of `--stations` stations at about
`--per-hour` predictions an hour each, ending now (the open hour's rows so far included),
and the baseline with 1 day of 3 stations. Predictions are generated in SQL with the
statistics of tests/monitor/daygen.py, hour-to-hour wobble included, and faults counted
back from the open hour: S00 with a dirty lens in the last 6 hours and two days
before, S01 with one 30 hours and 10 days back, S02's light failing, a damage wave at S03,
S04 silent for 4 hours (inside a maintenance silence). Minor and critical frames, and 1
in 20 others (the worker's evidence sample), have an `image_ref` (no files: the pages say
the image expired), and each day has `--labels-per-day` labels by two reviewers, more often
disagreeing with the model in a fault's hours. Every hour is rolled up, references are
set from the first 2 days (half the range for the baseline's single day), and the real
hourly monitor (`run_range`, with Slack and a webhook configured so the outbox fills)
judges the last `--monitor-days` days (3 days of 20 stations: about 3 minutes on 2
cores); earlier hours are marked done in `monitor_runs`. Notifications older than the
last hour are marked delivered, as a dispatcher would have.

Then every page script in dashboards/views/ is rendered with Streamlit's AppTest against
each database in a fresh Python process: "cold" is that process's first run, straight
onto the page, timed from after Streamlit and AppTest are imported (so it includes the
dashboard's own imports, its engine and every read); "warm" is the median of `--runs`
further runs in the same process (reads cached). Of the `BELTWATCH_*` variables the
process gets only the database URL and a data directory: it renders with the default
settings. Goal: every page under 1.5 s warm and 4 s cold with 30 days x 20 stations.
For a page that misses it, one more process (under `-X importtime`) times the imports of
its cold run and each SQL statement of its cold and warm runs; the slowest are listed.
A missed goal is reported, not an error: the exit status is 1 only when seeding fails or
a page fails to render.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Only the standard library at the top: the child process that times a cold page imports
# this module, and must not have imported anything of the dashboard's before its clock
# starts. beltwatch, SQLAlchemy and psycopg are imported where the seeding uses them.
if TYPE_CHECKING:
    from sqlalchemy import URL, Connection

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

APP = ROOT / "dashboards" / "app.py"
VIEWS = ROOT / "dashboards" / "views"
BASELINE = (1, 3)  # days, stations
WARM_GOAL_S = 1.5
COLD_GOAL_S = 4.0
PAGE_TIMEOUT_S = 300
RESULT = "RESULT "  # prefix of the child process's line of figures
CLOCK = "BENCH CLOCK STARTS"  # what the child writes to stderr before its cold run
SLOWEST_SHOWN = 3
# The dashboard's one-line failures (context.UNREACHABLE, context.settings_or_message).
PAGE_FAILURES = ("The database cannot be reached", "Invalid configuration")


@dataclass(frozen=True)
class Fault:
    """Station S<station> is faulty for `hours` hours, from `back` hours before the open
    hour."""

    station: int
    back: int
    hours: int
    lens: float = 0.0
    dim: float = 0.0
    critical: float | None = None
    silent: bool = False


FAULTS = (
    Fault(0, 6, 6, lens=0.8, critical=0.12),  # still firing when the pages render
    Fault(0, 54, 5, lens=0.8, critical=0.12),
    Fault(1, 30, 6, lens=0.7),
    Fault(1, 10 * 24 + 3, 6, lens=0.7),  # before the monitored days: only the rollups show it
    Fault(2, 40, 7, dim=0.9),
    Fault(3, 20, 4, critical=0.3),
    Fault(4, 14, 4, silent=True),
)

NORMAL = "sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())"  # Box-Muller

# A row per (station, hour): its volume (0 when silent; the open hour's share so far), its
# fault and wobble; then that many predictions shaped as tests/monitor/daygen.py's.
GENERATE = f"""
INSERT INTO predictions (id, captured_at, station_id, model_version, predicted_class,
    p_undamaged, p_minor, p_critical, latency_ms, brightness, blur, sharpness,
    sharpness_tile_min, contrast, clipped_dark, clipped_bright, luma_p01, luma_p99,
    mean_r, mean_g, mean_b, action, image_ref)
SELECT gen_random_uuid(), moment, s, 'cnn-int8-1', cls,
       CASE cls WHEN 'undamaged' THEN top ELSE (1 - top) / 2 END,
       CASE cls WHEN 'minor' THEN top ELSE (1 - top) / 2 END,
       CASE cls WHEN 'critical' THEN top ELSE (1 - top) / 2 END,
       greatest(0.5, 9 + 2 * z4), b, sh * c * c, sh,
       sh * (0.35 + 0.4 * random()) * (1 - 0.5 * lens), c,
       least(1, 1 - power(1 - random(), 1.0 / 200) + 0.12 * dim),
       1 - power(1 - random(), 1.0 / 300),
       greatest(0, 9 + 3 * z3 + 22 * lens - 6 * dim), least(255, b + 2.3 * c),
       b * 1.05, b, b * 0.9,
       CASE cls WHEN 'critical' THEN 'divert' WHEN 'minor' THEN 'review' ELSE 'none' END,
       CASE WHEN cls <> 'undamaged' OR random() < 0.05 THEN
           substr(ref, 1, 2) || '/' || substr(ref, 3, 2) || '/' || ref || '.jpg' END
FROM (
  SELECT s, lens, dim, z3, z4, top, moment, md5(random()::text) || md5(random()::text) ref,
         CASE WHEN crit IS NULL THEN
                CASE WHEN u < 0.80 THEN 'undamaged' WHEN u < 0.97 THEN 'minor' ELSE 'critical' END
              WHEN u < (1 - crit) * 0.82 THEN 'undamaged'
              WHEN u < 1 - crit THEN 'minor'
              ELSE 'critical'
         END cls,
         least(250, greatest(5, 118 + bh + 11 * z1 - 45 * dim)) + 10 * lens b,
         exp(ln(0.35) + shh + 0.5 * z2) * (1 - 0.65 * lens) sh,
         greatest(5, 45 + 7 * z5) * (1 - 0.25 * lens - 0.3 * dim) c
  FROM (
    SELECT sh.s, sh.lens, sh.dim, sh.crit, sh.bh, sh.shh, random() u,
           0.55 + 0.43 * random() top,
           sh.h + random() * least(interval '1 hour', now() - sh.h) moment,
           {NORMAL} z1, {NORMAL} z2, {NORMAL} z3, {NORMAL} z4, {NORMAL} z5
    FROM (
      SELECT 'S' || lpad(k::text, 2, '0') s, h,
             coalesce(f.lens, 0) lens, coalesce(f.dim, 0) dim, f.critical crit,
             2.0 * {NORMAL} bh, 0.04 * {NORMAL} shh,
             CASE WHEN f.silent THEN 0
                  ELSE round(:per_hour * (0.85 + 0.3 * random())
                             * least(1, extract(epoch FROM now() - h) / 3600))::int END n
      FROM generate_series(0, :stations - 1) k
      CROSS JOIN generate_series(CAST(:since AS timestamptz), CAST(:until AS timestamptz)
                                 - interval '1 hour', interval '1 hour') h
      LEFT JOIN bench_faults f ON f.station = k AND f.hour = h
    ) sh
    CROSS JOIN LATERAL generate_series(1, sh.n) g
  ) x
) y
"""

# Each day's labels: `per_day` of its kept frames at random, by two reviewers; a label
# disagrees with the model in 8 % of ordinary hours and in 40 % of a fault's.
LABEL = """
INSERT INTO reviews (prediction_id, captured_at, true_class, reviewer, reviewed_at)
SELECT id, captured_at,
       CASE WHEN random() >= CASE WHEN faulty THEN 0.4 ELSE 0.08 END THEN predicted_class
            WHEN predicted_class = 'critical' THEN 'minor'
            WHEN random() < 0.7 THEN 'undamaged'
            ELSE 'critical' END,
       CASE WHEN random() < 0.6 THEN 'alice' ELSE 'bob' END,
       least(now(), captured_at + interval '1 hour' * (1 + 30 * random()))
FROM (
  SELECT p.id, p.captured_at, p.predicted_class, f.station IS NOT NULL faulty,
         row_number() OVER (PARTITION BY date_trunc('day', p.captured_at) ORDER BY random()) k
  FROM predictions p
  LEFT JOIN bench_faults f
    ON 'S' || lpad(f.station::text, 2, '0') = p.station_id
   AND f.hour = date_trunc('hour', p.captured_at)
  WHERE p.image_ref IS NOT NULL
) kept
WHERE k <= :per_day
"""


@dataclass(frozen=True)
class Seeded:
    """A seeded database: its URL, what it holds and how long each step took."""

    url: URL
    counts: dict[str, int]
    monitored_hours: int
    seconds: dict[str, float]


def seed(
    server: URL,
    name: str,
    *,
    days: int,
    stations: int,
    per_hour: int,
    monitor_days: int,
    labels_per_day: int,
    data_dir: Path,
) -> Seeded:
    """Create database `name` on `server` and fill it (see the module docstring)."""
    from sqlalchemy import text

    from monitor.calibration import Limits
    from monitor.core.db import migrate, partitions
    from monitor.core.db.engine import create_database, libpq_dsn, make_engine
    from monitor.core.queries import rollups
    from monitor.core.settings import load_settings
    from monitor.hourly import floor_hour, run_range
    from monitor.reference import build_reference

    create_database(libpq_dsn(server), name)
    url = server.set(drivername="postgresql+psycopg", database=name)
    settings = load_settings(
        database_url=url.render_as_string(hide_password=False),
        data_dir=data_dir,
        slack_webhook_url="https://hooks.slack.com/services/T0/B0/bench",
        webhook_url="http://127.0.0.1:9/bench",  # nothing is sent: no dispatcher runs
    )
    opened = floor_hour(datetime.now(UTC))
    first = opened - timedelta(days=days)
    reference_end = first + timedelta(hours=min(48, days * 12))
    monitor_from = max(reference_end, opened - timedelta(days=monitor_days))
    seconds: dict[str, float] = {}
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        started = time.perf_counter()
        with engine.begin() as conn:
            partitions.ensure_ahead(conn, opened.date(), settings.partitions_ahead_days)
            partitions.ensure_days(conn, [(first + timedelta(days=n)).date() for n in range(days)])
            _faults(conn, reference_end, opened, stations)
            for since in _hours(first, opened + timedelta(hours=1), step=24):
                until = min(since + timedelta(days=1), opened + timedelta(hours=1))
                conn.execute(
                    text(GENERATE),
                    {"since": since, "until": until, "stations": stations, "per_hour": per_hour},
                )
            conn.execute(text(LABEL), {"per_day": labels_per_day})
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        seconds["predictions"] = time.perf_counter() - started

        started = time.perf_counter()
        with engine.begin() as conn:
            for hour in _hours(first, monitor_from):
                rollups.write_hour(conn, hour)
            conn.execute(
                text(
                    "INSERT INTO monitor_runs (hour, status, finished_at) "
                    "SELECT h, 'done', now() FROM generate_series(CAST(:first AS timestamptz), "
                    "CAST(:last AS timestamptz), interval '1 hour') h"
                ),
                {"first": first, "last": monitor_from - timedelta(hours=1)},
            )
        seconds["rollups"] = time.perf_counter() - started

        started = time.perf_counter()
        with engine.begin() as conn:
            for k in range(stations):
                build_reference(
                    conn,
                    f"S{k:02d}",
                    first,
                    reference_end,
                    sample_size=settings.reference_sample_size,
                    limits=Limits.from_settings(settings),
                    set_by="bench",
                )
            _silences(conn, opened)
        seconds["references"] = time.perf_counter() - started

        started = time.perf_counter()
        outcome = run_range(engine, settings, monitor_from, opened)
        failed = [hour.hour.isoformat() for hour in outcome.hours if not hour.ok]
        if outcome.skipped or failed:
            raise RuntimeError(f"the monitor failed the hours {failed or 'all (lock held)'}")
        seconds["monitor"] = time.perf_counter() - started

        with engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE notifications SET status = 'delivered', attempts = 1, "
                    "delivered_at = hour + interval '65 minutes' WHERE hour < :last"
                ),
                {"last": opened - timedelta(hours=1)},
            )
            conn.execute(text("ANALYZE"))
            counts = {
                table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in ("predictions", "hourly_rollups", "alerts", "notifications", "reviews")
            }
        monitored = (opened - monitor_from) // timedelta(hours=1)
        return Seeded(url, counts, monitored, seconds)
    finally:
        engine.dispose()


def _hours(since: datetime, until: datetime, step: int = 1) -> list[datetime]:
    """The starts of the `step`-hour steps from `since` up to `until` (excluded)."""
    count = -(-((until - since) // timedelta(hours=1)) // step)
    return [since + timedelta(hours=step * n) for n in range(count)]


def _faults(conn: Connection, since: datetime, opened: datetime, stations: int) -> None:
    """A temporary table of FAULTS' station-hours (those in [since, opened) of stations
    that exist): the generator and the labels read it."""
    from sqlalchemy import text

    conn.execute(
        text(
            "CREATE TEMPORARY TABLE bench_faults (station int, hour timestamptz, lens float, "
            "dim float, critical float, silent bool, PRIMARY KEY (station, hour)) "
            "ON COMMIT DROP"
        )
    )
    rows = [
        {
            "station": fault.station,
            "hour": opened - timedelta(hours=fault.back - n),
            "lens": fault.lens,
            "dim": fault.dim,
            "critical": fault.critical,
            "silent": fault.silent,
        }
        for fault in FAULTS
        for n in range(fault.hours)
        if fault.station < stations and opened - timedelta(hours=fault.back - n) >= since
    ]
    if rows:
        conn.execute(
            text(
                "INSERT INTO bench_faults VALUES (:station, :hour, :lens, :dim, :critical, :silent)"
            ),
            rows,
        )


def _silences(conn: Connection, opened: datetime) -> None:
    """A past silence over S04's silent hours and one still running."""
    from monitor.core.queries import silences

    silences.add_silence(
        conn,
        rule=None,
        station_id="S04",
        starts_at=opened - timedelta(hours=15),
        ends_at=opened - timedelta(hours=9),
        created_by="alice",
        comment="belt 4 maintenance",
    )
    silences.add_silence(
        conn,
        rule="latency",
        station_id="S1*",
        starts_at=opened - timedelta(hours=2),
        ends_at=opened + timedelta(days=1),
        created_by="bob",
        comment="new model rolling out on the S1x belts",
    )


def pages() -> list[str]:
    """The page scripts, relative to the app's directory (views/alerts.py, ...)."""
    return [
        f"views/{path.name}" for path in sorted(VIEWS.glob("*.py")) if path.name != "__init__.py"
    ]


def measure(page: str, runs: int, profile: bool) -> dict[str, Any]:
    """In this (fresh) process: the cold run of `page`, then `runs` warm runs; with
    `profile`, each SQL statement's time too (SQLAlchemy is then imported before the
    clock starts) and a mark on stderr where it starts (for `-X importtime`)."""
    from streamlit.testing.v1 import AppTest

    statements: list[tuple[float, str]] = []
    if profile:
        _time_statements(statements)
        print(CLOCK, file=sys.stderr, flush=True)
    app = AppTest.from_file(str(APP), default_timeout=PAGE_TIMEOUT_S)
    # Before the first run the page is found by its file name: the first run is the page's.
    app.switch_page(page)
    started = time.perf_counter()
    app.run()
    cold = time.perf_counter() - started
    problems = _problems(app)
    headings = _headings(app)
    cold_sql = list(statements)
    statements.clear()
    app.switch_page(page)  # now resolved through the navigation the first run registered
    warm = []
    for _ in range(runs):
        started = time.perf_counter()
        app.run()
        warm.append(time.perf_counter() - started)
        problems += _problems(app)
    if _headings(app) != headings:
        problems.append(f"the cold run showed {headings}, the warm runs {_headings(app)}")
    return {
        "cold": cold,
        "warm": warm,
        "cold_sql": sorted(cold_sql, reverse=True),
        "warm_sql": sorted(statements, reverse=True),
        "problems": problems,
    }


def _time_statements(statements: list[tuple[float, str]]) -> None:
    from sqlalchemy import Engine, event

    def before(conn, cursor, statement, parameters, context, executemany) -> None:
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def after(conn, cursor, statement, parameters, context, executemany) -> None:
        took = time.perf_counter() - conn.info["bench_started"].pop()
        statements.append((took, " ".join(statement.split())[:150]))

    event.listen(Engine, "before_cursor_execute", before)
    event.listen(Engine, "after_cursor_execute", after)


def _problems(app: Any) -> list[str]:
    found = [f"exception: {e.message}" for e in app.exception]
    found += [e.value for e in app.error if str(e.value).startswith(PAGE_FAILURES)]
    return found


def _headings(app: Any) -> list[str]:
    return [str(e.value) for e in app.title] or [str(e.value) for e in app.header]


def run_child(page: str, url: URL, data_dir: Path, runs: int, profile: bool) -> dict[str, Any]:
    """`measure` in a fresh Python process pointed at the database `url`; with `profile`
    also `imports`: the modules the cold run imported first-hand, slowest first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BELTWATCH_")}
    env["BELTWATCH_DATABASE_URL"] = url.render_as_string(hide_password=False)
    env["BELTWATCH_DATA_DIR"] = str(data_dir)
    python = [sys.executable, "-X", "importtime"] if profile else [sys.executable]
    done = subprocess.run(
        [*python, __file__, "--measure", page, "--runs", str(runs)] + ["--profile"] * profile,
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=PAGE_TIMEOUT_S * (runs + 1),
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT)]
    if done.returncode != 0 or not lines:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        return {"problems": [f"the measuring process exited {done.returncode}:\n{tail}"]}
    result = json.loads(lines[-1][len(RESULT) :])
    if profile:
        result["imports"] = _imports_after_clock(done.stderr)
    return result


def _imports_after_clock(stderr: str) -> list[tuple[float, str]]:
    """(seconds, module) of the outermost imports `-X importtime` reported after CLOCK
    (lines `import time: self | cumulative | name`, nesting shown by indenting the name)."""
    found = []
    for line in stderr.split(CLOCK, 1)[-1].splitlines():
        parts = line.split("|")
        if line.startswith("import time:") and len(parts) == 3 and not parts[2][1:2].isspace():
            found.append((int(parts[1]) / 1e6, parts[2].strip()))
    return sorted(found, reverse=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--stations", type=int, default=20)
    parser.add_argument("--per-hour", type=int, default=100, help="predictions a station-hour")
    parser.add_argument("--monitor-days", type=int, default=3, help="days the monitor judges")
    parser.add_argument("--labels-per-day", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5, help="warm runs (their median counts)")
    parser.add_argument("--url", default=os.environ.get("BELTWATCH_DATABASE_URL"))
    parser.add_argument("--keep", action="store_true", help="keep the databases; print URLs")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # the child process's page
    parser.add_argument("--profile", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.keep and not args.url:
        parser.error("--keep needs --url: the embedded server goes with its temporary directory")
    if args.measure:
        print(RESULT + json.dumps(measure(args.measure, args.runs, args.profile)))
        return 0

    from sqlalchemy import make_url

    from monitor.core.db.engine import libpq_dsn, start_embedded

    # The monitor logs every alert it fires; the seeding's counts say enough.
    logging.getLogger("monitor").setLevel(logging.ERROR)

    with tempfile.TemporaryDirectory() as tmp:
        server = make_url(args.url) if args.url else make_url(start_embedded(Path(tmp) / "pg"))
        shapes = {"large": (args.days, args.stations), "baseline": BASELINE}
        names = {key: f"bw_bench_{uuid.uuid4().hex[:8]}" for key in shapes}
        seeded: dict[str, Seeded] = {}
        try:
            for key, (days, stations) in shapes.items():
                seeded[key] = seed(
                    server,
                    names[key],
                    days=days,
                    stations=stations,
                    per_hour=args.per_hour,
                    monitor_days=args.monitor_days,
                    labels_per_day=args.labels_per_day,
                    data_dir=Path(tmp) / key,
                )
                _print_seeded(days, stations, seeded[key])
            return _report(args, seeded, Path(tmp))
        finally:
            if args.keep:
                for db in seeded.values():
                    print(f"kept {db.url.render_as_string(hide_password=True)}")
            else:
                import psycopg

                with psycopg.connect(libpq_dsn(server), autocommit=True) as conn:
                    for name in names.values():
                        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _print_seeded(days: int, stations: int, db: Seeded) -> None:
    took = ", ".join(f"{step} {s:.1f} s" for step, s in db.seconds.items())
    held = ", ".join(f"{n:,} {table}" for table, n in db.counts.items())
    print(
        f"{days} d x {stations} stations: {held}; {db.monitored_hours} h judged; {took}",
        flush=True,
    )


def _report(args: argparse.Namespace, seeded: dict[str, Seeded], tmp: Path) -> int:
    """Time every page on both databases, print the table and, for a page that misses
    the goal, where its time goes; 1 if a page failed to render."""
    large, baseline = seeded["large"], seeded["baseline"]
    big, small = f"{args.days}x{args.stations}", f"{BASELINE[0]}x{BASELINE[1]}"
    print(
        f"\n{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, {datetime.now(UTC):%Y-%m-%d}."
        f" Cold: a fresh process's first run; warm: median of {args.runs} runs after it."
        f" Goal at {big}: < {COLD_GOAL_S} s cold, < {WARM_GOAL_S} s warm."
    )
    print(
        f"{'page':<22}{f'cold s {big}':>14}{f'cold s {small}':>12}{f'warm s {big}':>14}"
        f"{f'warm s {small}':>12}{'warm ratio':>12}  goal met"
    )
    failed, missed = False, []
    for page in pages():
        ours = run_child(page, large.url, tmp / "large", args.runs, profile=False)
        theirs = run_child(page, baseline.url, tmp / "baseline", args.runs, profile=False)
        problems = ours["problems"] + theirs["problems"]
        if problems:
            failed = True
            print(f"{page:<22}failed: " + "; ".join(problems))
            continue
        warm, warm_small = statistics.median(ours["warm"]), statistics.median(theirs["warm"])
        met = ours["cold"] < COLD_GOAL_S and warm < WARM_GOAL_S
        print(
            f"{page:<22}{ours['cold']:>14.2f}{theirs['cold']:>12.2f}{warm:>14.2f}"
            f"{warm_small:>12.2f}{warm / warm_small:>11.1f}x  {'yes' if met else 'no'}",
            flush=True,
        )
        if not met:
            missed.append(page)
    for page in missed:
        _where_time_goes(page, run_child(page, large.url, tmp / "large", args.runs, profile=True))
    return 1 if failed else 0


def _where_time_goes(page: str, profiled: dict[str, Any]) -> None:
    """The imports and SQL statements of a profiled cold run, and the SQL of its warm runs."""
    imports = profiled.get("imports", [])
    print(
        f"\n{page}: cold run {profiled['cold']:.2f} s (profiled); imports "
        f"{sum(s for s, _ in imports):.2f} s: "
        + ", ".join(f"{name} {s:.2f}" for s, name in imports[:5])
    )
    for run, runs in (("cold", 1), ("warm", len(profiled["warm"]))):
        executed = profiled[f"{run}_sql"]
        print(
            f"  {run} run: SQL {sum(s for s, _ in executed) / runs:.2f} s in "
            f"{len(executed) / runs:.0f} statements a run; slowest:"
        )
        for took, statement in executed[:SLOWEST_SHOWN]:
            print(f"    {took:7.3f}  {statement}")


if __name__ == "__main__":
    sys.exit(main())
