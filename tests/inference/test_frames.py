"""Frames: decoding every accepted format to RGB, refusing bad data early and clearly, checking
arrays, and the resize to the model input."""

from __future__ import annotations

import io
import struct
import time
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data as photos

from inference import frames
from inference.exceptions import BadFrame
from inference.frames import check_frame, decode, downscale, halve, reduce, resize_for_model

RGB = photos.chelsea()  # 300x451x3


def pil_bytes(image: Image.Image | np.ndarray, fmt: str, **options) -> bytes:
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def cv_bytes(array: np.ndarray, ext: str) -> bytes:
    """Encode with OpenCV (BGR channel order for colour arrays)."""
    if array.ndim == 3:
        array = cv2.cvtColor(
            array, cv2.COLOR_RGB2BGR if array.shape[2] == 3 else cv2.COLOR_RGBA2BGRA
        )
    ok, encoded = cv2.imencode(ext, array)
    assert ok
    return encoded.tobytes()


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))


def png_declaring(width: int, height: int, idat: bytes) -> bytes:
    """A grey 8-bit PNG whose header declares width x height, with the given IDAT data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def refused(data: bytes, **options) -> BadFrame:
    with pytest.raises(BadFrame) as info:
        decode(data, **options)
    return info.value


# --- every format round-trips ----------------------------------------------------------------


@pytest.mark.parametrize(
    "encoded",
    [
        pytest.param(pil_bytes(RGB, "PNG"), id="png-pillow"),
        pytest.param(cv_bytes(RGB, ".png"), id="png-opencv"),
        pytest.param(pil_bytes(RGB, "BMP"), id="bmp-pillow"),
        pytest.param(cv_bytes(RGB, ".bmp"), id="bmp-opencv"),
        pytest.param(pil_bytes(RGB, "WEBP", lossless=True), id="webp-lossless"),
    ],
)
def test_lossless_formats_decode_to_the_exact_rgb_pixels(encoded):
    rgb = decode(encoded)
    assert rgb.dtype == np.uint8
    assert rgb.flags.c_contiguous
    assert np.array_equal(rgb, RGB)


@pytest.mark.parametrize(
    "encoded",
    [
        pytest.param(pil_bytes(RGB, "JPEG", quality=92), id="jpeg-pillow"),
        pytest.param(pil_bytes(RGB, "JPEG", quality=92, progressive=True), id="jpeg-progressive"),
        pytest.param(cv_bytes(RGB, ".jpg"), id="jpeg-opencv"),
        pytest.param(pil_bytes(RGB, "WEBP", quality=90), id="webp-lossy"),
    ],
)
def test_lossy_formats_decode_to_close_rgb_pixels_in_rgb_order(encoded):
    rgb = decode(encoded)
    assert rgb.shape == RGB.shape
    difference = np.abs(rgb.astype(int) - RGB)
    assert difference.mean() < 3
    # Channel order: the per-channel means match (a BGR mix-up would swap red and blue).
    assert np.allclose(rgb.mean(axis=(0, 1)), RGB.mean(axis=(0, 1)), atol=2)


def test_bytearray_and_memoryview_are_accepted():
    encoded = pil_bytes(RGB, "PNG")
    assert np.array_equal(decode(bytearray(encoded)), RGB)
    assert np.array_equal(decode(memoryview(encoded)), RGB)


# --- grey, palette, alpha and 16-bit become 8-bit RGB ---------------------------------------


GREY = photos.camera()  # 512x512


@pytest.mark.parametrize(
    "encoded",
    [
        pytest.param(pil_bytes(GREY, "PNG"), id="png"),
        pytest.param(pil_bytes(GREY, "BMP"), id="bmp"),
        pytest.param(pil_bytes(GREY, "WEBP", lossless=True), id="webp"),
    ],
)
def test_grey_images_become_three_equal_channels(encoded):
    rgb = decode(encoded)
    assert rgb.shape == (*GREY.shape, 3)
    for channel in range(3):
        assert np.array_equal(rgb[..., channel], GREY)


def test_grey_jpeg_becomes_three_channels():
    rgb = decode(pil_bytes(GREY, "JPEG", quality=95))
    assert rgb.shape == (*GREY.shape, 3)
    assert np.abs(rgb[..., 1].astype(int) - GREY).mean() < 2


def test_grey_with_alpha_drops_the_alpha():
    grey_alpha = Image.fromarray(np.dstack([GREY, np.full_like(GREY, 90)]), "LA")
    rgb = decode(pil_bytes(grey_alpha, "PNG"))
    assert rgb.shape == (*GREY.shape, 3)
    assert np.array_equal(rgb[..., 0], GREY)


def test_rgba_drops_the_alpha_and_keeps_the_colour_under_transparent_pixels():
    # Decision: alpha is dropped, never composited: a fully transparent pixel keeps its colour.
    alpha = np.zeros(RGB.shape[:2], np.uint8)
    alpha[:, ::2] = 255
    rgba = np.dstack([RGB, alpha])
    for encoded in (pil_bytes(rgba, "PNG"), pil_bytes(rgba, "WEBP", lossless=True, exact=True)):
        assert np.array_equal(decode(encoded), RGB)


@pytest.mark.parametrize("transparency", [None, 0])
def test_palette_images_decode_to_their_palette_colours(transparency):
    palette = Image.fromarray(RGB).quantize(64)
    if transparency is not None:
        palette.info["transparency"] = transparency
    rgb = decode(pil_bytes(palette, "PNG"))
    assert np.array_equal(rgb, np.asarray(palette.convert("RGB")))


def test_16_bit_samples_keep_their_high_byte():
    grey16 = (np.arange(64 * 64, dtype=np.uint32).reshape(64, 64) * 16 + 5).astype(np.uint16)
    rgb = decode(cv_bytes(grey16, ".png"))
    assert rgb.dtype == np.uint8
    assert np.array_equal(rgb[..., 0], (grey16 >> 8).astype(np.uint8))

    colour16 = RGB.astype(np.uint16) * 257  # v * 257 has v in both bytes
    assert np.array_equal(decode(cv_bytes(colour16, ".png")), RGB)


# --- EXIF orientation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("orientation", "upright"),
    [
        (1, lambda a: a),
        (3, lambda a: np.rot90(a, 2)),
        (6, lambda a: np.rot90(a, -1)),  # camera held rotated: turn 90 degrees clockwise
        (8, lambda a: np.rot90(a, 1)),
    ],
)
def test_exif_orientation_is_applied(orientation, upright):
    exif = Image.Exif()
    exif[0x0112] = orientation
    encoded = pil_bytes(RGB, "JPEG", quality=95, exif=exif.tobytes())
    rgb = decode(encoded)
    expected = upright(RGB)
    assert rgb.shape == expected.shape
    assert np.abs(rgb.astype(int) - expected).mean() < 3


# --- truncated, corrupt and unsupported data -------------------------------------------------


JPEG = pil_bytes(RGB, "JPEG", quality=90)
JPEG_PROGRESSIVE = pil_bytes(RGB, "JPEG", quality=90, progressive=True)
PNG = pil_bytes(RGB, "PNG")


@pytest.mark.parametrize("encoded", [JPEG, JPEG_PROGRESSIVE], ids=["baseline", "progressive"])
@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, -2, -1])
def test_truncated_jpeg_is_refused_as_truncated(encoded, keep):
    cut = encoded[:keep] if keep < 0 else encoded[: int(len(encoded) * keep)]
    error = refused(cut)
    assert error.reason == "truncated"
    assert "JPEG" in str(error)


def test_jpeg_cut_inside_its_header_is_refused_as_truncated():
    assert refused(JPEG[:40]).reason == "truncated"


def test_jpeg_with_a_thumbnail_but_a_truncated_image_is_refused():
    # The EXIF thumbnail carries its own end marker; only one after the scan data counts.
    exif = Image.Exif()
    exif[0x0112] = 1
    thumb = pil_bytes(RGB[:60, :80], "JPEG")
    encoded = pil_bytes(RGB, "JPEG", exif=exif.tobytes() + thumb)
    assert b"\xff\xd9" in encoded[: len(encoded) // 2]
    assert refused(encoded[: len(encoded) * 3 // 4]).reason == "truncated"


def test_trailing_bytes_after_a_complete_jpeg_are_tolerated():
    assert decode(JPEG + b"\x00" * 64 + b"vendor trailer").shape == RGB.shape


@pytest.mark.parametrize("keep", [30, 0.5, 0.99, -12])  # -12: everything but the IEND chunk
def test_truncated_png_is_refused_as_truncated(keep):
    cut = PNG[:keep] if isinstance(keep, int) else PNG[: int(len(PNG) * keep)]
    assert refused(cut).reason == "truncated"


@pytest.mark.parametrize(
    "encoded",
    [
        pil_bytes(RGB, "WEBP", quality=80),
        pil_bytes(RGB, "WEBP", lossless=True),
        pil_bytes(RGB, "BMP"),
    ],
    ids=["webp-lossy", "webp-lossless", "bmp"],
)
def test_truncated_webp_and_bmp_are_refused_as_truncated(encoded):
    assert refused(encoded[: len(encoded) // 2]).reason == "truncated"


def test_png_with_damaged_image_data_is_refused_as_corrupt():
    damaged = bytearray(PNG)
    middle = len(damaged) // 2
    damaged[middle : middle + 200] = bytes(200)
    assert refused(bytes(damaged)).reason == "corrupt"


@pytest.mark.parametrize("seed", range(5))
def test_random_bytes_are_refused(seed):
    noise = np.random.default_rng(seed).bytes(5000)
    assert refused(noise).reason == "unsupported_format"
    for signature in (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"RIFF\x00\x10\x00\x00WEBP", b"BM"):
        assert refused(signature + noise).reason in {"corrupt", "truncated", "too_large"}


def test_empty_data_is_refused_as_empty():
    assert refused(b"").reason == "empty"


@pytest.mark.parametrize(
    "encoded", [pil_bytes(RGB, "GIF"), pil_bytes(RGB, "TIFF")], ids=["gif", "tiff"]
)
def test_other_formats_are_unsupported_and_the_message_says_what_is_expected(encoded):
    error = refused(encoded)
    assert error.reason == "unsupported_format"
    assert "JPEG, PNG, BMP or WebP" in error.message


# --- decompression bombs ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_48_megapixel_png() -> bytes:
    """A genuine 8000x6000 black PNG: 48 million pixels in about 50 kB."""
    width, height = 8000, 6000
    packer = zlib.compressobj(9)
    row = b"\x00" * (width + 1)  # filter byte + pixels
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    return png_declaring(width, height, idat)


def test_png_declaring_50000_by_50000_is_refused_from_its_header(monkeypatch):
    def must_not_decode(*args, **kwargs):
        raise AssertionError("decoded the pixels of a decompression bomb")

    monkeypatch.setattr(cv2, "imdecode", must_not_decode)
    bomb = png_declaring(50_000, 50_000, zlib.compress(b"\x00" * 50_001))
    started = time.perf_counter()
    error = refused(bomb)
    assert time.perf_counter() - started < 0.05  # a header read, not a decode
    assert error.reason == "too_large"
    assert "50000x50000" in error.message


def test_real_compressible_png_over_the_limit_is_refused_without_decoding(
    monkeypatch, real_48_megapixel_png
):
    assert len(real_48_megapixel_png) < 200_000
    monkeypatch.setattr(cv2, "imdecode", lambda *a, **k: pytest.fail("decoded a bomb"))
    assert refused(real_48_megapixel_png).reason == "too_large"


def sof_declaring(width: int, height: int) -> bytes:
    """A real JPEG whose frame header (SOF) is patched to declare width x height."""
    data = bytearray(JPEG)
    at = data.index(b"\xff\xc0")
    data[at + 5 : at + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def webp_declaring(width: int, height: int) -> bytes:
    """An extended (VP8X) WebP header declaring a width x height canvas."""
    vp8x = b"\x00" * 4 + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return b"RIFF" + struct.pack("<I", 22) + b"WEBPVP8X" + struct.pack("<I", 10) + vp8x


def bmp_declaring(width: int, height: int) -> bytes:
    """A 24-bit BMP header (BITMAPINFOHEADER) declaring width x height, with no pixels."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 0, 0, 0, 0)
    return b"BM" + struct.pack("<IHHI", 54, 0, 0, 54) + info


