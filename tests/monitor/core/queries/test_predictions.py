"""The monitor's reads of predictions (monitor/core/queries/predictions.py): counts,
quantiles and hourly medians in SQL, samples bounded and from the range asked."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from daygen import traffic
from hourly_support import DAY2, write

from monitor.core.queries import predictions

END = DAY2 + timedelta(hours=3)


@pytest.fixture
def three_hours(db_url, engine, settings):
    write(db_url, settings, traffic(["S0", "S1"], DAY2, 3, 100, seed=1))
    return engine


def test_class_counts_are_of_the_station_and_range(three_hours) -> None:
    with three_hours.connect() as conn:
        counts = predictions.class_counts(conn, "S0", DAY2, END)
        first_hour = predictions.class_counts(conn, "S0", DAY2, DAY2 + timedelta(hours=1))
        none = predictions.class_counts(conn, "S9", DAY2, END)
    assert sum(counts.values()) == 300 and set(counts) <= {"undamaged", "minor", "critical"}
    assert sum(first_hour.values()) == 100
    assert none == {}


def test_quantiles_are_named_and_ordered(three_hours) -> None:
    levels = {"p05": 0.05, "p50": 0.5, "p95": 0.95}
    with three_hours.connect() as conn:
        q = predictions.quantiles(conn, "S0", DAY2, END, ["brightness", "sharpness"], levels)
    assert set(q) == {"brightness", "sharpness"}
    assert q["brightness"]["p05"] < q["brightness"]["p50"] < q["brightness"]["p95"]


def test_hourly_medians_have_a_row_per_hour_with_the_hour_and_count_first(three_hours) -> None:
    with three_hours.connect() as conn:
        rows = predictions.hourly_medians(conn, "S1", DAY2, END, ["brightness"])
    assert rows.shape == (3, 3)
    start = DAY2.timestamp()
    assert rows[:, 0].tolist() == [start, start + 3600, start + 7200]  # oldest first
    assert rows[:, 1].tolist() == [100.0, 100.0, 100.0]
    assert np.all((rows[:, 2] > 80) & (rows[:, 2] < 160))


def test_a_sample_is_bounded_and_of_the_columns_asked(three_hours) -> None:
    with three_hours.connect() as conn:
        small = predictions.sample(
            conn, "S0", DAY2, END, ["brightness", "blur"], size=50, total=300
        )
        whole = predictions.sample(conn, "S0", DAY2, END, ["brightness"], size=1000, total=300)
        empty = predictions.sample(conn, "S9", DAY2, END, ["brightness"], size=10, total=0)
    assert small.shape[1] == 2 and 0 < small.shape[0] <= 50
    assert whole.shape == (300, 1)  # asking for more than there is gives all of it
    assert empty.shape == (0, 1)
