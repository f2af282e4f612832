"""The Review & model quality page: kept frames awaiting a person's label, shown large with
the prediction and the image's statistics, and a label form (recorded with who and when);
then what the labels say about the model: realised precision and recall per class over a
range, per day and per station, and how often people agree with the model while a camera
fault fires at the frame's station (does a dirty lens make the model wrong?)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from dashboards import charts
from dashboards.context import EMPTY, day_range, local, name_input, now, read, write
from monitor.core.queries import reviews, rollups
from monitor.core.settings import Settings
from monitor.core.vocabulary import CLASSES, STAT_FIELDS, prob_field

QUEUE_LIMIT = 50  # newest kept frames listed; label them or filter to reach older ones
QUALITY_DAYS = 30  # the quality section's default range
ROWS_SHOWN = 8  # rows of the queue's table in view; it scrolls for more
ROW_PX = 35  # Streamlit's row height in a dataframe
HEALTHY = "camera healthy"
CAVEAT = (
    "Precision compares each predicted class with its own labelled frames; recall also "
    "needs the frames the model did not call that class, and undamaged calls are kept only "
    "as a small sample, so recall of minor and critical from these labels reads higher than "
    "it is (and recall of undamaged lower)."
)
DONE = "label_done"  # session-state key: what the last label did (shown after its rerun)


@dataclass(frozen=True)
class ClassScore:
    """Realised precision and recall of one class over labelled frames, with the frames
    behind each: `predicted` the model called the class, `labelled` people put in it."""

    precision: float | None
    predicted: int
    recall: float | None
    labelled: int


def class_scores(counts: Iterable[Mapping[str, Any]]) -> dict[str, ClassScore]:
    """Precision and recall of every class from rows of predicted_class, true_class, n
    (None where no frame was called, or labelled, that class)."""
    predicted = dict.fromkeys(CLASSES, 0)
    labelled = dict.fromkeys(CLASSES, 0)
    right = dict.fromkeys(CLASSES, 0)
    for row in counts:
        predicted[row["predicted_class"]] += row["n"]
        labelled[row["true_class"]] += row["n"]
        if row["predicted_class"] == row["true_class"]:
            right[row["true_class"]] += row["n"]
    return {
        cls: ClassScore(
            precision=right[cls] / predicted[cls] if predicted[cls] else None,
            predicted=predicted[cls],
            recall=right[cls] / labelled[cls] if labelled[cls] else None,
            labelled=labelled[cls],
        )
        for cls in CLASSES
    }


def image_path(root: Path, ref: str) -> Path | None:
    """The file of an image reference under the image store `root`; None when the
    reference leads outside it (an absolute path, `..`, a link out), which is never shown."""
    base = root.resolve()
    path = (base / ref).resolve()
    return path if path.is_relative_to(base) else None


def health_name(faults: Iterable[str]) -> str:
    """The camera's state in words: 'camera healthy', or the firing rules
    ('lens drift and lighting drift')."""
    names = [rule.replace("_", " ") for rule in faults]
    return " and ".join(names) if names else HEALTHY


def show(settings: Settings) -> None:
    """The page: the label queue, then model quality and agreement by camera health."""
    st.title("Review & model quality")
    _queue(settings)
    st.divider()
    st.subheader("Model quality from labels")
    since, until = day_range(settings, "Frames captured between", key="quality", days=QUALITY_DAYS)
    counts = read(
        settings, reviews.confusion, since=since, until=until, zone=settings.site_timezone
    )
    if not counts:
        st.info(
            "No labelled frame was captured in this range: label frames above, and "
            "precision and recall follow from the labels."
        )
        return
    _quality(counts)
    _agreement(settings, since, until)


def _queue(settings: Settings) -> None:
    st.subheader("Frames awaiting a label")
    days = settings.image_retention_days
    # To the open hour's end, so the reads stay cached between reruns.
    until = now().replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    since = until - timedelta(days=days)
    columns = st.columns([2, 2, 2])
    stations = columns[0].multiselect(
        "Station", read(settings, rollups.stations_since, since), key="queue_stations"
    )
    classes = columns[1].multiselect("Predicted class", CLASSES, key="queue_classes")
    labelled = columns[2].checkbox("Labelled frames too (to correct a label)", key="queue_labelled")
    who = name_input(settings, "Your name (recorded with every label)", key="who")
    if DONE in st.session_state:
        st.success(st.session_state.pop(DONE))
    frames = read(
        settings,
        reviews.kept_frames,
        since=since,
        until=until,
        stations=tuple(stations),
        classes=tuple(classes),
        labelled=labelled,
        limit=QUEUE_LIMIT,
    )
    if not frames:
        if stations or classes:
            st.info("No kept frame matches these filters.")
        elif read(settings, rollups.latest_hour) is None:
            st.info(EMPTY)
        else:
            st.success(
                f"Nothing awaits a label: every frame kept in the last {days} days is "
                "labelled. (The worker keeps every minor and critical frame and a few "
                "evidence frames of each station's hour.)"
            )
        return
    _frame_list(settings, frames, labelled=labelled)
    frame = _chosen(settings, frames)
    _frame(settings, frame, who)


def _frame_list(settings: Settings, frames: list[dict[str, Any]], *, labelled: bool) -> None:
    what = "kept frames" if labelled else "frames awaiting a label"
    kept = f"images are kept {settings.image_retention_days} days"
    if len(frames) == QUEUE_LIMIT:
        st.markdown(
            f"**The newest {QUEUE_LIMIT} {what}**: filter by station or class to reach "
            f"older ones ({kept})."
        )
    else:
        st.markdown(f"**{len(frames)} {what}**, newest first ({kept}).")
    table = {
        "captured": [local(settings, f["captured_at"]) for f in frames],
        "station": [f["station_id"] for f in frames],
        "predicted": [f["predicted_class"] for f in frames],
        "probability": [f[prob_field(f["predicted_class"])] for f in frames],
    }
    if labelled:
        table["label"] = [_label_text(settings, f) for f in frames]
    st.dataframe(
        pd.DataFrame(table),
        hide_index=True,
        width="stretch",
        height=ROW_PX * (min(len(frames), ROWS_SHOWN) + 1) + 3,
        column_config={"probability": st.column_config.NumberColumn(format="%.2f")},
    )


def _chosen(settings: Settings, frames: list[dict[str, Any]]) -> dict[str, Any]:
    by_id = {str(f["id"]): f for f in frames}
    # A frame that left the list (just labelled) gives way to the newest one.
    if st.session_state.get("queue_frame") not in by_id:
        st.session_state.pop("queue_frame", None)
    chosen = st.selectbox(
        "Frame",
        list(by_id),
        format_func=lambda key: (
            f"{local(settings, by_id[key]['captured_at'])} · {by_id[key]['station_id']} · "
            f"{by_id[key]['predicted_class']}"
        ),
        key="queue_frame",
    )
    return by_id[chosen]


def _frame(settings: Settings, frame: dict[str, Any], who: str) -> None:
    left, right = st.columns([3, 2])
    with left:
        _image(settings, frame)
    with right:
        predicted = frame["predicted_class"]
        st.markdown(
            f"### {frame['station_id']} · predicted {predicted}\n"
            f"captured {local(settings, frame['captured_at'])} · action {frame['action']} · "
            f"model {frame['model_version']}"
        )
        if frame["true_class"] is not None:
            st.markdown(f"Labelled {_label_text(settings, frame)}")
        st.dataframe(
            pd.DataFrame(
                {"class": CLASSES, "probability": [frame[prob_field(c)] for c in CLASSES]}
            ),
            hide_index=True,
            column_config={"probability": st.column_config.NumberColumn(format="%.3f")},
        )
        _label_form(settings, frame, who)
        st.dataframe(
            pd.DataFrame(
                {"statistic": STAT_FIELDS, "value": [frame[name] for name in STAT_FIELDS]}
            ),
            hide_index=True,
            column_config={"value": st.column_config.NumberColumn(format="%.3f")},
        )


def _image(settings: Settings, frame: dict[str, Any]) -> None:
    path = image_path(settings.effective_image_store_dir, frame["image_ref"])
    if path is None:
        st.error("This frame's image reference points outside the image store: not shown.")
    elif not path.is_file():
        st.warning(
            f"image expired (retention): images are kept {settings.image_retention_days} days."
        )
    else:
        try:
            st.image(
                str(path),
                caption=f"{frame['station_id']}, {local(settings, frame['captured_at'])}",
                width="stretch",
            )
        except OSError as error:  # unreadable, or not an image (PIL's error is an OSError)
            st.warning(f"The stored image cannot be shown: {error}")


def _label_form(settings: Settings, frame: dict[str, Any], who: str) -> None:
    key = frame["id"]
    current = frame["true_class"] or frame["predicted_class"]
    with st.form(f"label-{key}"):
        true_class = st.radio(
            "True class", CLASSES, index=CLASSES.index(current), horizontal=True, key=f"true-{key}"
        )
        comment = st.text_input("Comment (optional)", key=f"comment-{key}")
        saved = st.form_submit_button("Save label", type="primary")
    if not saved:
        return
    if not who:
        st.error("Enter your name first: a label records who gave it.")
        return
    stored = write(
        settings,
        reviews.label,
        prediction_id=frame["id"],
        captured_at=frame["captured_at"],
        true_class=true_class,
        reviewer=who,
        at=now(),
        comment=comment.strip() or None,
    )
    if not stored:
        st.error("This frame's prediction is no longer stored (retention): it cannot be labelled.")
        return
    st.session_state[DONE] = (
        f"Labelled {true_class} by {who}: {frame['station_id']}, "
        f"{local(settings, frame['captured_at'])}."
    )
    st.rerun()


def _label_text(settings: Settings, frame: Mapping[str, Any]) -> str:
    if frame["true_class"] is None:
        return "—"
    return f"{frame['true_class']} by {frame['reviewer']}, {local(settings, frame['reviewed_at'])}"


def _quality(counts: list[dict[str, Any]]) -> None:
    st.caption(CAVEAT)
    overall = class_scores(c for c in counts if c["per"] == "all")
    st.markdown("**Per class**")
    st.dataframe(
        pd.DataFrame(
            {
                "class": CLASSES,
                "precision": [_share(s.precision, s.predicted) for s in overall.values()],
                "recall": [_share(s.recall, s.labelled) for s in overall.values()],
            }
        ),
        hide_index=True,
    )
    st.markdown("**Labelled frames: predicted (rows) by label (columns)**")
    matrix = {(c["predicted_class"], c["true_class"]): c["n"] for c in counts if c["per"] == "all"}
    st.dataframe(
        pd.DataFrame(
            {label: [matrix.get((p, label), 0) for p in CLASSES] for label in CLASSES},
            index=pd.Index(CLASSES, name="predicted"),
        ),
    )
    _per_day(counts)
    _per_station(counts)


def _per_day(counts: list[dict[str, Any]]) -> None:
    st.markdown("**Precision per day** (the capture day, in the site's time zone)")
    days = sorted({c["day"] for c in counts if c["per"] == "day"})
    scores = {
        d: class_scores(c for c in counts if c["per"] == "day" and c["day"] == d) for d in days
    }
    points = [
        {"day": d, "class": cls, "precision": s.precision, "n": s.predicted}
        for d in days
        for cls, s in scores[d].items()
        if s.precision is not None
    ]
    st.altair_chart(charts.precision_by_day(points), width="stretch")
    st.dataframe(
        pd.DataFrame(
            {"day": [d.isoformat() for d in days]}
            | {
                cls: [_share(scores[d][cls].precision, scores[d][cls].predicted) for d in days]
                for cls in CLASSES
            }
        ),
        hide_index=True,
    )


def _per_station(counts: list[dict[str, Any]]) -> None:
    st.markdown("**Per station**")
    stations = sorted({c["station_id"] for c in counts if c["per"] == "station"})
    scores = {
        s: class_scores(c for c in counts if c["per"] == "station" and c["station_id"] == s)
        for s in stations
    }
    table: dict[str, list[str]] = {"station": stations}
    for cls in CLASSES:
        table[f"precision {cls}"] = [
            _share(scores[s][cls].precision, scores[s][cls].predicted) for s in stations
        ]
        table[f"recall {cls}"] = [
            _share(scores[s][cls].recall, scores[s][cls].labelled) for s in stations
        ]
    st.dataframe(pd.DataFrame(table), hide_index=True)


def _agreement(settings: Settings, since: datetime, until: datetime) -> None:
    st.subheader("Agreement by camera health")
    st.caption(
        "A frame counts under a camera fault when a lens_drift or lighting_drift alert of its "
        "station was firing when it was captured; agreement: the label equals the prediction."
    )
    found = read(settings, reviews.agreement_by_camera_fault, since=since, until=until)
    # Healthy and each fault alone always have a row (n=0 says: no such frame labelled).
    rows = {(): (0, 0)} | {(rule,): (0, 0) for rule in reviews.CAMERA_RULES}
    rows |= {tuple(r["faults"]): (r["agreed"], r["n"]) for r in found}
    st.dataframe(
        pd.DataFrame(
            {
                "camera": [health_name(faults) for faults in rows],
                "agreement": [_share(a / n if n else None, n) for a, n in rows.values()],
            }
        ),
        hide_index=True,
    )


def _share(value: float | None, n: int) -> str:
    return f"— (n={n})" if value is None else f"{value:.1%} (n={n})"