@pytest.mark.parametrize(
    "bomb",
    [
        pytest.param(sof_declaring(65_000, 65_000), id="jpeg"),
        pytest.param(webp_declaring(100_000, 100_000), id="webp"),
        pytest.param(bmp_declaring(40_000, 40_000), id="bmp"),
    ],
)
def test_every_format_checks_the_declared_size_first(bomb):
    assert refused(bomb).reason == "too_large"


def test_max_pixels_is_the_limit():
    encoded = pil_bytes(RGB, "PNG")  # 451x300 = 135,300 pixels
    assert refused(encoded, max_pixels=135_299).reason == "too_large"
    assert decode(encoded, max_pixels=135_300).shape == RGB.shape


# --- already-decoded arrays ------------------------------------------------------------------


def test_rgb_array_passes_unchanged():
    assert check_frame(RGB) is RGB


def test_grey_and_single_channel_arrays_become_rgb():
    for grey in (GREY, GREY[:, :, None]):
        rgb = check_frame(grey)
        assert rgb.shape == (*GREY.shape, 3)
        assert np.array_equal(rgb[..., 2], GREY)


def test_rgba_array_drops_the_alpha():
    rgba = np.dstack([RGB, np.zeros(RGB.shape[:2], np.uint8)])
    assert np.array_equal(check_frame(rgba), RGB)


