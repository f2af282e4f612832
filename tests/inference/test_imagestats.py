"""Image statistics: exact values on small hand-made frames, and the direction each statistic
moves under known degradations of real photographs (scikit-image's bundled data)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from skimage import data as photos

from inference import frames, imagestats
from inference.exceptions import BadFrame
from inference.imagestats import ImageStats, compute, compute_resized

PHOTOS = ["astronaut", "chelsea", "coffee", "rocket"]


def grey_frame(values: np.ndarray | list) -> np.ndarray:
    """An RGB frame with R = G = B, so its luma is exactly the given values."""
    grey = np.asarray(values, dtype=np.uint8)
    return np.repeat(grey[:, :, None], 3, axis=2)


def laplacian(grey: np.ndarray) -> np.ndarray:
    """The 4-neighbour Laplacian by hand; numpy's "reflect" padding is OpenCV's reflect-101."""
    p = np.pad(grey.astype(np.float64), 1, mode="reflect")
    return p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4 * p[1:-1, 1:-1]


def photo(name: str) -> np.ndarray:
    return getattr(photos, name)()


def blurred(rgb: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(rgb, (0, 0), sigma)


def scaled(rgb: np.ndarray, gain: float, offset: float = 0.0) -> np.ndarray:
    return np.clip(np.round(rgb * gain + offset), 0, 255).astype(np.uint8)


# --- the record ------------------------------------------------------------------------------


def test_fields_are_the_twelve_statistics_in_column_order():
    assert imagestats.FIELDS == (
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


def test_fields_match_the_prediction_record_the_log_stores():
    from monitor.predlog.records import STAT_FIELDS

    assert imagestats.FIELDS == STAT_FIELDS


def test_stats_are_frozen_and_as_dict_keeps_column_order():
    stats = compute(photo("chelsea"))
    assert isinstance(stats, ImageStats)
    with pytest.raises(AttributeError):
        stats.blur = 0.0  # type: ignore[misc]
    assert list(stats.as_dict()) == list(imagestats.FIELDS)
    assert all(type(v) is float for v in stats.as_dict().values())


# --- exact values on small frames ------------------------------------------------------------


def test_single_bright_pixel_gives_hand_computed_blur_contrast_and_sharpness():
    # 5x5 zeros with 100 in the middle. Laplacian: -400 there, +100 at its 4 neighbours, 0
    # elsewhere -> mean 0, variance (400^2 + 4 * 100^2) / 25 = 8000 (negatives not clipped).
    # Luma: mean 4, variance 100^2 / 25 - 4^2 = 384.
    values = np.zeros((5, 5))
    values[2, 2] = 100
    stats = compute_resized(grey_frame(values))
    assert stats.blur == pytest.approx(8000.0)
    assert stats.brightness == pytest.approx(4.0)
    assert stats.contrast == pytest.approx(math.sqrt(384.0))
    assert stats.sharpness == pytest.approx(8000.0 / 384.0)


def test_blur_is_the_population_variance_of_the_4_neighbour_laplacian():
    rng = np.random.default_rng(7)
    values = rng.integers(0, 256, (8, 8))
    stats = compute_resized(grey_frame(values))
    lap = laplacian(values)
    assert stats.blur == pytest.approx(lap.var(), rel=1e-12)
    assert stats.sharpness == pytest.approx(lap.var() / values.var(), rel=1e-12)
    assert stats.contrast == pytest.approx(values.std(), rel=1e-12)


def test_brightness_uses_bt601_luma_rounded_to_8_bits():
    # Pure red: 0.299 * 255 = 76.2 -> 76; pure blue: 0.114 * 255 = 29.1 -> 29.
    frame = np.zeros((4, 4, 3), np.uint8)
    frame[:2, :, 0] = 255
    frame[2:, :, 2] = 255
    stats = compute_resized(frame)
    assert stats.brightness == pytest.approx((76 + 29) / 2)
    assert (stats.mean_r, stats.mean_g, stats.mean_b) == pytest.approx((127.5, 0.0, 127.5))


def test_pure_green_reads_brighter_than_pure_red_and_blue():
    def green(channel: int) -> float:
        frame = np.zeros((4, 4, 3), np.uint8)
        frame[..., channel] = 255
        return compute_resized(frame).brightness

    assert green(1) == 150.0  # 0.587 * 255 = 149.7
    assert green(1) > green(0) > green(2)


def test_clipped_fractions_count_luma_at_or_beyond_5_and_250():
    values = np.full(64, 128)
    values[:3] = 0
    values[3:5] = 5  # counts as dark
    values[5] = 6  # does not
    values[6:10] = 250  # counts as bright
    values[10] = 249  # does not
    values[11:13] = 255
    stats = compute_resized(grey_frame(values.reshape(8, 8)))
    assert stats.clipped_dark == 5 / 64
    assert stats.clipped_bright == 6 / 64


def test_percentiles_use_the_inverted_cdf_not_interpolation():
    # 200 pixels: 10, 20, 195 x 100, 240, 245, 250. The 1st percentile is the 2nd smallest
    # value (ceil(0.01 * 200) = 2), 20, not an interpolated 19.9; the 99th is the 198th, 240.
    values = np.array([10, 20] + [100] * 195 + [240, 245, 250])
    stats = compute_resized(grey_frame(values.reshape(10, 20)))
    assert stats.luma_p01 == 20.0
    assert stats.luma_p99 == 240.0


def test_percentiles_of_a_ramp():
    values = (np.arange(100) + 100).reshape(10, 10)  # 100..199
    stats = compute_resized(grey_frame(values))
    assert (stats.luma_p01, stats.luma_p99) == (100.0, 198.0)
    assert stats.brightness == 149.5
    assert stats.contrast == pytest.approx(math.sqrt((100**2 - 1) / 12))


@pytest.mark.parametrize("shape", [(224, 224), (17, 31), (3, 200), (1, 1)])
def test_percentiles_equal_numpy_inverted_cdf_on_random_frames(shape):
    values = np.random.default_rng(sum(shape)).integers(0, 256, shape)
    stats = compute_resized(grey_frame(values))
    p01, p99 = np.percentile(values, [1, 99], method="inverted_cdf")
    assert (stats.luma_p01, stats.luma_p99) == (p01, p99)


def test_flat_frame_has_zero_sharpness_never_nan():
    stats = compute(np.full((480, 640, 3), 90, np.uint8))
    assert stats.blur == 0.0
    assert stats.contrast == 0.0
    assert stats.sharpness == 0.0
    assert stats.sharpness_tile_min == 0.0
    assert (stats.luma_p01, stats.luma_p99, stats.brightness) == (90.0, 90.0, 90.0)


@pytest.mark.parametrize("shape", [(1, 1), (2, 7), (224, 224), (960, 1280)])
def test_every_statistic_is_finite_for_any_frame_size(shape):
    rng = np.random.default_rng(3)
    stats = compute(rng.integers(0, 256, (*shape, 3), dtype=np.uint8))
    assert all(math.isfinite(v) for v in stats.as_dict().values())


# --- the tile measure ------------------------------------------------------------------------


def tile_ratios(values: np.ndarray) -> list[float]:
    """Laplacian variance / luma variance of each tile of a 3x3 grid, by hand."""
    lap = laplacian(values)
    h, w = values.shape
    ratios = []
    for i in range(3):
        for j in range(3):
            tile = (slice(h * i // 3, h * (i + 1) // 3), slice(w * j // 3, w * (j + 1) // 3))
            if values[tile].var() > 0:
                ratios.append(lap[tile].var() / values[tile].var())
    return ratios


def test_tile_min_is_the_lowest_tile_ratio_with_the_laplacian_over_the_whole_frame():
    rng = np.random.default_rng(11)
    values = rng.integers(0, 256, (12, 15))
    values[4:8, 5:10] = np.linspace(60, 90, 5).round()  # a smooth ramp in the centre tile
    stats = compute_resized(grey_frame(values))
    assert stats.sharpness_tile_min == pytest.approx(min(tile_ratios(values)), rel=1e-12)


def test_flat_tiles_are_skipped_by_the_tile_measure():
    rng = np.random.default_rng(5)
    values = rng.integers(0, 256, (9, 9))
    values[0:3, 0:3] = 40  # nothing to focus on: not "the blurriest tile"
    stats = compute_resized(grey_frame(values))
    assert stats.sharpness_tile_min > 0.0
    assert stats.sharpness_tile_min == pytest.approx(min(tile_ratios(values)), rel=1e-12)


def test_tile_measure_looks_at_the_tile_source_not_the_model_input():
    model_input = grey_frame(np.random.default_rng(1).integers(0, 256, (9, 9)))
    tile_source = grey_frame(np.full((9, 9), 50))
    assert compute_resized(model_input, tile_source).sharpness_tile_min == 0.0
    assert compute_resized(model_input).sharpness_tile_min > 0.0


# --- the working copy --------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(960, 1280), (1080, 1920), (224, 224), (100, 150)])
def test_compute_measures_the_224_copy_and_the_frame_reduced_for_tiles(shape):
    rng = np.random.default_rng(2)
    frame = cv2.resize(photo("coffee"), shape[::-1]) // 2 + rng.integers(0, 64, (*shape, 3))
    frame = frame.astype(np.uint8)
    expected = compute_resized(frames.resize_for_model(frame, 224), frames.reduce(frame, 640))
    assert compute(frame) == expected


def test_statistics_other_than_tiles_are_measured_at_224_whatever_the_resolution():
    small = photo("rocket")
    large = cv2.resize(small, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    a, b = compute(small), compute(large)
    assert b.brightness == pytest.approx(a.brightness, abs=1.0)
    assert b.contrast == pytest.approx(a.contrast, rel=0.02)
    assert b.blur == pytest.approx(a.blur, rel=0.25)


def test_grey_input_is_accepted_and_a_float_frame_refused():
    grey = photo("camera")
    assert compute(grey) == compute(np.repeat(grey[:, :, None], 3, axis=2))
    with pytest.raises(BadFrame) as info:
        compute(photo("camera").astype(np.float32))
    assert info.value.reason == "wrong_dtype"


# --- directions of change on real photographs ------------------------------------------------


@pytest.mark.parametrize("name", PHOTOS)
def test_gaussian_blur_lowers_blur_and_sharpness(name):
    before, after = compute(photo(name)), compute(blurred(photo(name), 1.5))
    assert after.blur < 0.6 * before.blur
    assert after.sharpness < 0.6 * before.sharpness
    assert after.sharpness_tile_min < before.sharpness_tile_min


@pytest.mark.parametrize("name", PHOTOS)
def test_half_gain_quarters_blur_but_leaves_sharpness_unchanged(name):
    before, after = compute(photo(name)), compute(scaled(photo(name), 0.5))
    assert after.brightness == pytest.approx(before.brightness / 2, abs=1.0)
    assert after.blur / before.blur == pytest.approx(0.25, abs=0.03)
    assert after.sharpness / before.sharpness == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize("name", PHOTOS)
def test_smudge_on_one_tile_lowers_tile_min_far_more_than_frame_sharpness(name):
    rgb = photo(name)
    h, w = rgb.shape[:2]
    centre = (slice(h // 3, 2 * h // 3), slice(w // 3, 2 * w // 3))
    smudged = rgb.copy()
    smudged[centre] = blurred(rgb, 3.0)[centre]
    before, after = compute(rgb), compute(smudged)
    frame_ratio = after.sharpness / before.sharpness
    tile_ratio = after.sharpness_tile_min / before.sharpness_tile_min
    assert frame_ratio > 0.8  # hardly visible over the whole frame
    assert tile_ratio < 0.3
    assert tile_ratio < frame_ratio / 3


@pytest.mark.parametrize("name", PHOTOS)
def test_haze_veil_lifts_the_black_level_and_lowers_contrast(name):
    rgb = photo(name)
    hazy = scaled(rgb, 0.7, 0.3 * 128)  # blend 30 % towards mid-grey
    before, after = compute(rgb), compute(hazy)
    assert after.luma_p01 > before.luma_p01 + 10
    assert after.contrast == pytest.approx(0.7 * before.contrast, rel=0.03)
    assert after.clipped_dark == 0.0


@pytest.mark.parametrize("name", PHOTOS)
def test_brighter_light_raises_brightness_p99_and_bright_clipping(name):
    before, after = compute(photo(name)), compute(scaled(photo(name), 1.6))
    assert after.brightness > before.brightness + 20
    assert after.luma_p99 >= before.luma_p99
    assert after.clipped_bright > before.clipped_bright


def test_colour_cast_moves_the_channel_means():
    rgb = photo("coffee")
    warm = rgb.copy()
    warm[..., 2] = (warm[..., 2] * 0.7).astype(np.uint8)  # less blue
    before, after = compute(rgb), compute(warm)
    assert after.mean_b < 0.75 * before.mean_b
    assert (after.mean_r, after.mean_g) == (before.mean_r, before.mean_g)
