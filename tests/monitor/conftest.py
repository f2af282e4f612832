"""Helpers for the monitor tests: records, and a switch that cuts a database off."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests_support import record

from monitor.predlog.records import PredictionRecord


@pytest.fixture
def make_record() -> Callable[..., PredictionRecord]:
    return record
