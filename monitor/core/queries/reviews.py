"""The `reviews` table: people's labels of kept frames, and what the labels say about the
model.

A frame has at most one label (UNIQUE prediction_id). Labelling it again replaces the class,
the reviewer, the time and the comment: the latest judgement is the one that counts, and
it names who gave it. A label has no foreign key to `predictions` (a prediction expires
with its daily partition, its label stays), so every read that needs the prediction joins
on both `id` and `captured_at`: the partition key lets Postgres prune to one day.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, RowMapping, func, select, text

from monitor.core.db.models import Prediction, Review
from monitor.core.vocabulary import PROB_FIELDS, STAT_FIELDS

# The rules that say a camera is at fault: monitor.rules.CAUSES, which the core may not
# import (a test keeps the two equal).
CAMERA_RULES = ("lens_drift", "lighting_drift")

_P = Prediction.__table__
_R = Review.__table__
_FRAME_COLUMNS = ("id", "captured_at", "station_id", "model_version", "predicted_class")
_LABEL_COLUMNS = ("true_class", "reviewer", "reviewed_at", "comment")
_LOOK_BACK = (timedelta(days=1), timedelta(days=7))  # kept_frames' first reaches


def kept_frames(
    conn: Connection,
    *,
    since: datetime,
    until: datetime,
    stations: Sequence[str] = (),
    classes: Sequence[str] = (),
    labelled: bool = False,
    limit: int,
) -> list[RowMapping]:
    """Predictions with a kept image (`image_ref`) captured in [since, until), newest
    first, at most `limit`: those without a label, or with `labelled` all of them. Each
    row has the prediction (probabilities, statistics, action, image_ref) and its label's
    true_class, reviewer, reviewed_at and comment (None when unlabelled). An empty filter
    admits every station or predicted class."""
    columns = [
        *(_P.c[name] for name in (*_FRAME_COLUMNS, *PROB_FIELDS, *STAT_FIELDS)),
        _P.c.action,
        _P.c.image_ref,
        *(_R.c[name] for name in _LABEL_COLUMNS),
    ]
    query = (
        select(*columns)
        .select_from(_P.outerjoin(_R, _R.c.prediction_id == _P.c.id))
        .where(_P.c.image_ref.is_not(None), _P.c.captured_at < until)
    )
    if not labelled:
        query = query.where(_R.c.id.is_(None))
    if stations:
        query = query.where(_P.c.station_id.in_(stations))
    if classes:
        query = query.where(_P.c.predicted_class.in_(classes))
    query = query.order_by(_P.c.captured_at.desc(), _P.c.id).limit(limit)
    # No index orders kept frames by time, so each query reads every partition it spans:
    # look back a day first (the queue is nearly always full there), then further.
    rows: list[RowMapping] = []
    for back in (*_LOOK_BACK, None):
        start = since if back is None else max(since, until - back)
        rows = list(conn.execute(query.where(_P.c.captured_at >= start)).mappings())
        if len(rows) == limit or start == since:
            break
    return rows


def label(
    conn: Connection,
    *,
    prediction_id: uuid.UUID,
    captured_at: datetime,
    true_class: str,
    reviewer: str,
    at: datetime,
    comment: str | None = None,
) -> bool:
    """Record `reviewer`'s label of a frame at `at`; a frame labelled before takes the new
    class, reviewer, time and comment (one row per frame). False when the prediction is no
    longer stored (its day was dropped), so there is nothing to label."""
    written = conn.execute(
        text(
            "INSERT INTO reviews (prediction_id, captured_at, true_class, reviewer, "
            "reviewed_at, comment) "
            "SELECT id, captured_at, :true_class, :reviewer, :at, :comment FROM predictions "
            "WHERE id = :id AND captured_at = :captured_at "
            "ON CONFLICT (prediction_id) DO UPDATE SET true_class = excluded.true_class, "
            "reviewer = excluded.reviewer, reviewed_at = excluded.reviewed_at, "
            "comment = excluded.comment "
            "RETURNING id"
        ),
        {
            "id": prediction_id,
            "captured_at": captured_at,
            "true_class": true_class,
            "reviewer": reviewer,
            "at": at,
            "comment": comment,
        },
    ).scalar_one_or_none()
    return written is not None


# A label's prediction: one index probe into its day's partition. LATERAL with LIMIT keeps
# the planner from hashing the labels and scanning every partition of `predictions` instead
# (it misjudges how few labels a range holds).
_PREDICTION = (
    "SELECT station_id, predicted_class FROM predictions "
    "WHERE id = r.prediction_id AND captured_at = r.captured_at LIMIT 1"
)

# One pass over the labels of a range: the counts over all of them, per day (in the site's
# zone) and per station; GROUPING() says which of the three sets a row belongs to.
_CONFUSION_SQL = f"""
SELECT CASE GROUPING((r.captured_at AT TIME ZONE :zone)::date, p.station_id)
         WHEN 3 THEN 'all' WHEN 1 THEN 'day' ELSE 'station' END AS per,
       (r.captured_at AT TIME ZONE :zone)::date AS day,
       p.station_id,
       p.predicted_class,
       r.true_class,
       count(*) AS n
