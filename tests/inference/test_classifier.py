"""Classifier: a real ONNX Runtime session, checked against its metadata at load."""

from __future__ import annotations

import json

import numpy as np
import pytest
from onnx_models import colour_model, solid

from inference.classifier import Classifier
from inference.exceptions import ModelError
from inference.modelmeta import metadata_path


def batch(*colours: str, size: int = 32) -> np.ndarray:
    return np.stack([solid(c, size) for c in colours])


def test_predicts_probabilities_in_beltwatch_class_order(tmp_path) -> None:
    clf = Classifier(colour_model(tmp_path))
    result = clf.predict(batch("green", "blue", "red"))
    assert result.classes == ["undamaged", "minor", "critical"]
    assert result.probabilities.shape == (3, 3)
    np.testing.assert_allclose(result.probabilities.sum(axis=1), 1.0, rtol=1e-6)
    assert result.seconds > 0
    assert clf.version == "colour-1" and clf.input_size == 32


def test_probabilities_by_class_name_one_mapping_per_image(tmp_path) -> None:
    result = Classifier(colour_model(tmp_path)).predict(batch("red", "green"))
    red, green = result.by_class()
    assert list(red) == ["undamaged", "minor", "critical"]
    assert red["critical"] > 0.9 and green["undamaged"] > 0.9
    assert sum(red.values()) == pytest.approx(1.0, abs=1e-6)
    assert all(type(p) is float for p in red.values())


def test_model_with_classes_in_another_order_is_mapped_by_name(tmp_path) -> None:
    path = colour_model(tmp_path, classes=("critical", "undamaged", "minor"))
    result = Classifier(path).predict(batch("green", "blue", "red"))
    assert result.classes == ["undamaged", "minor", "critical"]
    assert result.by_class()[2]["critical"] > 0.9


def test_missing_model_file_is_named(tmp_path) -> None:
    with pytest.raises(ModelError, match=r"model file not found: .*nope\.onnx"):
        Classifier(tmp_path / "nope.onnx")


def test_missing_metadata_is_named(tmp_path) -> None:
    path = colour_model(tmp_path)
    metadata_path(path).unlink()
    with pytest.raises(ModelError, match=r"no metadata file .*colour\.json"):
        Classifier(path)


def test_checksum_mismatch_is_refused(tmp_path) -> None:
    path = colour_model(tmp_path)
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(ModelError, match="does not match its metadata"):
        Classifier(path)


def test_wrong_class_names_are_refused(tmp_path) -> None:
    path = colour_model(tmp_path, classes=("ok", "dented", "crushed"))
    with pytest.raises(ModelError, match=r"expected the three classes \['undamaged'"):
        Classifier(path)


def test_class_count_mismatch_between_model_and_metadata_is_refused(tmp_path) -> None:
    path = colour_model(tmp_path, n_outputs=2)
    with pytest.raises(ModelError, match=r"output shape \['batch', 2\]; expected \(batch, 3\)"):
        Classifier(path)


def test_input_size_mismatch_is_refused(tmp_path) -> None:
    path = colour_model(tmp_path, size=32)
    meta = json.loads(metadata_path(path).read_text())
    meta["input_size"] = 224
    metadata_path(path).write_text(json.dumps(meta))
    with pytest.raises(ModelError, match=r"expected \(batch, 3, 224, 224\)"):
        Classifier(path)


def test_wrong_sized_batch_is_a_clear_error(tmp_path) -> None:
    clf = Classifier(colour_model(tmp_path))
    with pytest.raises(
        ModelError, match=r"must be \(N, 32, 32, 3\) uint8 RGB, got \(1, 64, 64, 3\)"
    ):
        clf.predict(batch("red", size=64))


def test_not_an_onnx_file_is_a_clear_error(tmp_path) -> None:
    path = colour_model(tmp_path)
    path.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="ONNX Runtime cannot load it"):
        Classifier(path, verify_checksum=False)
