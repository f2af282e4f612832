"""Evaluate ONNX models on a held-out synthetic set, clean and under camera faults.

For each model: accuracy, critical-damage recall, false-positive rate (undamaged parcels called
minor or critical), per-class precision and recall, batch-1 latency on this CPU
(onnxruntime, p50 and p95) and the file size. The held-out set is rendered from its own seed
(EVAL_SEED, never used for training, validation or calibration) at the camera's 640x480 and
resized by the worker's own resize_for_model. It is balanced (a third of each class) so that
critical recall rests on hundreds of frames; the belt's mix (80/17/3) is applied afterwards
to give the accuracy and critical share the belt would see.

numpy/onnxruntime only: no torch.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from inference.modelmeta import ModelMetadata, read_metadata
from inference.training.camera import CLEAN, FAULTS, camera_fault
from inference.training.frameset import EVAL_CAMERA, normalize, render_set
from inference.training.synth import DEFAULT_MIX
from monitor.core.vocabulary import CLASSES

EVAL_SEED = 404  # = train.EVAL_SEED (no torch import here)
EVAL_FRAMES = 1200
DEFAULT_FAULTS = ("dirty_lens", "defocus", "dim", "fogged", "noisy")
FAULT_SEVERITY = 0.7
UNDAMAGED, CRITICAL = CLASSES.index("undamaged"), CLASSES.index("critical")

Log = Callable[[str], None]


def classification_metrics(labels: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    """Accuracy, critical recall, false-positive rate, per-class precision/recall, confusion
    matrix (rows: true class), and the belt-mix figures (DEFAULT_MIX applied to the recalls)."""
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    k = len(CLASSES)
    confusion = np.zeros((k, k), np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    true_n, pred_n = confusion.sum(1), confusion.sum(0)
    diag = np.diag(confusion)
    recall = np.divide(diag, true_n, out=np.zeros(k), where=true_n > 0)
    precision = np.divide(diag, pred_n, out=np.zeros(k), where=pred_n > 0)
    rates = np.divide(confusion, true_n[:, None], out=np.zeros((k, k)), where=true_n[:, None] > 0)
    mix = np.asarray(DEFAULT_MIX)
    return {
        "frames": len(labels),
        "accuracy": float(diag.sum() / max(len(labels), 1)),
        "critical_recall": float(recall[CRITICAL]),
        "false_positive_rate": float(1 - rates[UNDAMAGED, UNDAMAGED]),
        "precision": dict(zip(CLASSES, precision.tolist(), strict=True)),
        "recall": dict(zip(CLASSES, recall.tolist(), strict=True)),
        "confusion": confusion.tolist(),
        # What the belt would see at its usual mix: expected accuracy, and the share of parcels
        # called critical (the monitor's critical_rate rule watches this; ~3 % is normal).
        "belt_accuracy": float(mix @ recall),
        "belt_critical_share": float(mix @ rates[:, CRITICAL]),
    }


def session_for(path: Path, threads: int = 2) -> ort.InferenceSession:
    """A CPU onnxruntime session with `threads` intra-op threads."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def predict_logits(
    session: ort.InferenceSession, meta: ModelMetadata, images: np.ndarray, batch: int = 64
) -> np.ndarray:
    """Logits for (N, S, S, 3) uint8 frames, normalised per the model's metadata."""
    out = [
        session.run([meta.output_name], {meta.input_name: normalize(chunk, meta.mean, meta.std)})[0]
        for chunk in (images[i : i + batch] for i in range(0, len(images), batch))
    ]
    return np.concatenate(out) if out else np.empty((0, len(meta.classes)), np.float32)


def latency_ms(
    session: ort.InferenceSession, meta: ModelMetadata, batch: int = 1, runs: int = 200
) -> tuple[float, float]:
    """(p50, p95) of one session.run at `batch`, in milliseconds, after a warm-up."""
    x = np.random.default_rng(0).standard_normal(
        (batch, 3, meta.input_size, meta.input_size), dtype=np.float32
    )
    feed = {meta.input_name: x}
    for _ in range(10):
        session.run(None, feed)
    times = np.empty(runs)
    for i in range(runs):
        t0 = time.perf_counter()
        session.run(None, feed)
        times[i] = time.perf_counter() - t0
    p50, p95 = np.percentile(times * 1000, [50, 95])
    return float(p50), float(p95)


@dataclass
class HeldOutSet:
    """Held-out frames per (input size, condition), rendered once and shared by all models."""

    frames: int = EVAL_FRAMES
    seed: int = EVAL_SEED
    severity: float = FAULT_SEVERITY
    camera_size: tuple[int, int] = EVAL_CAMERA

    def __post_init__(self) -> None:
        self._cache: dict[tuple[int, str], tuple[np.ndarray, np.ndarray]] = {}

    def get(self, input_size: int, condition: str = "clean") -> tuple[np.ndarray, np.ndarray]:
        key = (input_size, condition)
        if key not in self._cache:
            camera = CLEAN if condition == "clean" else camera_fault(condition, self.severity)
            self._cache[key] = render_set(
                self.frames,
                seed=self.seed,
                input_size=input_size,
                balanced=True,
                camera=camera,
                camera_size=self.camera_size,
            )
        return self._cache[key]

    def describe(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "frames": self.frames,
            "class_mix": "balanced (a third of each class)",
            "camera_size": list(self.camera_size),
            "fault_severity": self.severity,
        }


