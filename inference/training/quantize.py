"""INT8 post-training static quantization of an exported FP32 model (onnxruntime).

Static, not dynamic: ``quantize_dynamic`` quantizes activations at run time and makes conv nets
slower on CPU (measured on 2 cores: ResNet-50 ~100 ms vs 19 ms FP32). The recipe:
``quant_pre_process`` (shape inference and graph optimisation, so BatchNorm is folded into
the convolutions before their ranges are measured), then ``quantize_static`` in QDQ
format with per-channel weights, unsigned 8-bit activations and signed 8-bit weights
(U8S8, which x86 VNNI runs natively), with activation ranges calibrated on synthetic
frames from a seed of their own.

numpy/onnx/onnxruntime only: no torch.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quant_pre_process,
    quantize_static,
)

from inference.modelmeta import ModelMetadata, file_sha256, read_metadata, write_metadata
from inference.training.frameset import normalize, render_set

CALIBRATION_SEED = 303  # = train.CALIBRATION_SEED (no torch import here)
CALIBRATION_FRAMES = 256
CALIBRATION_METHODS = {m.name.lower(): m for m in CalibrationMethod}


class FrameReader(CalibrationDataReader):
    """Feeds normalised frames to the calibrator, `batch` at a time."""

    def __init__(self, inputs: np.ndarray, input_name: str = "input", batch: int = 16) -> None:
        self._batches = iter(
            [{input_name: inputs[i : i + batch]} for i in range(0, len(inputs), batch)]
        )

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)


def calibration_inputs(
    metadata: ModelMetadata, frames: int = CALIBRATION_FRAMES, seed: int = CALIBRATION_SEED
) -> np.ndarray:
    """Normalised calibration frames: all classes equally, so the ranges of the activations
    that damage produces are measured too, not only those of the common undamaged parcel."""
    images, _ = render_set(frames, seed=seed, input_size=metadata.input_size, balanced=True)
    return normalize(images, metadata.mean, metadata.std)


def quantize_model(
    fp32: Path,
    out: Path,
    *,
    frames: int = CALIBRATION_FRAMES,
    seed: int = CALIBRATION_SEED,
    method: str = "minmax",
    per_channel: bool = True,
    version: str | None = None,
) -> ModelMetadata:
    """Quantize `fp32` (with its metadata) to `out` with `out`'s metadata; returns the latter."""
    if method not in CALIBRATION_METHODS:
        raise ValueError(f"calibration method must be one of {sorted(CALIBRATION_METHODS)}")
    source = read_metadata(fp32)
    out.parent.mkdir(parents=True, exist_ok=True)
    inputs = calibration_inputs(source, frames, seed)
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(fp32), str(prepared))
        quantize_static(
            str(prepared),
            str(out),
            FrameReader(inputs, source.input_name),
            quant_format=QuantFormat.QDQ,
            per_channel=per_channel,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CALIBRATION_METHODS[method],
        )
    fields = asdict(source)
    fields.update(
        version=version or f"{out.stem}-{file_sha256(out)[:8]}",
        precision="int8",
        sha256="",
        classes=tuple(source.classes),
        extra={
            **source.extra,
            "quantized_from": {"file": fp32.name, "sha256": source.sha256},
            "quantization": {
                "tool": "onnxruntime.quantization quant_pre_process + quantize_static",
                "format": "QDQ",
                "per_channel": per_channel,
                "activations": "uint8",
                "weights": "int8",
                "calibration": {"method": method, "frames": frames, "seed": seed},
            },
        },
    )
    metadata = ModelMetadata(**fields)
    write_metadata(out, metadata)
    return read_metadata(out)
