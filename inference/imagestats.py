"""Image statistics logged with every prediction: exposure, focus, contrast, clipping, colour.

All but one are measured on a working copy of the frame resized to 224x224 (STATS_SIZE), so
they compare across camera resolutions and models. `sharpness_tile_min` looks at the frame
near its native resolution instead: a 224 downscale hides mild blur and a smudge over part
of the lens (a sigma-1 blur cuts the focus measure to 0.07x at native size, only to 0.40x
at 224). Focus values vary with content by orders of magnitude: judge them as a
per-station distribution, never one frame against a fixed threshold.

The worker reaches them through `inference.prepare`, which takes the working copy and the
model input from one chain of resizes. Pure functions; OpenCV does the pixel work.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, fields

import cv2
import numpy as np

from inference.frames import check_frame, downscale

DARK_LEVEL = 5  # luma <= this counts as clipped dark
BRIGHT_LEVEL = 250  # luma >= this counts as clipped bright
TILE_GRID = 3  # sharpness_tile_min looks at a TILE_GRID x TILE_GRID grid
# The working copy's side, whatever the model's input: statistics stay comparable across
# models (a 128-input model's stations are judged against the same references).
STATS_SIZE = 224
TILE_MAX_SIDE = 640  # the tile measure looks at the frame halved to at most this long side

_LEVELS = np.arange(256, dtype=np.float64)
_LEVELS_SQ = _LEVELS * _LEVELS


@dataclass(frozen=True, slots=True)
class ImageStats:
    """The statistics of one frame; the order is that of the `predictions` columns."""

    brightness: float  # mean luma, BT.601 (0.299 R + 0.587 G + 0.114 B, 8-bit), 0-255
    blur: float  # variance of the 4-neighbour Laplacian of luma; lower = blurrier (or darker)
    sharpness: float  # blur / luma variance: focus blind to gain; 0.0 for a flat frame
    sharpness_tile_min: float  # lowest sharpness of a 3x3 grid of tiles near native resolution
    contrast: float  # RMS contrast: standard deviation of luma (population), 0-127.5
    clipped_dark: float  # fraction of pixels with luma <= 5
    clipped_bright: float  # fraction of pixels with luma >= 250
    luma_p01: float  # 1st percentile of luma (inverted CDF: see _percentile)
    luma_p99: float  # 99th percentile of luma (inverted CDF)
    mean_r: float  # mean red, 0-255
    mean_g: float  # mean green, 0-255
    mean_b: float  # mean blue, 0-255

    def as_dict(self) -> dict[str, float]:
        """Field name -> value, in column order."""
        return {name: getattr(self, name) for name in FIELDS}


FIELDS: tuple[str, ...] = tuple(f.name for f in fields(ImageStats))


def compute(frame: np.ndarray, *, tile_max_side: int = TILE_MAX_SIDE) -> ImageStats:
    """The statistics of a frame (HxWx3 RGB uint8, any size; grey and RGBA are converted)."""
    squares, reduced = downscale(check_frame(frame), (STATS_SIZE,), max_side=tile_max_side)
    return compute_resized(squares[STATS_SIZE], reduced)


def compute_resized(working_copy: np.ndarray, tile_source: np.ndarray | None = None) -> ImageStats:
    """The statistics of an already-resized working copy (HxWx3 RGB uint8). `tile_source` is
    the frame reduced to the resolution the tile measure should see (frames.downscale's
    `reduced`); None means the working copy itself."""
    rgb = check_frame(working_copy)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    # CV_16S holds the 4-neighbour Laplacian of 8-bit data (-1020..1020) exactly, negatives
    # included, at half the memory traffic of float32. Borders: OpenCV's reflect-101.
    lap = cv2.Laplacian(grey, cv2.CV_16S)
    blur = _variance(lap)

    # Every luma statistic from one 256-bin histogram (float64: counts and sums stay exact).
    hist = cv2.calcHist([grey], [0], None, [256], [0, 256]).ravel().astype(np.float64)
    n = grey.size
    brightness = float(hist @ _LEVELS) / n
    luma_var = max(float(hist @ _LEVELS_SQ) / n - brightness * brightness, 0.0)
    cdf = np.cumsum(hist)

    if tile_source is None or tile_source is working_copy:
        tile_grey, tile_lap = grey, lap
    else:
        tile_grey = cv2.cvtColor(check_frame(tile_source), cv2.COLOR_RGB2GRAY)
        tile_lap = cv2.Laplacian(tile_grey, cv2.CV_16S)

    mean_r, mean_g, mean_b, _ = cv2.mean(rgb)
    return ImageStats(
        brightness=brightness,
        blur=blur,
        sharpness=_sharpness(blur, luma_var),
        sharpness_tile_min=_tile_min_sharpness(tile_grey, tile_lap),
        contrast=math.sqrt(luma_var),
        clipped_dark=float(cdf[DARK_LEVEL]) / n,
        clipped_bright=float(n - cdf[BRIGHT_LEVEL - 1]) / n,
        luma_p01=_percentile(cdf, n, 1),
        luma_p99=_percentile(cdf, n, 99),
        mean_r=mean_r,
        mean_g=mean_g,
        mean_b=mean_b,
    )


def _variance(values: np.ndarray) -> float:
    # Population variance from the sum and the sum of squares: OpenCV accumulates integer
    # data exactly, and both calls are vectorised (meanStdDev on int16 is 10x slower).
    n = values.size
    mean = cv2.sumElems(values)[0] / n
    return max(cv2.norm(values, cv2.NORM_L2SQR) / n - mean * mean, 0.0)


def _sharpness(blur: float, luma_var: float) -> float:
    # A flat image has no edges to be sharp or blurred: 0.0, never NaN or inf.
    return blur / luma_var if luma_var > 0.0 else 0.0


def _percentile(cdf: np.ndarray, n: int, percent: int) -> float:
    # Inverted CDF (numpy's method="inverted_cdf"): the lowest level v such that at least
    # ceil(n * percent / 100) pixels have luma <= v. Integer arithmetic: no rounding at the edge.
    rank = max(1, -(-n * percent // 100))
    return float(np.searchsorted(cdf, rank))


def _tile_min_sharpness(grey: np.ndarray, lap: np.ndarray) -> float:
    # The Laplacian is taken over the whole image first, so tile edges see their true
    # neighbours. Flat tiles (zero luma variance: sky, a saturated patch) are skipped: they
    # carry no focus information, and 0/0 would read as "blurriest".
    h, w = grey.shape
    if min(h, w) < TILE_GRID:
        return _sharpness(_variance(lap), _variance(grey))
    ys = [h * i // TILE_GRID for i in range(TILE_GRID + 1)]
    xs = [w * j // TILE_GRID for j in range(TILE_GRID + 1)]
    lowest = math.inf
    for y0, y1 in itertools.pairwise(ys):
        for x0, x1 in itertools.pairwise(xs):
            luma_var = _variance(grey[y0:y1, x0:x1])
            if luma_var > 0.0:
                lowest = min(lowest, _variance(lap[y0:y1, x0:x1]) / luma_var)
    return 0.0 if lowest == math.inf else lowest
