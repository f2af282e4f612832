"""The path of one frame: decode -> statistics and model input -> model -> action -> log.

`Worker.process` takes a batch of frames (the sources gather them) and returns one
`Outcome` per frame, in order: a logged prediction, or the reason the frame was refused.
A bad frame never stops the others.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from inference import metrics
from inference.actions import Diverter, ImageStore
from inference.classifier import Classifier
from inference.exceptions import BadFrame
from inference.imagestats import ImageStats
from inference.prepare import Prepared, prepare
from monitor.core.exceptions import InvalidRecord, PredictionLogFull
from monitor.core.vocabulary import ACTION_FOR_CLASS, CLASSES
from monitor.predlog import PredictionLog
from monitor.predlog.records import PredictionRecord, uuid7

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FrameIn:
    """A camera frame as a source hands it over."""

    data: bytes
    station_id: str
    captured_at: datetime
    parcel_id: str | None = None
    received: float = field(default_factory=time.perf_counter)  # for the frame's latency
    id: uuid.UUID | None = None  # a source that may replay a frame gives a stable id


@dataclass(frozen=True)
class ExternalPrediction:
    """A prediction made elsewhere (the endpoint ran the model), to log with image stats."""

    predicted_class: str
    p_undamaged: float
    p_minor: float
    p_critical: float
    model_version: str
    latency_ms: float | None = None


@dataclass(frozen=True)
class Outcome:
    """What became of one frame: `record` when logged, `error` when refused."""

    record: PredictionRecord | None = None
    stats: ImageStats | None = None
    # BadFrame (the image), InvalidRecord (station id, capture time, ...) or
    # PredictionLogFull (the log cannot take it now: retry later).
    error: BadFrame | InvalidRecord | PredictionLogFull | None = None

    @property
    def ok(self) -> bool:
        return self.record is not None


class Worker:
    """Runs frames through the model and logs every prediction."""

    def __init__(
        self,
        classifier: Classifier | None,
        plog: PredictionLog,
        *,
        images: ImageStore | None = None,
        diverter: Diverter | None = None,
    ) -> None:
        self.classifier = classifier
        self.plog = plog
        self.images = images
        self.diverter = diverter

    def process(self, frames: Sequence[FrameIn]) -> list[Outcome]:
        """Predict, act on and log a batch of frames."""
        if self.classifier is None:
            raise RuntimeError("this worker has no model; use log_external()")
        outcomes: list[Outcome | None] = [None] * len(frames)
        prepared: list[Prepared] = []
        ready: list[int] = []
        for i, frame in enumerate(frames):
            try:
                prepared.append(prepare(frame.data, self.classifier.input_size))
            except BadFrame as error:
                outcomes[i] = self._refuse(frame, error)
                continue
            ready.append(i)
        if ready:
            result = self.classifier.predict(np.stack([p.model_input for p in prepared]))
            metrics.INFERENCE_SECONDS.observe(result.seconds)
            best = result.probabilities.argmax(axis=1)
            for row, i in enumerate(ready):
                p = result.probabilities[row]
                outcomes[i] = self._finish(
                    frames[i],
                    prepared[row].stats,
                    CLASSES[best[row]],
                    float(p[0]),
                    float(p[1]),
                    float(p[2]),
                    self.classifier.version,
                )
        return [outcome for outcome in outcomes if outcome is not None]

    def log_external(self, frame: FrameIn, prediction: ExternalPrediction) -> Outcome:
        """Log a prediction made elsewhere, with the statistics of its image."""
        try:
            frame_stats = prepare(frame.data).stats
        except BadFrame as error:
            return self._refuse(frame, error)
        return self._finish(
            frame,
            frame_stats,
            prediction.predicted_class,
            prediction.p_undamaged,
            prediction.p_minor,
            prediction.p_critical,
            prediction.model_version,
            latency_ms=prediction.latency_ms,
        )

    def _refuse(self, frame: FrameIn, error: BadFrame) -> Outcome:
        metrics.FRAMES_REJECTED.labels(error.reason).inc()
        log.info(
            "station %s parcel %s: frame refused: %s", frame.station_id, frame.parcel_id, error
        )
        return Outcome(error=error)

    def _finish(
        self,
        frame: FrameIn,
        stats: ImageStats,
        predicted: str,
        p_undamaged: float,
        p_minor: float,
        p_critical: float,
        model_version: str,
        *,
        latency_ms: float | None = None,
    ) -> Outcome:
        action = ACTION_FOR_CLASS.get(predicted, "none")
        image_ref = None
        if action != "none" and self.images is not None:
            image_ref = self.images.put(frame.data)
        if latency_ms is None:
            elapsed = time.perf_counter() - frame.received
            metrics.FRAME_SECONDS.observe(elapsed)
            latency_ms = elapsed * 1000.0
        record = PredictionRecord(
            id=frame.id or uuid7(),
            station_id=frame.station_id,
            captured_at=frame.captured_at,
            parcel_id=frame.parcel_id,
            model_version=model_version,
            predicted_class=predicted,
            p_undamaged=p_undamaged,
            p_minor=p_minor,
            p_critical=p_critical,
            latency_ms=latency_ms,
            action=action,
            image_ref=image_ref,
            **stats.as_dict(),
        )
        try:
            self.plog.log(record)
        except (InvalidRecord, PredictionLogFull) as error:
            log.warning(
                "station %s parcel %s: prediction not logged: %s",
                frame.station_id,
                frame.parcel_id,
                error,
            )
            return Outcome(stats=stats, error=error)
        metrics.PREDICTIONS.labels(frame.station_id, predicted).inc()
        if action == "divert" and self.diverter is not None:
            self.diverter.divert(
                {
                    "prediction_id": str(record.id),
                    "station_id": record.station_id,
                    "parcel_id": record.parcel_id,
                    "captured_at": record.captured_at.isoformat(),
                    "p_critical": round(p_critical, 4),
                    "model_version": model_version,
                }
            )
        return Outcome(record=record, stats=stats)
