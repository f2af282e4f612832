"""The shipped default model, end to end: train -> export -> quantize -> evaluate.

    .venv/bin/python -m inference.training.pipeline --out models

writes models/beltcnn-fp32.onnx, models/beltcnn-int8.onnx (each with its .json metadata),
models/evaluation.json and models/evaluation.md; the checkpoint goes to --work (default
build/model/, not shipped). About 21 minutes on 2 CPU cores with AVX512-BF16 (19 of them
training; models/README.md). Every seed is fixed; a retrain on another machine should give
the same figures to within noise, not byte-identical files (CPU kernels differ)."""

from __future__ import annotations

import argparse
import dataclasses
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from inference.training.evaluate import (
    DEFAULT_FAULTS,
    EVAL_FRAMES,
    evaluate_models,
    format_report,
    write_report,
)
from inference.training.export import export_checkpoint
from inference.training.quantize import CALIBRATION_FRAMES, quantize_model
from inference.training.train import TrainConfig, TrainResult, train

# The training defaults are the shipped recipe (see TrainConfig): 128x128 input, 18,000 twin
# frames, 7 epochs, batch 32, bfloat16 autocast; chosen by measurement on this 2-core CPU so
# that the whole pipeline takes about 20 minutes (the budget is 25).
SHIPPED = TrainConfig()

Log = Callable[[str], None]


def run_pipeline(
    out: Path,
    config: TrainConfig = SHIPPED,
    *,
    work: Path = Path("build/model"),
    name: str = "beltcnn",
    eval_frames: int = EVAL_FRAMES,
    calibration_frames: int = CALIBRATION_FRAMES,
    faults: Sequence[str] = DEFAULT_FAULTS,
    skip_training: bool = False,
    command: str = "run_pipeline()",
    log: Log = print,
) -> dict[str, Any]:
    """Run every stage; returns the evaluation report (also written to out/evaluation.json).

    skip_training: export the checkpoint that an earlier run left in `work` (it must have been
    trained with `config`) instead of training again, e.g. after a change to export code.
    """
    seconds: dict[str, float] = {}
    started = time.perf_counter()

    def stage(label: str) -> None:
        seconds[label] = round(time.perf_counter() - started - sum(seconds.values()), 1)
        log(f"== {label} done in {seconds[label]:.0f} s")

    out.mkdir(parents=True, exist_ok=True)
    checkpoint = work / f"{name}.pt"
    if skip_training:
        trained = _earlier_run(checkpoint, config)
        seconds["train"] = trained.seconds
        log(f"== reusing {checkpoint}, trained in {trained.seconds:.0f} s")
        started -= trained.seconds  # the total counts the training it reuses
    else:
        trained = train(config, checkpoint, log=log)
        stage("train")
    fp32, int8 = out / f"{name}-fp32.onnx", out / f"{name}-int8.onnx"
    exported = export_checkpoint(checkpoint, fp32)
    log(f"{fp32}: max |ONNX - torch| = {exported.max_abs_diff:.2e}")
    stage("export")
    quantize_model(fp32, int8, frames=calibration_frames)
    stage("quantize")
    report = evaluate_models([fp32, int8], frames=eval_frames, faults=faults, log=log)
    stage("evaluate")
    report["pipeline"] = {
        "command": command,
        "train_config": dict(vars(config)),
        "training_reused": skip_training,
        "training_history": trained.history,
        "training_images_per_second": round(trained.images_per_second, 1),
        "seconds": seconds,
        "total_seconds": round(time.perf_counter() - started, 1),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
        "torch": torch.__version__,
    }
    write_report(report, out / "evaluation.json")
    table = format_report(report)
    (out / "evaluation.md").write_text(table + "\n")
    log(table)
    log(f"pipeline finished in {report['pipeline']['total_seconds']:.0f} s")
    return report


def _earlier_run(checkpoint: Path, config: TrainConfig) -> TrainResult:
    saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    if saved["config"] != dataclasses.asdict(config):
        raise ValueError(f"{checkpoint} was trained with another configuration; train again")
    return TrainResult(
        checkpoint, saved["history"], saved.get("seconds", 0.0), saved.get("images_per_second", 0)
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``python -m inference.training.pipeline``."""
    parser = argparse.ArgumentParser(
        prog="python -m inference.training.pipeline", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", type=Path, default=Path("models"), help="directory to ship")
    parser.add_argument("--work", type=Path, default=Path("build/model"), help="checkpoints")
    parser.add_argument("--frames", type=int, default=SHIPPED.frames, help="training frames")
    parser.add_argument("--epochs", type=int, default=SHIPPED.epochs)
    parser.add_argument("--eval-frames", type=int, default=EVAL_FRAMES)
    parser.add_argument(
        "--skip-training", action="store_true", help="reuse the checkpoint in --work"
    )
    args = parser.parse_args(argv)
    config = TrainConfig(**{**vars(SHIPPED), "frames": args.frames, "epochs": args.epochs})
    run_pipeline(
        args.out,
        config,
        work=args.work,
        eval_frames=args.eval_frames,
        skip_training=args.skip_training,
        command=" ".join(["python -m inference.training.pipeline", *(argv or sys.argv[1:])]),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
