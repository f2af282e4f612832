"""Export a trained net to one self-contained ONNX file with its metadata, and check it.

The file follows inference.modelmeta's contract: input "input" (N, 3, S, S) float32 with a
dynamic batch axis, output "logits" (N, classes). The export is checked by running the ONNX
file in onnxruntime on synthetic frames at batch 1 and a larger batch and comparing with the
torch output (the largest absolute difference is reported and must stay under a tolerance).
"""

from __future__ import annotations

import platform
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from torch import nn

from inference.modelmeta import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ModelMetadata,
    file_sha256,
    write_metadata,
)
from inference.training.evaluate import session_for
from inference.training.frameset import normalize, render_set
from inference.training.train import VAL_SEED, load_checkpoint
from monitor.core.vocabulary import CLASSES

# Opset 18: what torch's exporter emits natively here, run by onnxruntime >= 1.14 and accepted
# by onnxruntime.quantization's pre-processing.
OPSET = 18
TOLERANCE = 1e-4


@dataclass(frozen=True)
class ExportResult:
    path: Path
    metadata: ModelMetadata
    max_abs_diff: float  # ONNX vs torch, over the verification frames


def verification_inputs(input_size: int, n: int = 6) -> np.ndarray:
    """Normalised synthetic frames, one of each class at least, plus one of random noise."""
    images, _ = render_set(n - 1, seed=VAL_SEED, input_size=input_size, balanced=True)
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (1, input_size, input_size, 3), dtype=np.uint8)
    return normalize(np.concatenate([images, noise]))


def max_abs_diff(net: nn.Module, path: Path, inputs: np.ndarray) -> float:
    """Largest |ONNX - torch| over `inputs`, run at batch 1 and as one batch."""
    session = session_for(path)
    net.eval()
    with torch.inference_mode():
        expected = net(torch.from_numpy(inputs)).numpy()
    batched = session.run(["logits"], {"input": inputs})[0]
    single = np.concatenate([session.run(["logits"], {"input": x[None]})[0] for x in inputs])
    return float(max(np.abs(batched - expected).max(), np.abs(single - expected).max()))


def export_onnx(
    net: nn.Module,
    out: Path,
    *,
    arch: str,
    input_size: int,
    version: str | None = None,
    opset: int = OPSET,
    extra: dict[str, Any] | None = None,
    tolerance: float = TOLERANCE,
) -> ExportResult:
    """Export `net` to `out` (.onnx) with `<out>.json` metadata; raise if ONNX and torch differ
    by more than `tolerance`. `version` defaults to "<file stem>-<first 8 of sha256>"."""
    net = net.eval().to(memory_format=torch.contiguous_format)
    out.parent.mkdir(parents=True, exist_ok=True)
    example = torch.randn(2, 3, input_size, input_size)
    batch = torch.export.Dim("batch", min=1, max=4096)
    with tempfile.TemporaryDirectory() as tmp:
        # The exporter writes (and warns about) artifacts in the working directory on failure.
        program = torch.onnx.export(
            net,
            (example,),
            dynamo=True,
            verbose=False,
            input_names=["input"],
            output_names=["logits"],
            dynamic_shapes=({0: batch},),
            opset_version=opset,
            artifacts_dir=tmp,
        )
        assert program is not None
        # external_data=False: one self-contained file, no separate .onnx.data beside it.
        program.save(str(out), external_data=False)
    onnx.checker.check_model(str(out), full_check=True)
    diff = max_abs_diff(net, out, verification_inputs(input_size))
    if not diff <= tolerance:
        raise RuntimeError(f"ONNX output differs from torch by {diff:.2e} > {tolerance:.0e}")
    metadata = ModelMetadata(
        version=version or f"{out.stem}-{file_sha256(out)[:8]}",
        classes=CLASSES,
        input_size=input_size,
        sha256="",  # write_metadata fills it in
        architecture=arch,
        precision="fp32",
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        opset=opset,
        extra={
            "exporter": f"torch.onnx (dynamo) {torch.__version__}",
            "verify_max_abs_diff": diff,
            "platform": platform.machine(),
            **(extra or {}),
        },
    )
    write_metadata(out, metadata)
    return ExportResult(out, metadata, diff)


def export_checkpoint(
    checkpoint: Path, out: Path, *, version: str | None = None, opset: int = OPSET
) -> ExportResult:
    """Export a checkpoint saved by train.train()."""
    net, saved = load_checkpoint(checkpoint)
    config = saved["config"]
    last = saved["history"][-1] if saved["history"] else {}
    keys = ["frames", "epochs", "batch_size", "lr", "seed", "twins", "damage_map_weight"]
    keys += ["balance", "weights"] + ([] if config.get("twins") else ["class_mix"])
    extra = {
        "training": {key: config[key] for key in keys if key in config},
        "validation": {k: v for k, v in last.items() if k.startswith("val_")},
    }
    return export_onnx(
        net,
        out,
        arch=saved["arch"],
        input_size=int(saved["input_size"]),
        version=version,
        opset=opset,
        extra=extra,
    )
