"""The worker's Prometheus metrics (the prediction log exposes its own: beltwatch_predlog_*,
including its queue depth and spooled rows)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

PREDICTIONS = Counter(
    "beltwatch_predictions", "Predictions made, by station and class", ["station", "class"]
)
FRAMES_REJECTED = Counter(
    "beltwatch_frames_rejected", "Frames refused before the model, by reason", ["reason"]
)
# Buckets around the 100 ms per-image budget.
_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5)
INFERENCE_SECONDS = Histogram(
    "beltwatch_inference_seconds", "Model time per batch", buckets=_BUCKETS
)
FRAME_SECONDS = Histogram(
    "beltwatch_frame_seconds",
    "Time from a frame's arrival to its prediction (decode, statistics, batching, model)",
    buckets=_BUCKETS,
)
DIVERTS = Counter(
    "beltwatch_divert_requests", "Divert calls to the PLC gateway, by outcome", ["outcome"]
)
