"""A station's kept frames as a grid of images: the evidence frames the worker keeps each
hour (`evidence_frames_per_hour`) and the minor/critical images kept for review, so a
person sees the smudge behind a number.

Images are read from the image store (`image_store_dir`) and never from outside it: a
reference that resolves elsewhere is refused unread. Images older than
`image_retention_days` are pruned by the worker; their rows stay, shown as expired.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import streamlit as st

from dashboards.context import local, read
from monitor.core.queries import predictions
from monitor.core.settings import Settings
from monitor.core.vocabulary import prob_field

COLUMNS = 4  # images per row of the grid


def image_path(root: Path, image_ref: str) -> Path | None:
    """The stored file of `image_ref` under the store's `root`, or None when the
    reference points outside the root (`../../etc/passwd`, an absolute path, a symlink
    leading out): such a file is never read."""
    base = root.resolve()
    path = (base / image_ref).resolve()
    return path if path.is_relative_to(base) else None


def caption(settings: Settings, frame: dict[str, Any]) -> str:
    """One frame's caption: when (site time), the predicted class and its probability,
    sharpness, worst-tile sharpness and brightness."""
    cls = frame["predicted_class"]
    return (
        f"{local(settings, frame['captured_at'])} · {cls} p={frame[prob_field(cls)]:.2f} · "
        f"sharpness {frame['sharpness']:.3g} · worst tile {frame['sharpness_tile_min']:.3g} · "
        f"brightness {frame['brightness']:.0f}"
    )


def show_frames(
    settings: Settings, station: str, since: datetime, until: datetime, *, limit: int = 12
) -> None:
    """A grid of at most `limit` of the station's kept frames captured in [since, until),
    the least sharp first, each captioned; a line saying so when there are none."""
    frames = read(settings, predictions.evidence_frames, station, since, until, limit)
    if not frames:
        st.info(
            f"No frames of {station} kept between {local(settings, since)} and "
            f"{local(settings, until)}. The worker keeps {settings.evidence_frames_per_hour} "
            "per station and hour plus the least sharp (`evidence_frames_per_hour`, 0: off) "
            "and every minor or critical image; start it with `beltwatch worker http` or "
            "`beltwatch worker dir`."
        )
        return
    more = "; the range may hold more" if len(frames) == limit else ""
    st.caption(f"{len(frames)} kept frames of {station}, the least sharp (worst tile) first{more}.")
    root = settings.effective_image_store_dir
    for start in range(0, len(frames), COLUMNS):
        row = frames[start : start + COLUMNS]
        for column, frame in zip(st.columns(COLUMNS), row, strict=False):
            with column:
                _frame(settings, root, frame)


def _frame(settings: Settings, root: Path, frame: dict[str, Any]) -> None:
    text = caption(settings, frame)
    path = image_path(root, frame["image_ref"])
    if path is None:
        st.error(f"Image reference outside the image store, not shown: {frame['image_ref']!r}")
    elif not path.is_file():
        st.warning(f"image expired (kept {settings.image_retention_days} days)")
    else:
        st.image(path.read_bytes(), caption=text)
        return
    st.caption(text)
