"""Small real ONNX models for the inference tests, built with onnx.helper (no torch).

The colour model's logits are 20 x the mean of the green, blue and red channels (in
[0, 1]): a green frame is `undamaged`, a blue one `minor`, a red one `critical`, which lets
a test choose the class a frame will get.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from inference.modelmeta import ModelMetadata, write_metadata

# Rows: output classes in the metadata's order; columns: normalised R, G, B means.
_PICK = {"undamaged": (0, 1, 0), "minor": (0, 0, 1), "critical": (1, 0, 0)}


def colour_model(
    directory: Path,
    *,
    size: int = 32,
    classes: tuple[str, ...] = ("undamaged", "minor", "critical"),
    name: str = "colour",
    n_outputs: int | None = None,
) -> Path:
    """Write `<name>.onnx` and its metadata; return the model path."""
    n_out = n_outputs or len(classes)
    weights = np.zeros((n_out, 3), dtype=np.float32)
    for row, cls in enumerate(classes[:n_out]):
        weights[row] = _PICK.get(cls, (0, 0, 0))
    # The metadata says mean 0 and std 1, so the model sees pixel / 255 and the pooled
    # values are the channel means in [0, 1].
    graph = helper.make_graph(
        [
            helper.make_node("GlobalAveragePool", ["input"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["flat"]),
            helper.make_node("Gemm", ["flat", "w", "b"], ["logits"], transB=1, alpha=20.0),
        ],
        "colour",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, size, size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", n_out])],
        initializer=[
            numpy_helper.from_array(weights, "w"),
            numpy_helper.from_array(np.zeros(n_out, dtype=np.float32), "b"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = directory / f"{name}.onnx"
    onnx.save(model, path)
    write_metadata(
        path,
        ModelMetadata(
            version=f"{name}-1",
            classes=classes,
            input_size=size,
            sha256="",
            architecture="colour-test",
            mean=(0.0, 0.0, 0.0),
            std=(1.0, 1.0, 1.0),
            opset=17,
        ),
    )
    return path


def solid(colour: str, size: int = 64) -> np.ndarray:
    """A frame of one colour, with a little texture so its statistics are not degenerate."""
    rgb = {"red": (200, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 200)}[colour]
    frame = np.empty((size, size, 3), dtype=np.uint8)
    frame[:] = rgb
    frame[::4, ::4] = 128
    return frame
