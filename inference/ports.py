"""What the worker needs of its model and of the place predictions go, as protocols.

`Classifier` (the ONNX session) is a `Model`; `PredictionLog` (spool and Postgres) is a
`PredictionSink`. The worker names only these, so its tests can hand it an in-memory sink
and run without a database, and a source never reaches past the worker into either.
Runtime-checkable, so a test can hold the real classes to them (members only, not types).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from inference.classifier import Predictions
from monitor.predlog import LogStats, PredictionRecord


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
