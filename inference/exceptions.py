"""Errors raised by the inference package. Each carries its data and says what to do."""

from __future__ import annotations

from typing import Literal

from monitor.core.exceptions import BeltwatchError

# Machine labels for a refused frame; short and few, so they can double as a metric label.
Reason = Literal[
    "empty",  # no bytes, or an array with a zero-length side
    "truncated",  # the data ends before the image does
    "corrupt",  # the header or the compressed data is malformed
    "unsupported_format",  # not JPEG, PNG, BMP or WebP
    "too_large",  # the header declares more pixels than allowed (decompression bomb)
    "wrong_shape",  # an array that is not HxW, HxWx3 or HxWx4
    "wrong_dtype",  # an array that is not uint8
]


class BadFrame(BeltwatchError):
    """A camera frame that cannot be used; `reason` is a short machine label (see Reason)."""

    def __init__(self, reason: Reason, message: str) -> None:
        self.reason = reason
        self.message = message
        super().__init__(f"bad frame ({reason}): {message}")


class ModelError(BeltwatchError):
    """A model that cannot be loaded or run as its metadata describes; says what was expected."""
