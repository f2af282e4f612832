"""Camera frames: bytes to an RGB array, checks on arrays, and the resize to the model input.

Every frame leaves this module as an HxWx3 uint8 RGB array, C-contiguous. Decisions:

- Decoder: OpenCV (libjpeg-turbo, libpng, libwebp), about 1.4x faster than Pillow on a
  1280x960 JPEG here (bench/imagestats.py), decoding straight to RGB (IMREAD_COLOR_RGB,
  OpenCV >= 4.11).
- Before a pixel is decoded, small parsers below read the dimensions from the header, so a
  decompression bomb is refused in microseconds, and check that the file is whole (JPEG end
  marker after the scan data, PNG IEND chunk, RIFF or BMP length): a file cut short is
  "truncated" whatever the OpenCV version makes of it (libjpeg only warns about a premature
  end and fills the rest with grey; OpenCV 5.0 then returns None, older versions the image).
- EXIF orientation is applied (cv2.imdecode does so for JPEG unless told not to; tested).
- Alpha is dropped, not composited: camera frames are opaque, and dropping it is what both
  OpenCV's IMREAD_COLOR and Pillow's convert("RGB") do, so a file gives the same pixels
  whichever tool wrote or read it; compositing would invent a background the camera never saw.
- Grey and palette images are expanded to RGB; 16-bit samples keep their high byte (v >> 8).
  (Pillow would clip a 16-bit grey PNG to 255 instead.)
- Only JPEG, PNG, BMP and WebP are accepted: the formats whose headers are checked here.
- A JPEG is decoded at the size it is needed (`decode(..., reduce_for=...)`): libjpeg scales
  in the DCT domain by 1/2, 1/4 or 1/8 at a fraction of a full decode's cost (1280x960 at
  1/2: 2.2 ms against 3.3 ms here), and `downscale` would only have halved the full image
  down to that size anyway. The reduction is the number of halvings `downscale` makes
  before it takes its first image (planned_halvings), so a 2560x1920 camera and a 1280x960
  one reach the statistics through the same 640x480 copy. Other formats decode in full.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import NamedTuple

import cv2
import numpy as np

from inference.exceptions import BadFrame

# 25 Mpx: above the largest belt cameras (6000x4000 = 24 Mpx). Decoding costs about 3 bytes
# a pixel plus the halvings (a 25 Mpx frame ~ 100 MB while in hand), whatever the file size:
# a 300 KB all-zero PNG can declare 40 Mpx.
DEFAULT_MAX_PIXELS = 25_000_000
EXPECTED_FORMATS = "a JPEG, PNG, BMP or WebP file"

# JPEG start-of-frame markers carrying the dimensions (C4 DHT, C8 JPG and CC DAC are not).
_JPEG_SOF = frozenset(
    {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
)
# BMP compressions whose pixel data length follows from the header (BI_RGB, BI_BITFIELDS,
# BI_ALPHABITFIELDS); RLE data has no fixed length and is left to the decoder.
_BMP_FIXED_SIZE = frozenset({0, 3, 6})


class Header(NamedTuple):
    width: int
    height: int
    complete: bool  # the data reaches the end of the image


# libjpeg's DCT scalings, by the number of halvings they stand for. OpenCV spells "reduced,
# colour" as REDUCED_COLOR_n = REDUCED_GRAYSCALE_n | IMREAD_COLOR (BGR); for RGB the
# reduction bits go with IMREAD_COLOR_RGB instead.
_JPEG_REDUCED = {
    1: cv2.IMREAD_REDUCED_GRAYSCALE_2,
    2: cv2.IMREAD_REDUCED_GRAYSCALE_4,
    3: cv2.IMREAD_REDUCED_GRAYSCALE_8,
}


def decode(
    data: bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    reduce_for: tuple[Collection[int], int] | None = None,
) -> np.ndarray:
    """Decode JPEG, PNG, BMP or WebP bytes to an HxWx3 uint8 RGB array (EXIF orientation
    applied, alpha dropped); raise BadFrame if the data is empty, unsupported, too large,
    truncated or corrupt.

    `reduce_for=(sizes, max_side)`: the frame is wanted only for `downscale(rgb, sizes,
    max_side=max_side)`, so a JPEG is decoded already reduced by the halvings that call
    would make first (planned_halvings; at most 1/8)."""
    if not isinstance(data, bytes):
        data = bytes(data)  # bytearray or memoryview: the parsers need bytes.rfind
    fmt, header = check_header(data, max_pixels=max_pixels)
    flags = cv2.IMREAD_COLOR_RGB
    if fmt == "JPEG" and reduce_for is not None:
        halvings = min(3, planned_halvings(header.width, header.height, *reduce_for))
        if halvings:
            flags |= _JPEG_REDUCED[halvings]
    try:
        rgb = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error as exc:
        raise BadFrame("corrupt", f"OpenCV could not decode the {fmt} data: {exc.err}") from exc
    if rgb is None:
        raise BadFrame(
            "corrupt",
            f"OpenCV could not decode the {fmt} data ({len(data):,} bytes, header "
            f"{header.width}x{header.height}); expected a valid {fmt} file",
        )
    return rgb


def check_header(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[str, Header]:
    """The format and header of image bytes, read without decoding a pixel; raise BadFrame
    if the data is empty, unsupported, declares too many pixels or is cut short."""
    if not data:
        raise BadFrame("empty", f"no bytes; expected {EXPECTED_FORMATS}")
    fmt, read_header = _sniff(data)
    header = read_header(data)
    if header.width <= 0 or header.height <= 0:
        raise BadFrame(
            "corrupt",
            f"{fmt} header declares {header.width}x{header.height} pixels; expected both > 0",
        )
    if header.width * header.height > max_pixels:
        raise BadFrame(
            "too_large",
            f"{fmt} header declares {header.width}x{header.height} = "
            f"{header.width * header.height:,} pixels; at most {max_pixels:,} are accepted "
            "(decompression-bomb guard); send a smaller frame or raise max_pixels",
        )
    if not header.complete:
        raise BadFrame(
            "truncated",
            f"{fmt} data ({len(data):,} bytes) ends before the image does; "
            "expected a complete file (was the upload or the write cut short?)",
        )
    return fmt, header


def check_frame(arr: np.ndarray) -> np.ndarray:
    """Validate an already-decoded uint8 array (HxWx3 RGB, HxW grey, HxWx1 or HxWx4 RGBA)
    and return it as HxWx3 RGB; raise BadFrame naming what was wrong."""
    if not isinstance(arr, np.ndarray):
        raise BadFrame(
            "wrong_shape", f"got a {type(arr).__name__}; expected a numpy array (HxWx3 RGB)"
        )
    if arr.dtype != np.uint8:
        raise BadFrame("wrong_dtype", f"got dtype {arr.dtype}; expected uint8 (0-255)")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 2:
        conversion = cv2.COLOR_GRAY2RGB
    elif arr.ndim == 3 and arr.shape[2] == 3:
        conversion = None
    elif arr.ndim == 3 and arr.shape[2] == 4:
        conversion = cv2.COLOR_RGBA2RGB  # alpha dropped, as in decode()
    else:
        raise BadFrame(
            "wrong_shape",
            f"got shape {arr.shape}; expected HxWx3 (RGB), HxW (grey) or HxWx4 (RGBA)",
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise BadFrame("empty", f"got shape {arr.shape}; expected at least 1x1 pixels")
    arr = np.ascontiguousarray(arr)  # no copy when it already is
    return arr if conversion is None else cv2.cvtColor(arr, conversion)


# Resizing a 1280x960 frame to 224x224, 2 cores, one frame in cache (bench/imagestats.py gives
# the same order with 6 frames in rotation). PSNR against a full INTER_AREA resize, on
# photographs / on a zone plate, where aliasing shows:
#   INTER_AREA straight to 224          4.0 ms   reference
#   INTER_LINEAR straight to 224        0.11 ms  34 dB / 12 dB  (aliases: skips 4 of 5 pixels)
#   INTER_AREA by 4 (fast path), LINEAR 1.3 ms   38 dB / 26 dB  (OpenCV vectorises only x2)
#   pyrDown twice, LINEAR               0.68 ms  31 dB / 25 dB  (Gaussian: softer)
#   halve twice, LINEAR (chosen)        0.32 ms  40 dB / 26 dB
# "Halve" is INTER_AREA at exactly 1/2, a 2x2 box average that OpenCV runs vectorised (~0.17 ms
# for 1280x960 RGB). Halving while the short side stays >= size leaves INTER_LINEAR a ratio
# below 2 on it, where it no longer skips pixels.


def halve(image: np.ndarray) -> np.ndarray:
    """Half the width and height by 2x2 box averaging (an odd last row or column is dropped)."""
    h, w = image.shape[:2]
    even = image[: h - h % 2, : w - w % 2]
    return cv2.resize(even, (w // 2, h // 2), interpolation=cv2.INTER_AREA)


def reduce(image: np.ndarray, max_side: int) -> np.ndarray:
    """Halve the image until its longest side is at most max_side (returned as is if it is)."""
    while max(image.shape[:2]) > max_side and min(image.shape[:2]) >= 2:
        image = halve(image)
    return image


def resize_for_model(rgb: np.ndarray, size: int = 224) -> np.ndarray:
    """Resize a frame to size x size x 3 (the whole frame, aspect ratio not kept): halve while
    the short side stays >= size, then INTER_LINEAR. A frame already that size is returned."""
    while min(rgb.shape[:2]) >= 2 * size:
        rgb = halve(rgb)
    return _to_square(rgb, size)


def _to_square(rgb: np.ndarray, size: int) -> np.ndarray:
    # The last step of resize_for_model, once halving has brought the short side below 2x.
    if rgb.shape[:2] == (size, size):
        return rgb
    return cv2.resize(rgb, (size, size), interpolation=cv2.INTER_LINEAR)


def planned_halvings(width: int, height: int, sizes: Collection[int], max_side: int) -> int:
    """How many times `downscale(rgb, sizes, max_side=max_side)` halves a width x height
    frame before it takes its first image (the largest square, or the reduced copy): what
    the decoder may do for it."""
    largest = max(sizes)
    halvings = 0
    while max(width, height) > max_side and min(width, height) >= 2 * largest:
        width, height, halvings = width // 2, height // 2, halvings + 1
    return halvings


class Downscaled(NamedTuple):
    squares: dict[int, np.ndarray]  # size -> size x size x 3, as resize_for_model() makes it
    reduced: np.ndarray  # the frame halved until its longest side is <= max_side


def downscale(
    rgb: np.ndarray, sizes: Collection[int] = (224,), *, max_side: int = 640
) -> Downscaled:
    """A square resize of the frame for each of `sizes` and a reduced copy, from one chain of
    halvings: each is a step of the way to the smallest square, so the others cost only
    their final INTER_LINEAR. Each square equals resize_for_model(rgb, size) exactly."""
    pending = sorted(set(sizes), reverse=True)
    squares: dict[int, np.ndarray] = {}
    reduced = None
    while True:
        if reduced is None and max(rgb.shape[:2]) <= max_side:
            reduced = rgb
        # resize_for_model stops halving for `size` at the first step whose short side is
        # below 2 * size; the larger sizes reach that step first.
        while pending and min(rgb.shape[:2]) < 2 * pending[0]:
            size = pending.pop(0)
            squares[size] = _to_square(rgb, size)
        if not pending:
            break
        rgb = halve(rgb)
    if reduced is None:  # a very wide or tall frame: its long side needs more halvings
        reduced = reduce(rgb, max_side)
    return Downscaled(squares, reduced)


def _sniff(data: bytes) -> tuple[str, Callable[[bytes], Header]]:
    if data[:3] == b"\xff\xd8\xff":
        return "JPEG", _jpeg_header
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG", _png_header
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP", _webp_header
    if data[:2] == b"BM":
        return "BMP", _bmp_header
    raise BadFrame(
        "unsupported_format",
        f"unrecognised data starting {data[:8].hex(' ')} ({len(data):,} bytes); "
        f"expected {EXPECTED_FORMATS}",
    )


def _short(fmt: str, data: bytes) -> BadFrame:
    return BadFrame(
        "truncated",
        f"{fmt} data ({len(data):,} bytes) ends inside its header; expected a complete file",
    )


def _jpeg_header(data: bytes) -> Header:
    # Walk the marker segments up to the first scan (SOS); the entropy-coded data after it
    # cannot contain FF D9 (0xFF is stuffed as FF 00), so an EOI after SOS means "whole".
    n, i, size = len(data), 2, None
    while True:
        if i >= n:
            raise _short("JPEG", data)
        if data[i] != 0xFF:
            raise BadFrame("corrupt", f"JPEG header: expected a marker at byte {i}")
        while i < n and data[i] == 0xFF:  # fill bytes may pad before a marker
            i += 1
        if i >= n:
            raise _short("JPEG", data)
        marker = data[i]
        i += 1
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # TEM, RSTn, SOI: no length field
            continue
        if marker == 0xD9:
            raise BadFrame("corrupt", "JPEG ends (EOI marker) before any image data")
        if i + 2 > n:
            raise _short("JPEG", data)
        length = int.from_bytes(data[i : i + 2], "big")
        if length < 2:
            raise BadFrame("corrupt", f"JPEG segment at byte {i} has length {length}")
        if marker in _JPEG_SOF:
            if i + 7 > n:
                raise _short("JPEG", data)
            height = int.from_bytes(data[i + 3 : i + 5], "big")
            width = int.from_bytes(data[i + 5 : i + 7], "big")
            size = (width, height)
        elif marker == 0xDA:
            if size is None:
                raise BadFrame("corrupt", "JPEG scan data comes before any frame header (SOF)")
            # rfind: the EOI is normally the last two bytes, so this is O(1) on a whole file.
            return Header(*size, complete=data.rfind(b"\xff\xd9") > i)
        i += length


def _png_header(data: bytes) -> Header:
    if len(data) < 24:
        raise _short("PNG", data)
    if data[12:16] != b"IHDR":
        raise BadFrame("corrupt", "PNG does not start with an IHDR chunk")
    width = int.from_bytes(data[16:20], "big")
    height = int.from_bytes(data[20:24], "big")
    return Header(width, height, complete=data.rfind(b"IEND", 33) != -1)


def _webp_header(data: bytes) -> Header:
    if len(data) < 30:
        raise _short("WebP", data)
    riff_end = 8 + int.from_bytes(data[4:8], "little")
    chunk = data[12:16]
    if chunk == b"VP8 ":  # lossy: 14-bit sizes after the key-frame start code
        if data[23:26] != b"\x9d\x01\x2a":
            raise BadFrame("corrupt", "WebP VP8 chunk lacks its key-frame start code")
        width = int.from_bytes(data[26:28], "little") & 0x3FFF
        height = int.from_bytes(data[28:30], "little") & 0x3FFF
    elif chunk == b"VP8L":  # lossless: signature 0x2F, then 14-bit (size - 1) fields
        if data[20] != 0x2F:
            raise BadFrame("corrupt", "WebP VP8L chunk lacks its signature byte")
        bits = int.from_bytes(data[21:25], "little")
        width = (bits & 0x3FFF) + 1
        height = ((bits >> 14) & 0x3FFF) + 1
    elif chunk == b"VP8X":  # extended: 24-bit (canvas size - 1) fields
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
    else:
        raise BadFrame("corrupt", f"WebP has an unknown first chunk {chunk!r}")
    return Header(width, height, complete=len(data) >= riff_end)


def _bmp_header(data: bytes) -> Header:
    if len(data) < 26:
        raise _short("BMP", data)
    pixel_offset = int.from_bytes(data[10:14], "little")
    dib_size = int.from_bytes(data[14:18], "little")
    if dib_size == 12:  # OS/2 BITMAPCOREHEADER: 16-bit sizes
        width = int.from_bytes(data[18:20], "little")
        height = int.from_bytes(data[20:22], "little")
        bits = int.from_bytes(data[24:26], "little")
        compression = 0
    elif dib_size >= 40:
        if len(data) < 34:
            raise _short("BMP", data)
        width = int.from_bytes(data[18:22], "little", signed=True)
        height = abs(int.from_bytes(data[22:26], "little", signed=True))  # < 0: top-down
        bits = int.from_bytes(data[28:30], "little")
        compression = int.from_bytes(data[30:34], "little")
    else:
        raise BadFrame("corrupt", f"BMP has an unknown header size {dib_size}")
    complete = True
    if compression in _BMP_FIXED_SIZE and width > 0:
        row_bytes = (width * bits + 31) // 32 * 4  # rows are padded to 4 bytes
        complete = len(data) >= pixel_offset + row_bytes * height
    return Header(width, height, complete)
