"""The shipped default model (models/): it loads, it is what its metadata says, and it is as
good on a freshly generated held-out set as models/evaluation.json reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest

from inference.classifier import Classifier
from inference.modelmeta import IMAGENET_MEAN, IMAGENET_STD, file_sha256, read_metadata
from inference.training.evaluate import (
    EVAL_SEED,
    HeldOutSet,
    classification_metrics,
    predict_logits,
    session_for,
)
from inference.training.quantize import CALIBRATION_SEED
from inference.training.synth import CLASSES
from inference.training.train import TRAIN_SEED, VAL_SEED

MODELS = Path(__file__).resolve().parents[2] / "models"
FP32, INT8 = MODELS / "beltcnn-fp32.onnx", MODELS / "beltcnn-int8.onnx"
FRESH_SEED = 2026  # used nowhere else: not training, validation, calibration or evaluation
FRAMES = 300  # balanced: 100 of each class
# Margins against the figures in evaluation.json (1,200 frames): about three standard errors
# of an accuracy near 80 % on 300 frames, and of a recall near 90 % on 100 frames.
ACCURACY_MARGIN = 0.08
CRITICAL_RECALL_MARGIN = 0.10
# INT8 against FP32 on the same frames.
INT8_ACCURACY_MARGIN = 0.02
INT8_AGREEMENT = 0.95


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return json.loads((MODELS / "evaluation.json").read_text())


@pytest.fixture(scope="module")
def fresh() -> HeldOutSet:
    return HeldOutSet(frames=FRAMES, seed=FRESH_SEED)


def reported(report: dict[str, Any], path: Path) -> dict[str, Any]:
    (entry,) = [m for m in report["models"] if Path(m["file"]).name == path.name]
    return entry


def test_the_fresh_seed_is_unused_elsewhere() -> None:
    assert FRESH_SEED not in {TRAIN_SEED, VAL_SEED, CALIBRATION_SEED, EVAL_SEED}


@pytest.mark.parametrize("path", [FP32, INT8], ids=["fp32", "int8"])
def test_shipped_model_matches_its_metadata_and_the_contract(path: Path) -> None:
    meta = read_metadata(path)
    assert meta.sha256 == file_sha256(path)
    assert meta.classes == CLASSES
    assert meta.input_name == "input" and meta.output_name == "logits"
    assert meta.mean == IMAGENET_MEAN and meta.std == IMAGENET_STD
    assert meta.architecture == "beltcnn" and meta.precision == path.stem.split("-")[-1]
    assert meta.opset == 18 and meta.input_size == 128
    assert path.stat().st_size < 8_000_000
    model = onnx.load(str(path), load_external_data=False)
    assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)
    session = session_for(path)
    (inp,) = session.get_inputs()
    assert inp.name == "input" and inp.type == "tensor(float)"
    assert isinstance(inp.shape[0], str) and inp.shape[1:] == [3, 128, 128]
    x = np.zeros((5, 3, 128, 128), np.float32)  # any batch size
    assert session.run(["logits"], {"input": x})[0].shape == (5, 3)


@pytest.mark.parametrize("path", [FP32, INT8], ids=["fp32", "int8"])
def test_the_worker_classifier_loads_the_shipped_model(path: Path, fresh: HeldOutSet) -> None:
    images, labels = fresh.get(128)
    result = Classifier(path).predict(images[:30])
    assert result.probabilities.shape == (30, 3)
    assert np.mean(np.array(result.classes) == np.array(CLASSES)[labels[:30]]) > 0.5


def test_evaluation_json_describes_the_shipped_files(report: dict[str, Any]) -> None:
    for path in (FP32, INT8):
        entry = reported(report, path)
        assert entry["version"] == read_metadata(path).version
        assert entry["size_bytes"] == path.stat().st_size
        assert {"dirty_lens", "defocus", "dim"} <= set(entry["faults"])
    assert report["held_out"]["seed"] == EVAL_SEED


@pytest.mark.parametrize("path", [FP32, INT8], ids=["fp32", "int8"])
def test_accuracy_on_a_fresh_held_out_set_meets_the_reported_figures(
    path: Path, report: dict[str, Any], fresh: HeldOutSet
) -> None:
    images, labels = fresh.get(128)
    meta = read_metadata(path)
    got = classification_metrics(labels, predict_logits(session_for(path), meta, images).argmax(1))
    claimed = reported(report, path)["clean"]
    assert got["accuracy"] >= claimed["accuracy"] - ACCURACY_MARGIN, got
    assert got["critical_recall"] >= claimed["critical_recall"] - CRITICAL_RECALL_MARGIN, got


def test_int8_stays_within_two_points_of_fp32(fresh: HeldOutSet) -> None:
    images, labels = fresh.get(128)
    predicted = [
        predict_logits(session_for(p), read_metadata(p), images).argmax(1) for p in (FP32, INT8)
    ]
    accuracy = [classification_metrics(labels, p)["accuracy"] for p in predicted]
    assert abs(accuracy[0] - accuracy[1]) <= INT8_ACCURACY_MARGIN
    assert np.mean(predicted[0] == predicted[1]) >= INT8_AGREEMENT


def test_a_dirty_lens_makes_the_model_worse(fresh: HeldOutSet) -> None:
    meta = read_metadata(INT8)
    session = session_for(INT8)
    scores = {}
    for condition in ("clean", "dirty_lens"):
        images, labels = fresh.get(128, condition)
        predicted = predict_logits(session, meta, images).argmax(1)
        scores[condition] = classification_metrics(labels, predicted)["accuracy"]
    assert scores["dirty_lens"] < scores["clean"] - 0.05, scores
