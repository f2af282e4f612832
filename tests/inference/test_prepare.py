"""prepare: a frame to the model input and its statistics, from one chain of resizes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from inference.exceptions import BadFrame
from inference.frames import resize_for_model
from inference.imagestats import compute
from inference.prepare import prepare


def camera_frame(shape: tuple[int, int] = (960, 1280)) -> np.ndarray:
    """Detail at every scale on a lit gradient: resize paths give different pixels."""
    rng = np.random.default_rng(8)
    noise = cv2.GaussianBlur(rng.normal(0, 60, (*shape, 3)), (0, 0), 1.5)
    light = np.linspace(60, 190, shape[1])[None, :, None]
    return np.clip(noise + light, 0, 255).astype(np.uint8)


def png(rgb: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    return data.tobytes()


@pytest.mark.parametrize("model_size", [64, 128, 224, 320])
def test_the_model_input_is_the_frame_resized_once_to_the_models_size(model_size):
    frame = camera_frame()
    prepared = prepare(frame, model_size)
    assert prepared.model_input.shape == (model_size, model_size, 3)
    assert np.array_equal(prepared.model_input, resize_for_model(frame, model_size))


def test_a_128_input_is_not_the_224_copy_squeezed_again():
    frame = camera_frame()
    twice = cv2.resize(resize_for_model(frame), (128, 128), interpolation=cv2.INTER_AREA)
    assert not np.array_equal(prepare(frame, 128).model_input, twice)


@pytest.mark.parametrize("shape", [(960, 1280), (1080, 1920), (500, 4000), (100, 150)])
def test_statistics_are_those_of_compute_whatever_the_model_size(shape):
    frame = camera_frame(shape)
    expected = compute(frame)
    for model_size in (32, 128, 224, 320):
        assert prepare(frame, model_size).stats == expected, model_size


def test_bytes_are_decoded_to_the_same_result_as_the_array():
    frame = camera_frame((480, 640))
    from_bytes, from_array = prepare(png(frame), 128), prepare(frame, 128)
    assert np.array_equal(from_bytes.model_input, from_array.model_input)
    assert from_bytes.stats == from_array.stats


def test_grey_arrays_are_accepted_as_rgb():
    grey = camera_frame((300, 400))[:, :, 0].copy()
    prepared = prepare(grey, 128)
    assert prepared.model_input.shape == (128, 128, 3)
    assert prepared.stats == compute(np.repeat(grey[:, :, None], 3, axis=2))


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b"", "empty"),
        (b"GIF89a not a camera frame", "unsupported_format"),
        (np.zeros((8, 8, 3), np.float32), "wrong_dtype"),
        (np.zeros((8, 8, 2), np.uint8), "wrong_shape"),
    ],
)
def test_an_unusable_frame_is_refused_with_its_reason(frame, reason):
    with pytest.raises(BadFrame) as info:
        prepare(frame, 128)
    assert info.value.reason == reason


def test_max_pixels_refuses_a_frame_before_decoding_it():
    data = png(camera_frame((300, 400)))
    with pytest.raises(BadFrame) as info:
        prepare(data, 128, max_pixels=100_000)
    assert info.value.reason == "too_large"
    assert prepare(data, 128, max_pixels=120_000).model_input.shape == (128, 128, 3)