def test_non_contiguous_array_comes_back_contiguous():
    view = RGB[::2, ::-1]
    rgb = check_frame(view)
    assert rgb.flags.c_contiguous
    assert np.array_equal(rgb, view)


@pytest.mark.parametrize("shape", [(10, 10, 2), (10, 10, 5), (300,), (2, 10, 10, 3)])
def test_wrong_shaped_array_is_refused_naming_its_shape(shape):
    with pytest.raises(BadFrame) as info:
        check_frame(np.zeros(shape, np.uint8))
    assert info.value.reason == "wrong_shape"
    assert str(shape) in info.value.message
    assert "HxWx3" in info.value.message


def test_non_uint8_array_is_refused_naming_its_dtype():
    with pytest.raises(BadFrame) as info:
        check_frame(RGB.astype(np.float32) / 255)
    assert info.value.reason == "wrong_dtype"
    assert "float32" in info.value.message


def test_empty_array_and_non_array_are_refused():
    with pytest.raises(BadFrame) as info:
        check_frame(np.zeros((0, 10, 3), np.uint8))
    assert info.value.reason == "empty"
    with pytest.raises(BadFrame) as info:
        check_frame([[0, 1], [2, 3]])  # type: ignore[arg-type]
    assert info.value.reason == "wrong_shape"


