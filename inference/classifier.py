"""`Classifier`: an ONNX Runtime session that checks its model against its metadata at load.

At load: the model file and its metadata exist, the file's sha256 is the one recorded, the
class names are exactly beltwatch's three (in any order: outputs are mapped by name), and
the model's input and output shapes fit the metadata. Any mismatch is a ModelError that
says what was expected. The session is then warmed up, so the first frame on the belt
does not pay for ONNX Runtime's lazy initialisation.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from inference.exceptions import ModelError
from inference.modelmeta import ModelMetadata, file_sha256, read_metadata
from inference.ports import Predictions
from monitor.core.vocabulary import CLASSES


class Classifier:
    """Runs a package-damage model; thread-safe (ONNX Runtime sessions are)."""

    def __init__(
        self,
        model_path: Path,
        *,
        intra_op_threads: int = 0,
        warmup_runs: int = 3,
        verify_checksum: bool = True,
    ) -> None:
        model_path = Path(model_path)
        if not model_path.is_file():
            raise ModelError(f"model file not found: {model_path}")
        self.path = model_path
        self.metadata = meta = read_metadata(model_path)
        if verify_checksum:
            actual = file_sha256(model_path)
            if actual != meta.sha256:
                raise ModelError(
                    f"{model_path}: sha256 {actual} does not match its metadata ({meta.sha256}); "
                    "the file was changed or copied incompletely"
                )
        if sorted(meta.classes) != sorted(CLASSES):
            raise ModelError(
                f"{model_path}: metadata classes {list(meta.classes)}; expected the three classes "
                f"{list(CLASSES)} (in any order)"
            )
        # Column j of our output is column order[j] of the model's.
        self._order = np.array([meta.classes.index(name) for name in CLASSES])

        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self._session = ort.InferenceSession(
                str(model_path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime raises its own untyped errors
            raise ModelError(f"{model_path}: ONNX Runtime cannot load it: {error}") from error
        self._check_signature(meta)

        size = meta.input_size
        # (pixel / 255 - mean) / std as one multiply-add per channel, precomputed.
        std = np.asarray(meta.std, dtype=np.float32)
        self._scale = (1.0 / (255.0 * std)).reshape(1, 3, 1, 1)
        self._offset = (-np.asarray(meta.mean, dtype=np.float32) / std).reshape(1, 3, 1, 1)
        blank = np.zeros((1, size, size, 3), dtype=np.uint8)
        for _ in range(warmup_runs):
            self.predict(blank)

    @property
    def version(self) -> str:
        return self.metadata.version

    @property
    def input_size(self) -> int:
        return self.metadata.input_size

    def _check_signature(self, meta: ModelMetadata) -> None:
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        if len(inputs) != 1 or inputs[0].name != meta.input_name:
            raise ModelError(
                f"{self.path}: expected one input named {meta.input_name!r}, "
                f"found {[i.name for i in inputs]}"
            )
        shape = inputs[0].shape
        fixed = [d if isinstance(d, int) else None for d in shape]
        expected = [None, 3, meta.input_size, meta.input_size]
        if len(shape) != 4 or any(
            f is not None and f != e for f, e in zip(fixed[1:], expected[1:], strict=True)
        ):
            raise ModelError(
                f"{self.path}: input shape {shape}; expected (batch, 3, {meta.input_size}, "
                f"{meta.input_size}) as the metadata says"
            )
        names = [o.name for o in outputs]
        if meta.output_name not in names:
            raise ModelError(f"{self.path}: no output named {meta.output_name!r} (has {names})")
        out_shape = outputs[names.index(meta.output_name)].shape
        if len(out_shape) != 2 or (isinstance(out_shape[1], int) and out_shape[1] != len(CLASSES)):
            raise ModelError(
                f"{self.path}: output shape {out_shape}; expected (batch, {len(CLASSES)}) "
                "class scores"
            )
        self._input_name, self._output_name = meta.input_name, meta.output_name

    def preprocess(self, images: np.ndarray) -> np.ndarray:
        """(N, S, S, 3) uint8 RGB at the model's input size -> normalised NCHW float32."""
        size = self.metadata.input_size
        if images.ndim != 4 or images.shape[1:] != (size, size, 3) or images.dtype != np.uint8:
            raise ModelError(
                f"model input must be (N, {size}, {size}, 3) uint8 RGB, got {images.shape} "
                f"{images.dtype}"
            )
        nchw = images.transpose(0, 3, 1, 2).astype(np.float32)
        nchw *= self._scale
        nchw += self._offset
        return nchw

    def predict(self, images: np.ndarray) -> Predictions:
        """Class probabilities for a batch of (N, S, S, 3) uint8 RGB images."""
        batch = self.preprocess(images)
        started = time.perf_counter()
        (logits,) = self._session.run([self._output_name], {self._input_name: batch})
        seconds = time.perf_counter() - started
        logits = np.asarray(logits, dtype=np.float32)[:, self._order]
        if not np.isfinite(logits).all():
            raise ModelError(f"{self.path}: the model produced non-finite scores")
        logits -= logits.max(axis=1, keepdims=True)  # a stable softmax
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=1, keepdims=True)
        return Predictions(logits, seconds)
