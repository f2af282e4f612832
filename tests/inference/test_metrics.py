"""The worker's metrics read well in Prometheus: latency per image in buckets that resolve
an INT8 model's milliseconds, and every labelled counter present at 0 from the start."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import get_args

import cv2
from memory_sink import MemorySink
from onnx_models import colour_model, solid
from prometheus_client import REGISTRY, generate_latest

from inference import metrics
from inference.classifier import Classifier
from inference.exceptions import Reason
from inference.worker import FrameIn, Worker


def _count(histogram) -> float:
    for family in histogram.collect():
        for sample in family.samples:
            if sample.name.endswith("_count"):
                return sample.value
    return 0.0


def _png(colour: str) -> bytes:
    ok, data = cv2.imencode(".png", cv2.cvtColor(solid(colour), cv2.COLOR_RGB2BGR))
    assert ok
    return data.tobytes()


def test_every_known_label_is_exposed_at_zero_before_any_event() -> None:
    exposed = generate_latest(REGISTRY).decode()
    for reason in get_args(Reason):
        assert f'beltwatch_frames_rejected_total{{reason="{reason}"}}' in exposed
    for outcome in metrics.DIVERT_OUTCOMES:
        assert f'beltwatch_divert_requests_total{{outcome="{outcome}"}}' in exposed


def test_the_lowest_latency_bucket_resolves_sub_millisecond_models() -> None:
    exposed = generate_latest(REGISTRY).decode()
    assert 'beltwatch_image_inference_seconds_bucket{le="0.0005"}' in exposed
    assert 'beltwatch_inference_seconds_bucket{le="0.001"}' in exposed


def test_a_batch_counts_once_per_batch_and_once_per_image(tmp_path) -> None:
    worker = Worker(Classifier(colour_model(tmp_path)), MemorySink())
    batches, images = _count(metrics.INFERENCE_SECONDS), _count(metrics.IMAGE_INFERENCE_SECONDS)
    now = datetime.now(UTC)
    frames = [
        FrameIn(_png(c), "dock-1", now, f"P{i}") for i, c in enumerate(["red", "green", "blue"])
    ]
    assert all(o.ok for o in worker.process(frames))
    assert _count(metrics.INFERENCE_SECONDS) - batches == 1
    assert _count(metrics.IMAGE_INFERENCE_SECONDS) - images == 3
