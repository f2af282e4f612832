"""The metadata file that travels with every ONNX model: `<model>.onnx` + `<model>.json`.

The worker refuses a model whose file does not match what its metadata promises (checksum,
class names and order, input shape), so a model swapped on disk, a half-copied file or an
export with the classes in another order fails at load, not silently on the belt.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from inference.exceptions import ModelError

# ImageNet statistics: what torchvision backbones were trained with, kept for our own nets
# so one preprocessing serves every model.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class ModelMetadata:
    """What a model expects and produces. Input: NCHW float32 RGB, values
    (pixel / 255 - mean) / std, square `input_size`; output: one row of logits per image,
    in the order of `classes` (the worker applies the softmax)."""

    version: str  # goes into every prediction row as model_version
    classes: tuple[str, ...]
    input_size: int
    sha256: str
    architecture: str = ""
    precision: str = "fp32"  # "fp32" or "int8"
    input_name: str = "input"
    output_name: str = "logits"
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    opset: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # training run, evaluation, ...

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "metadata") -> ModelMetadata:
        try:
            return cls(
                version=str(data["version"]),
                classes=tuple(data["classes"]),
                input_size=int(data["input_size"]),
                sha256=str(data["sha256"]),
                architecture=str(data.get("architecture", "")),
                precision=str(data.get("precision", "fp32")),
                input_name=str(data.get("input_name", "input")),
                output_name=str(data.get("output_name", "logits")),
                mean=tuple(float(v) for v in data.get("mean", IMAGENET_MEAN)),  # type: ignore[arg-type]
                std=tuple(float(v) for v in data.get("std", IMAGENET_STD)),  # type: ignore[arg-type]
                opset=data.get("opset"),
                extra=dict(data.get("extra", {})),
            )
        except KeyError as missing:
            raise ModelError(f"{source}: missing field {missing}") from None
        except (TypeError, ValueError) as error:
            raise ModelError(f"{source}: malformed ({error})") from None


def metadata_path(model_path: Path) -> Path:
    """`models/x.onnx` -> `models/x.json`."""
    return model_path.with_suffix(".json")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_metadata(model_path: Path) -> ModelMetadata:
    """Read the metadata beside `model_path`; ModelError says what is missing or wrong."""
    path = metadata_path(model_path)
    if not path.is_file():
        raise ModelError(f"no metadata file {path} beside the model {model_path}")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ModelError(f"{path}: not valid JSON ({error})") from None
    return ModelMetadata.from_dict(data, str(path))


def write_metadata(model_path: Path, metadata: ModelMetadata) -> Path:
    """Write `metadata` beside `model_path`, with the model file's checksum filled in."""
    path = metadata_path(model_path)
    stamped = ModelMetadata(**{**asdict(metadata), "sha256": file_sha256(model_path)})
    path.write_text(stamped.to_json())
    return path
