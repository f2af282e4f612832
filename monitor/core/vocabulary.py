"""The words every part of beltwatch shares, declared once: the classes the model
predicts, the actions the worker takes, alert severities, and the image statistics.

Pure: no imports beyond the standard library, so the database models, the rules, the
worker, the notifiers, the training code and the rollup SQL can all read it.
"""

from __future__ import annotations

from typing import Literal

# The model's classes, in the order of its output (and of the `p_*` columns).
CLASSES = ("undamaged", "minor", "critical")
ClassName = Literal["undamaged", "minor", "critical"]

# What the worker does with a parcel, by class: nothing, a human review, a divert.
ACTIONS = ("none", "review", "divert")
ACTION_FOR_CLASS = {"undamaged": "none", "minor": "review", "critical": "divert"}

SEVERITIES = ("critical", "warning", "info")
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
