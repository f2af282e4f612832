"""prepare: a frame to the model input and its statistics, from one chain of resizes."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest

from inference.exceptions import BadFrame
from inference.frames import decode, planned_halvings, resize_for_model
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


# -- decoding at the size the chain needs (JPEG DCT scaling) -------------------------------


def jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    ok, data = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    assert ok
    return data.tobytes()


@pytest.mark.parametrize(
    ("width", "height", "halvings"),
    [
        (640, 480, 0),  # already the tile copy's size
        (1280, 960, 1),  # -> 640x480, where the tile copy is taken
        (2560, 1920, 2),  # -> 640x480 too
        (1920, 1080, 2),  # -> 480x270: the tile copy and the 224 square both
        (4000, 500, 1),  # -> 2000x250: the 224 square needs the short side
        (6000, 4000, 4),  # more than libjpeg's 1/8: decode caps it at 3
    ],
)
def test_planned_halvings_are_those_downscale_makes_before_its_first_image(width, height, halvings):
    assert planned_halvings(width, height, (224, 128), 640) == halvings


def test_a_jpeg_is_decoded_already_reduced_and_other_formats_in_full():
    frame = camera_frame((960, 1280))
    wanted = ((224, 128), 640)
    assert decode(jpeg(frame), reduce_for=wanted).shape == (480, 640, 3)
    assert decode(jpeg(frame)).shape == (960, 1280, 3)
    assert decode(png(frame), reduce_for=wanted).shape == (960, 1280, 3)
    # 1/8 at most: a 6000x4000 frame comes out 750x500, and the chain halves the rest.
    assert decode(jpeg(camera_frame((4000, 6000))), reduce_for=wanted).shape == (500, 750, 3)


def test_the_reduced_decode_keeps_the_exif_orientation():
    from PIL import Image

    frame = camera_frame((960, 1280))
    exif = Image.Exif()
    exif[0x0112] = 6  # camera held rotated: turn 90 degrees clockwise
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, "JPEG", quality=95, exif=exif.tobytes())
    rgb = decode(buffer.getvalue(), reduce_for=((224,), 640))
    upright = cv2.resize(np.rot90(frame, -1), (480, 640), interpolation=cv2.INTER_AREA)
    assert rgb.shape == upright.shape == (640, 480, 3)
    assert np.abs(rgb.astype(int) - upright).mean() < 3


def test_one_scene_at_two_camera_resolutions_gives_the_same_statistics():
    """The same scene from a 2560x1920 and a 1280x960 camera: both reach the statistics
    through a 640x480 copy (decoded at 1/4 and at 1/2). Tolerances: the two JPEGs differ by
    their own quantisation and libjpeg's scaled IDCT rounds differently from a box average,
    so the statistics differ slightly (measured on synthetic belt scenes: brightness 0.15
    levels, sharpness 0.6 %, worst tile 3 %, clipping 3 % relative); the hourly rules judge
    medians against a reference whose hour-to-hour spread is larger (brightness ~2 levels,
    sharpness ~4 %), so a camera swap within these bounds moves no alarm."""
    from inference.training.synth import generate

    for scene in generate(2, seed=21, size=(1920, 2560), balanced=True):
        big = scene.image
        small = cv2.resize(big, (1280, 960), interpolation=cv2.INTER_AREA)
        a = prepare(jpeg(big), 128).stats.as_dict()
        b = prepare(jpeg(small), 128).stats.as_dict()
        for column in ("brightness", "mean_r", "mean_g", "mean_b"):
            assert abs(a[column] - b[column]) < 0.5, column
        for column, tolerance in (("blur", 0.02), ("sharpness", 0.02), ("contrast", 0.01)):
            assert abs(a[column] / b[column] - 1) < tolerance, column
        assert abs(a["sharpness_tile_min"] / b["sharpness_tile_min"] - 1) < 0.06
        for column in ("clipped_dark", "clipped_bright"):
            assert abs(a[column] - b[column]) < 0.005, column
        for column in ("luma_p01", "luma_p99"):
            assert abs(a[column] - b[column]) <= 2, column


def test_the_reduced_decode_changes_no_prediction_of_the_shipped_model():
    """Today's path (a full decode, then the halvings) and the reduced decode give the same
    class for every frame. The model input differs by the decoders' rounding only (0.2
    levels on average), which moves a probability by 0.02 at most on these frames."""
    from inference.classifier import Classifier
    from inference.frames import downscale
    from inference.training.synth import generate
    from monitor.core.settings import Settings

    model = Classifier(Settings().model_path)
    frames = [jpeg(f.image) for f in generate(24, seed=5, size=(960, 1280), balanced=True)]
    size = model.input_size
    today = np.stack(
        [downscale(decode(data), (224, size), max_side=640).squares[size] for data in frames]
    )
    reduced = np.stack([prepare(data, size).model_input for data in frames])
    before, after = model.predict(today), model.predict(reduced)
    assert before.classes == after.classes
    assert np.abs(before.probabilities - after.probabilities).max() < 0.04
