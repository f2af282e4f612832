"""What the worker needs of its model and of the place predictions go, as protocols.

`Classifier` (the ONNX session) is a `Model`, answering with `Predictions`; `PredictionLog`
(spool and Postgres) is a `PredictionSink`. The worker names only these, so its tests can
hand it an in-memory sink and run without a database, and a source never reaches past the
worker into either. Runtime-checkable, so a test can hold the real classes to them
(members only, not types).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from monitor.core.vocabulary import CLASSES
from monitor.predlog import LogStats, PredictionRecord


@dataclass(frozen=True)
class Predictions:
    """Class probabilities of a batch and the model's time. `probabilities` is the batch as
    one array, for bulk work (evaluation); the worker reads `by_class()`."""

    probabilities: np.ndarray  # (N, 3) float32, columns in CLASSES order, rows sum to 1
    seconds: float  # wall time of the session run for the whole batch

    @property
    def classes(self) -> list[str]:
        """The most probable class of each image."""
        return [CLASSES[i] for i in self.probabilities.argmax(axis=1)]

    def by_class(self) -> list[dict[str, float]]:
        """One {class name: probability} mapping per image, in batch order."""
        return [dict(zip(CLASSES, row, strict=True)) for row in self.probabilities.tolist()]


@runtime_checkable
class Model(Protocol):
    """A classifier of square RGB images into beltwatch's classes."""

    @property
    def version(self) -> str:
        """The model version logged with every prediction."""
        ...

    @property
    def input_size(self) -> int:
        """The side of the square input it takes."""
        ...

    def predict(self, images: np.ndarray) -> Predictions:
        """Class probabilities of a batch of (N, S, S, 3) uint8 RGB images, S = input_size."""
        ...


@runtime_checkable
class PredictionSink(Protocol):
    """Where logged predictions go."""

    def log(self, record: PredictionRecord) -> None:
        """Accept `record`, or raise InvalidRecord (naming the field) or PredictionLogFull."""
        ...

    def stats(self) -> LogStats:
        """Counts so far; /healthz reads `db_up` and `pending`."""
        ...