FROM reviews r
CROSS JOIN LATERAL ({_PREDICTION}) p
WHERE r.captured_at >= :since AND r.captured_at < :until
GROUP BY GROUPING SETS (
    (p.predicted_class, r.true_class),
    ((r.captured_at AT TIME ZONE :zone)::date, p.predicted_class, r.true_class),
    (p.station_id, p.predicted_class, r.true_class)
)
"""


def confusion(
    conn: Connection, *, since: datetime, until: datetime, zone: str
) -> list[dict[str, Any]]:
    """Labelled frames captured in [since, until) counted by (predicted_class, true_class):
    rows with `per` 'all' (over every frame), 'day' (`day`: the capture date in `zone`) or
    'station' (`station_id`), and `n`. Frames whose prediction expired are not counted."""
    rows = conn.execute(
        text(_CONFUSION_SQL), {"since": since, "until": until, "zone": zone}
    ).mappings()
    return [
        {
            "per": row["per"],
            "day": row["day"] if row["per"] == "day" else None,
            "station_id": row["station_id"] if row["per"] == "station" else None,
            "predicted_class": row["predicted_class"],
            "true_class": row["true_class"],
            "n": int(row["n"]),
        }
        for row in rows
    ]


_AGREEMENT_SQL = f"""
SELECT faults, count(*) AS n, count(*) FILTER (WHERE agrees) AS agreed
FROM (
    SELECT coalesce(
               array_agg(DISTINCT a.rule ORDER BY a.rule) FILTER (WHERE a.rule IS NOT NULL),
               '{{}}'
           ) AS faults,
           bool_and(r.true_class = p.predicted_class) AS agrees
    FROM reviews r
    CROSS JOIN LATERAL ({_PREDICTION}) p
    LEFT JOIN alerts a
        ON a.station_id = p.station_id AND a.rule = ANY(:rules)
        AND a.started_at <= r.captured_at
        AND (a.resolved_at IS NULL OR r.captured_at < a.resolved_at)
    WHERE r.captured_at >= :since AND r.captured_at < :until
    GROUP BY r.id
) frames
GROUP BY faults
ORDER BY cardinality(faults), faults
"""


def agreement_by_camera_fault(
    conn: Connection,
    *,
    since: datetime,
    until: datetime,
    rules: Sequence[str] = CAMERA_RULES,
) -> list[dict[str, Any]]:
    """Labelled frames captured in [since, until), split by the camera alerts (`rules`) of
    their station firing when they were captured: rows of `faults` (the sorted rule names;
    empty: none firing), `n` frames and `agreed` (the label equals the prediction).
    A still-firing alert covers every frame from its start on."""
    rows = conn.execute(
        text(_AGREEMENT_SQL), {"since": since, "until": until, "rules": list(rules)}
    ).mappings()
    return [
        {"faults": tuple(row["faults"]), "n": int(row["n"]), "agreed": int(row["agreed"])}
        for row in rows
    ]


def labels_per_day(
    conn: Connection, *, since: datetime, until: datetime, zone: str
) -> dict[date, int]:
    """date (in `zone`) -> labels given (`reviewed_at`) in [since, until) that day; days
    without a label are absent. A relabelled frame counts once, on its latest label's day."""
    day = func.date(func.timezone(zone, _R.c.reviewed_at))
    rows = conn.execute(
        select(day, func.count())
        .where(_R.c.reviewed_at >= since, _R.c.reviewed_at < until)
        .group_by(day)
    ).all()
    return {moment: int(n) for moment, n in rows}