# --- resizing --------------------------------------------------------------------------------


def test_halve_averages_2x2_blocks_and_drops_an_odd_last_row_and_column():
    grey = np.array([[0, 2, 4, 6, 99], [2, 4, 6, 8, 99], [99, 99, 99, 99, 99]], np.uint8)
    assert np.array_equal(halve(grey), [[2, 6]])


def test_reduce_halves_until_the_longest_side_fits():
    frame = np.zeros((1080, 1920, 3), np.uint8)
    assert reduce(frame, 640).shape == (270, 480, 3)
    assert reduce(frame, 1920) is frame


@pytest.mark.parametrize("shape", [(960, 1280), (1080, 1920), (3000, 4000), (224, 224), (30, 50)])
def test_resize_for_model_makes_224_square_rgb(shape):
    frame = np.random.default_rng(0).integers(0, 256, (*shape, 3), dtype=np.uint8)
    resized = resize_for_model(frame)
    assert resized.shape == (224, 224, 3)
    assert resized.dtype == np.uint8


def test_resize_for_model_averages_fine_detail_instead_of_aliasing():
    # A 1-pixel checkerboard is mid-grey once resolved away; plain INTER_LINEAR at 5.7x
    # samples it and leaves a coarse false pattern (moire).
    checker = ((np.indices((960, 1280)).sum(axis=0) % 2) * 255).astype(np.uint8)
    frame = np.repeat(checker[:, :, None], 3, axis=2)
    assert resize_for_model(frame).std() < 2
    assert cv2.resize(frame, (224, 224), interpolation=cv2.INTER_LINEAR).std() > 20


def test_downscale_shares_one_chain_for_the_model_input_and_the_tile_source():
    frame = np.random.default_rng(1).integers(0, 256, (960, 1280, 3), dtype=np.uint8)
    result = downscale(frame, (224,), max_side=640)
    assert np.array_equal(result.squares[224], resize_for_model(frame))
    assert np.array_equal(result.reduced, halve(frame))
    small = frame[:224, :224].copy()
    assert downscale(small).squares[224] is small
    assert downscale(small).reduced is small


@pytest.mark.parametrize("shape", [(960, 1280), (1080, 1920), (500, 4000), (300, 300), (90, 60)])
@pytest.mark.parametrize("sizes", [(224, 128), (128, 224), (320, 224, 64), (224, 224)])
def test_downscale_gives_each_size_exactly_what_resize_for_model_makes(shape, sizes):
    frame = np.random.default_rng(sum(shape)).integers(0, 256, (*shape, 3), dtype=np.uint8)
    result = downscale(frame, sizes, max_side=640)
    assert sorted(result.squares) == sorted(set(sizes))
    for size in sizes:
        assert np.array_equal(result.squares[size], resize_for_model(frame, size)), size
    assert np.array_equal(result.reduced, reduce(frame, 640))


def test_downscale_of_a_very_wide_frame_reduces_the_tile_source_further():
    frame = np.zeros((500, 4000, 3), np.uint8)
    result = downscale(frame, (224,), max_side=640)
    assert result.squares[224].shape == (224, 224, 3)
    assert max(result.reduced.shape[:2]) <= 640


def test_default_max_pixels_is_25_million_above_belt_cameras():
    assert frames.DEFAULT_MAX_PIXELS == 25_000_000
