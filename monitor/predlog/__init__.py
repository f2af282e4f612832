"""The prediction log: what the worker writes every prediction through.

`PredictionLog` (writer.py) appends each validated record (records.py) to a crash-safe
spool (spool.py) and one writer thread COPYs it into `predictions`. Depends on the core
only; the worker imports it, the hourly monitor never does.
"""

from __future__ import annotations

from monitor.predlog.records import PredictionRecord
from monitor.predlog.writer import LogStats, PredictionLog

__all__ = ["LogStats", "PredictionLog", "PredictionRecord"]