def evaluate_model(
    path: Path,
    held_out: HeldOutSet,
    *,
    faults: Sequence[str] = DEFAULT_FAULTS,
    threads: int = 2,
    latency_runs: int = 200,
) -> dict[str, Any]:
    """All figures for one model: clean metrics, metrics per fault, latency and size."""
    meta = read_metadata(path)
    if tuple(meta.classes) != CLASSES:
        raise ValueError(f"{path}: classes {meta.classes} are not {CLASSES}")
    session = session_for(path, threads)
    p50, p95 = latency_ms(session, meta, runs=latency_runs)
    result: dict[str, Any] = {
        "model": path.stem,
        "file": str(path),
        "version": meta.version,
        "architecture": meta.architecture,
        "precision": meta.precision,
        "input_size": meta.input_size,
        "size_bytes": path.stat().st_size,
        "latency_ms_p50": p50,
        "latency_ms_p95": p95,
        "latency_threads": threads,
    }
    for condition in ("clean", *faults):
        images, labels = held_out.get(meta.input_size, condition)
        predicted = predict_logits(session, meta, images).argmax(1)
        metrics = classification_metrics(labels, predicted)
        if condition == "clean":
            result["clean"] = metrics
        else:
            result.setdefault("faults", {})[condition] = metrics
    return result


def evaluate_models(
    paths: Sequence[Path],
    *,
    frames: int = EVAL_FRAMES,
    seed: int = EVAL_SEED,
    faults: Sequence[str] = DEFAULT_FAULTS,
    severity: float = FAULT_SEVERITY,
    camera_size: tuple[int, int] = EVAL_CAMERA,
    threads: int = 2,
    latency_runs: int = 200,
    log: Log | None = None,
) -> dict[str, Any]:
    """Evaluate every model on one held-out set; the report that evaluation.json holds."""
    unknown = [f for f in faults if f not in FAULTS]
    if unknown:
        raise ValueError(f"unknown camera faults {unknown}; expected some of {FAULTS}")
    held_out = HeldOutSet(frames, seed, severity, camera_size)
    models = []
    for path in paths:
        if log:
            log(f"evaluating {path} ...")
        models.append(
            evaluate_model(
                path, held_out, faults=faults, threads=threads, latency_runs=latency_runs
            )
        )
    return {
        "held_out": held_out.describe(),
        "latency": f"onnxruntime CPU, batch 1, {threads} threads, p50/p95 of {latency_runs} runs",
        "models": models,
    }


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def format_report(report: dict[str, Any]) -> str:
    """The comparison table (Model | Accuracy | Critical Recall | Latency | Model Size | ...),
    then one row per model and camera fault."""
    head = (
        "| Model | Accuracy | Critical Recall | Latency | Model Size | False Positive Rate "
        "| Precision (u/m/c) | Recall (u/m/c) | Belt Accuracy |"
    )
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for m in report["models"]:
        c = m["clean"]
        lines.append(
            f"| {m['model']} | {_pct(c['accuracy'])} | {_pct(c['critical_recall'])} "
            f"| {m['latency_ms_p50']:.2f} ms | {m['size_bytes'] / 1e6:.2f} MB "
            f"| {_pct(c['false_positive_rate'])} "
            f"| {' / '.join(f'{100 * v:.0f}' for v in c['precision'].values())} "
            f"| {' / '.join(f'{100 * v:.0f}' for v in c['recall'].values())} "
            f"| {_pct(c['belt_accuracy'])} |"
        )
    if any(m.get("faults") for m in report["models"]):
        severity = report["held_out"]["fault_severity"]
        lines += [
            "",
            f"Camera faults (severity {severity}); change against the clean set in brackets:",
            "| Model | Condition | Accuracy | Critical Recall | False Positive Rate "
            "| Critical share at belt mix |",
            "|---|---|---|---|---|---|",
        ]
        for m in report["models"]:
            c = m["clean"]
            lines.append(
                f"| {m['model']} | clean | {_pct(c['accuracy'])} | {_pct(c['critical_recall'])} "
                f"| {_pct(c['false_positive_rate'])} | {_pct(c['belt_critical_share'])} |"
            )
            for name, f in m.get("faults", {}).items():
                cells = [
                    f"{_pct(f[key])} ({100 * (f[key] - c[key]):+.1f})"
                    for key in (
                        "accuracy",
                        "critical_recall",
                        "false_positive_rate",
                        "belt_critical_share",
                    )
                ]
                lines.append(f"| {m['model']} | {name} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        f"Held-out set: {report['held_out']['frames']} frames, seed {report['held_out']['seed']}, "
        f"{report['held_out']['class_mix']}; latency: {report['latency']}."
    )
    return "\n".join(lines)


def write_report(report: dict[str, Any], path: Path) -> None:
    """Write the report as indented JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
