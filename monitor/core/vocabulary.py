"""The words every part of beltwatch shares, declared once: the classes the model
predicts, the actions the worker takes, alert severities, and the image statistics.

Pure: no imports beyond the standard library, so the database models, the rules, the
worker, the notifiers, the training code and the rollup SQL can all read it.
"""

from __future__ import annotations

import re
from typing import Literal

# The model's classes, in the order of its output (and of the `p_*` columns).
CLASSES = ("undamaged", "minor", "critical")
ClassName = Literal["undamaged", "minor", "critical"]

# What the worker does with a parcel, by class: nothing, a human review, a divert.
ACTIONS = ("none", "review", "divert")
ACTION_FOR_CLASS = {"undamaged": "none", "minor": "review", "critical": "divert"}

SEVERITIES = ("critical", "warning", "info")

# A station id a person names in a file name or on the command line: a letter or digit,
# then letters, digits, `_`, `.`, `-`, up to 128 in all. Use fullmatch (a `$` anchor would let
# a trailing newline slip past). Clients of the HTTP source may send any id the log accepts.
STATION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
Severity = Literal["critical", "warning", "info"]

# The probability columns of a prediction, one per class, in CLASSES order.
PROB_FIELDS = tuple(f"p_{cls}" for cls in CLASSES)

# The image statistics logged with every prediction (columns of `predictions`), in order.
STAT_FIELDS = (
    "brightness",
    "blur",
    "sharpness",
    "sharpness_tile_min",
    "contrast",
    "clipped_dark",
    "clipped_bright",
    "luma_p01",
    "luma_p99",
    "mean_r",
    "mean_g",
    "mean_b",
)


def prob_field(cls: str) -> str:
    """The column holding the probability of `cls` (`p_critical`)."""
    return f"p_{cls}"
