"""The worker's Prometheus metrics (the prediction log exposes its own: beltwatch_predlog_*,
including its queue depth and spooled rows)."""

from __future__ import annotations

import threading
from typing import get_args

from prometheus_client import Counter, Histogram

from inference.exceptions import Reason

PREDICTIONS = Counter(
    "beltwatch_predictions", "Predictions made, by station and class", ["station", "class"]
)
STATION_OVERFLOW = Counter(
    "beltwatch_station_label_overflow",
    'Predictions counted under station="other": `metrics_max_stations` ids were labelled',
)
FRAMES_REJECTED = Counter(
    "beltwatch_frames_rejected", "Frames refused before the model, by reason", ["reason"]
)
# From 0.5 ms (an INT8 model takes 1-7 ms an image here) to well past the 100 ms per-image
# budget, roughly doubling: the old lowest bucket (2 ms) held 44 of 45 batches.
_BUCKETS = (
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075,
    0.1, 0.15, 0.25, 0.5, 1.0, 2.5,
)  # fmt: skip
INFERENCE_SECONDS = Histogram(
    "beltwatch_inference_seconds", "Model time per batch (one session run)", buckets=_BUCKETS
)
IMAGE_INFERENCE_SECONDS = Histogram(
    "beltwatch_image_inference_seconds",
    "Model time per image: a batch's time divided by its images (the budget is per image)",
    buckets=_BUCKETS,
)
FRAME_SECONDS = Histogram(
    "beltwatch_frame_seconds",
    "Time from a frame's arrival to its prediction (decode, statistics, batching, model)",
    buckets=_BUCKETS,
)
DIVERTS = Counter(
    "beltwatch_divert_requests", "Divert calls to the PLC gateway, by outcome", ["outcome"]
)
DIVERT_OUTCOMES = ("sent", "rejected", "error", "timeout", "backlog")

# Every known label value starts at 0, so `increase()` sees the first event after a start
# (a series that appears with 1 has no earlier sample to rise from).
for _reason in get_args(Reason):
    FRAMES_REJECTED.labels(_reason)
for _outcome in DIVERT_OUTCOMES:
    DIVERTS.labels(_outcome)

OTHER_STATION = "other"


class StationLabels:
    """The `station` label of a prediction: its id for the first `limit` ids seen, "other"
    after. Station ids come from clients; each new one is a new series in /metrics, so
    without a cap a client inventing ids grows the worker's memory and every scrape."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._known: set[str] = set()
        self._lock = threading.Lock()

    def label(self, station_id: str) -> str:
        if station_id in self._known:
            return station_id
        with self._lock:
            if station_id in self._known or len(self._known) < self.limit:
                self._known.add(station_id)
                return station_id
        STATION_OVERFLOW.inc()
        return OTHER_STATION

    def count_prediction(self, station_id: str, predicted_class: str) -> None:
        """Count one prediction under its station's label."""
        PREDICTIONS.labels(self.label(station_id), predicted_class).inc()
