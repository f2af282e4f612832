"""`prepare`: a frame (bytes or array) to the model input and its image statistics.

The one place the worker decodes and resizes a frame. One chain of halvings yields three
images: the statistics' 224x224 working copy (imagestats.STATS_SIZE), the model input at
the model's own size, and the reduced copy the tile measure looks at. The model input is
never resized twice: a 128-input model gets `resize_for_model(frame, 128)`, exactly what
training fed it (training/frameset.py), not the 224 copy squeezed again. A JPEG is decoded
already reduced by the chain's first halvings (JPEG DCT scaling, frames.decode's
`reduce_for`): the chain then starts where it would have arrived.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inference.frames import DEFAULT_MAX_PIXELS, check_frame, decode, downscale
from inference.imagestats import STATS_SIZE, TILE_MAX_SIDE, ImageStats, compute_resized


@dataclass(frozen=True, slots=True)
class Prepared:
    """What the worker needs of one frame: the model's input and the logged statistics."""

    model_input: np.ndarray  # model_size x model_size x 3 uint8 RGB
    stats: ImageStats


def prepare(
    frame: bytes | np.ndarray,
    model_size: int = STATS_SIZE,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Prepared:
    """Decode (bytes) or check (an array) a frame, then take the model input at
    `model_size` and the statistics from one chain of resizes; raise BadFrame if unusable."""
    sizes = (STATS_SIZE, model_size)
    rgb = (
        check_frame(frame)
        if isinstance(frame, np.ndarray)
        else decode(frame, max_pixels=max_pixels, reduce_for=(sizes, TILE_MAX_SIDE))
    )
    squares, reduced = downscale(rgb, sizes, max_side=TILE_MAX_SIDE)
    return Prepared(squares[model_size], compute_resized(squares[STATS_SIZE], reduced))
