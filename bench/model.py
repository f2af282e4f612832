"""FP32 vs INT8 ONNX latency (batch 1 and 8, p50/p95), torch eager latency of the same net,
and FP32 vs INT8 accuracy on one held-out synthetic set; all in one run.

.venv/bin/python bench/model.py [--fp32 models/beltcnn-fp32.onnx] [--int8 ...]
    [--checkpoint build/model/beltcnn.pt] [--frames 1200] [--runs 200] [--threads 2]

The torch figure needs the training checkpoint (the pipeline leaves it in build/model/); without
one, a freshly initialised net of the same architecture stands in (same latency, no accuracy).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from inference.modelmeta import read_metadata
from inference.training.evaluate import (
    EVAL_SEED,
    HeldOutSet,
    classification_metrics,
    predict_logits,
    session_for,
)


def percentiles(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    """(p50, p95) milliseconds of fn() over `runs` calls after 10 warm-up calls."""
    for _ in range(10):
        fn()
    times = np.empty(runs)
    for i in range(runs):
        t0 = time.perf_counter()
        fn()
        times[i] = time.perf_counter() - t0
    p50, p95 = np.percentile(times * 1000, [50, 95])
    return float(p50), float(p95)


def torch_latency(
    checkpoint: Path, arch: str, size: int, batch: int, runs: int, threads: int
) -> tuple[float, float, str]:
    import torch

    from inference.training.nets import build_model
    from inference.training.train import load_checkpoint

    torch.set_num_threads(threads)
    if checkpoint.is_file():
        net, _ = load_checkpoint(checkpoint)
        source = str(checkpoint)
    else:
        net = build_model(arch).eval()
        source = f"{arch}, random weights (no checkpoint at {checkpoint})"
    x = torch.randn(batch, 3, size, size)
    with torch.inference_mode():
        p50, p95 = percentiles(lambda: net(x), runs)
    return p50, p95, source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fp32", type=Path, default=Path("models/beltcnn-fp32.onnx"))
    parser.add_argument("--int8", type=Path, default=Path("models/beltcnn-int8.onnx"))
    parser.add_argument("--checkpoint", type=Path, default=Path("build/model/beltcnn.pt"))
    parser.add_argument("--frames", type=int, default=1200, help="held-out frames")
    parser.add_argument("--seed", type=int, default=EVAL_SEED)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    metas = {name: read_metadata(path) for name, path in (("fp32", args.fp32), ("int8", args.int8))}
    paths = {"fp32": args.fp32, "int8": args.int8}
    size = metas["fp32"].input_size
    sessions = {name: session_for(path, args.threads) for name, path in paths.items()}
    rows: dict[str, dict[int, tuple[float, float]]] = {}
    torch_source = ""
    for batch in (1, 8):
        x = np.random.default_rng(0).standard_normal((batch, 3, size, size), dtype=np.float32)
        for name, session in sessions.items():
            feed = {metas[name].input_name: x}
            rows.setdefault(f"onnxruntime {name}", {})[batch] = percentiles(
                lambda s=session, f=feed: s.run(None, f), args.runs
            )
        p50, p95, torch_source = torch_latency(
            args.checkpoint, metas["fp32"].architecture, size, batch, args.runs, args.threads
        )
        rows.setdefault("torch eager fp32", {})[batch] = (p50, p95)

    print(
        f"{metas['fp32'].architecture}, input {size}x{size}, {args.threads} threads, "
        f"{args.runs} runs each; torch net: {torch_source}"
    )
    print(f"{'':<20} {'b1 p50':>8} {'b1 p95':>8} {'b8 p50':>8} {'b8 p95':>8} {'b8 /img':>8}  (ms)")
    for name, by_batch in rows.items():
        (a, b), (c, d) = by_batch[1], by_batch[8]
        print(f"{name:<20} {a:8.2f} {b:8.2f} {c:8.2f} {d:8.2f} {c / 8:8.2f}")
    fp32, int8, eager = rows["onnxruntime fp32"], rows["onnxruntime int8"], rows["torch eager fp32"]
    for batch in (1, 8):
        print(
            f"batch {batch}: INT8 is {fp32[batch][0] / int8[batch][0]:.2f}x faster than FP32 "
            f"(p50); ONNX FP32 is {eager[batch][0] / fp32[batch][0]:.2f}x faster than torch eager"
        )

    held_out = HeldOutSet(args.frames, args.seed)
    images, labels = held_out.get(size)
    predicted = {
        name: predict_logits(sessions[name], metas[name], images).argmax(1) for name in sessions
    }
    metrics = {name: classification_metrics(labels, p) for name, p in predicted.items()}
    agreement = float(np.mean(predicted["fp32"] == predicted["int8"]))
    print(f"held-out set: {args.frames} frames (balanced), seed {args.seed}")
    for name, m in metrics.items():
        print(
            f"  {name}: accuracy {100 * m['accuracy']:.2f}%, critical recall "
            f"{100 * m['critical_recall']:.2f}%, false-positive rate "
            f"{100 * m['false_positive_rate']:.2f}%"
        )
    delta = 100 * (metrics["int8"]["accuracy"] - metrics["fp32"]["accuracy"])
    print(f"  INT8 - FP32 accuracy: {delta:+.2f} points; same prediction on {100 * agreement:.1f}%")


if __name__ == "__main__":
    main()
