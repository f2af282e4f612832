"""Train a tiny model for a few steps, export it, quantize it, evaluate it, via the CLI too."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from typer.testing import CliRunner

from inference.modelmeta import IMAGENET_MEAN, IMAGENET_STD, file_sha256, read_metadata
from inference.training.cli import model_app
from inference.training.evaluate import (
    classification_metrics,
    evaluate_models,
    format_report,
    predict_logits,
    session_for,
)
from inference.training.export import TOLERANCE, export_checkpoint, export_onnx
from inference.training.frameset import normalize, render_set
from inference.training.quantize import quantize_model
from inference.training.synth import CLASSES
from inference.training.train import TrainConfig, load_checkpoint, train

SIZE = 64
# A tiny, barely trained model has nearly tied logits, so INT8 rounding may flip a few of its
# predictions; the shipped model's tighter bound is in test_training_shipped.py.
INT8_AGREEMENT = 0.85


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A beltcnn trained for 4 steps on 48 frames at 64x64."""
    config = TrainConfig(
        input_size=SIZE, frames=48, val_frames=12, epochs=1, batch_size=12, max_steps=4
    )
    out = tmp_path_factory.mktemp("train") / "tiny.pt"
    result = train(config, out, log=lambda _: None)
    assert result.history and result.history[-1]["step"] == 4
    return out


@pytest.fixture(scope="module")
def exported(trained: Path) -> Path:
    path = trained.with_name("tiny-fp32.onnx")
    export_checkpoint(trained, path)
    return path


@pytest.fixture(scope="module")
def quantized(exported: Path) -> Path:
    path = exported.with_name("tiny-int8.onnx")
    quantize_model(exported, path, frames=32)
    return path


@pytest.fixture(scope="module")
def fixed_set() -> tuple[np.ndarray, np.ndarray]:
    return render_set(60, seed=777, input_size=SIZE, balanced=True)


def test_training_saves_a_checkpoint_that_loads(trained: Path) -> None:
    net, saved = load_checkpoint(trained)
    assert saved["arch"] == "beltcnn" and saved["input_size"] == SIZE
    assert saved["classes"] == list(CLASSES)
    with torch.inference_mode():
        assert net(torch.zeros(1, 3, SIZE, SIZE)).shape == (1, 3)


def test_onnx_output_matches_torch_within_tolerance(trained: Path, exported: Path) -> None:
    net, _ = load_checkpoint(trained)
    x = normalize(render_set(7, seed=55, input_size=SIZE)[0])
    with torch.inference_mode():
        expected = net(torch.from_numpy(x)).numpy()
    session = session_for(exported)
    got = session.run(["logits"], {"input": x})[0]
    assert np.abs(got - expected).max() <= TOLERANCE
    one = session.run(["logits"], {"input": x[:1]})[0]  # the batch axis is dynamic
    assert np.abs(one - expected[:1]).max() <= TOLERANCE
    assert read_metadata(exported).extra["verify_max_abs_diff"] <= TOLERANCE


def test_exported_model_follows_the_contract(exported: Path) -> None:
    meta = read_metadata(exported)
    assert meta.sha256 == file_sha256(exported)
    assert meta.classes == CLASSES and meta.input_size == SIZE and meta.precision == "fp32"
    assert meta.mean == IMAGENET_MEAN and meta.std == IMAGENET_STD
    assert meta.architecture == "beltcnn" and meta.opset == 18
    model = onnx.load(str(exported), load_external_data=False)
    (inp,) = model.graph.input
    (out,) = model.graph.output
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert inp.name == "input" and isinstance(dims[0], str) and dims[1:] == [3, SIZE, SIZE]
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert out.name == "logits"
    assert [d.dim_value for d in out.type.tensor_type.shape.dim][1:] == [3]
    # One self-contained file: no weights stored outside it.
    assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)
    assert sorted(p.name for p in exported.parent.glob("tiny-fp32*")) == [
        "tiny-fp32.json",
        "tiny-fp32.onnx",
    ]


def test_an_export_outside_the_tolerance_is_refused(trained: Path, tmp_path: Path) -> None:
    net, _ = load_checkpoint(trained)
    with pytest.raises(RuntimeError, match="differs from torch"):
        export_onnx(net, tmp_path / "x.onnx", arch="beltcnn", input_size=SIZE, tolerance=-1.0)


def test_int8_model_runs_and_stays_close_to_fp32(
    exported: Path, quantized: Path, fixed_set: tuple[np.ndarray, np.ndarray]
) -> None:
    meta = read_metadata(quantized)
    assert meta.precision == "int8" and meta.sha256 == file_sha256(quantized)
    assert meta.extra["quantization"]["format"] == "QDQ"
    assert meta.extra["quantized_from"]["sha256"] == read_metadata(exported).sha256
    assert quantized.stat().st_size < exported.stat().st_size / 3
    model = onnx.load(str(quantized))
    assert any(n.op_type == "QuantizeLinear" for n in model.graph.node)
    images, labels = fixed_set
    fp32 = predict_logits(session_for(exported), read_metadata(exported), images)
    int8 = predict_logits(session_for(quantized), meta, images)
    assert int8.shape == fp32.shape == (60, 3)
    assert np.mean(fp32.argmax(1) == int8.argmax(1)) >= INT8_AGREEMENT
    acc = [classification_metrics(labels, p.argmax(1))["accuracy"] for p in (fp32, int8)]
    assert abs(acc[0] - acc[1]) <= 1 - INT8_AGREEMENT


def test_metrics_count_what_they_claim() -> None:
    labels = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    predicted = np.array([0, 0, 1, 2, 1, 0, 2, 1])
    m = classification_metrics(labels, predicted)
    assert m["accuracy"] == pytest.approx(4 / 8)
    assert m["critical_recall"] == pytest.approx(1 / 2)
    assert m["false_positive_rate"] == pytest.approx(2 / 4)
    assert m["precision"]["undamaged"] == pytest.approx(2 / 3)
    assert m["recall"]["minor"] == pytest.approx(1 / 2)
    assert m["confusion"] == [[2, 1, 1], [1, 1, 0], [0, 1, 1]]
    assert m["belt_accuracy"] == pytest.approx(0.8 * 0.5 + 0.17 * 0.5 + 0.03 * 0.5)


def test_evaluation_reports_both_models_clean_and_under_faults(
    exported: Path, quantized: Path
) -> None:
    report = evaluate_models(
        [exported, quantized], frames=30, faults=["dirty_lens"], latency_runs=5
    )
    assert [m["precision"] for m in report["models"]] == ["fp32", "int8"]
    for m in report["models"]:
        assert m["latency_ms_p50"] > 0 and m["size_bytes"] == Path(m["file"]).stat().st_size
        assert set(m["faults"]) == {"dirty_lens"} and m["clean"]["frames"] == 30
    table = format_report(report)
    assert "| Model | Accuracy | Critical Recall | Latency | Model Size |" in table
    assert "| tiny-int8 | dirty_lens |" in table


def test_cli_exports_quantizes_and_evaluates(trained: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    fp32, int8, report = tmp_path / "m-fp32.onnx", tmp_path / "m-int8.onnx", tmp_path / "e.json"
    result = runner.invoke(model_app, ["export", str(trained), "--out", str(fp32)])
    assert result.exit_code == 0, result.output
    assert "max |ONNX - torch| =" in result.output
    result = runner.invoke(model_app, ["quantize", str(fp32), "--out", str(int8), "--frames", "16"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        model_app,
        [
            "evaluate",
            str(fp32),
            str(int8),
            "--frames",
            "12",
            "--faults",
            "dim",
            "--json",
            str(report),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "| Model | Accuracy | Critical Recall | Latency | Model Size |" in result.output
    assert [m["model"] for m in json.loads(report.read_text())["models"]] == ["m-fp32", "m-int8"]


def test_cli_says_what_is_wrong_with_a_bad_fault_name(exported: Path) -> None:
    result = CliRunner().invoke(
        model_app, ["evaluate", str(exported), "--frames", "3", "--faults", "smoke"]
    )
    assert result.exit_code == 1
    assert "unknown camera faults ['smoke']" in result.output


def test_cli_trains_a_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "cli.pt"
    args = ["train", "--out", str(out), "--input-size", "48", "--frames", "24"]
    args += ["--val-frames", "6", "--epochs", "1", "--batch-size", "12", "--balance", "sampler"]
    result = CliRunner().invoke(model_app, args)
    assert result.exit_code == 0, result.output
    assert out.is_file() and "validation accuracy" in result.output


def test_the_cli_module_does_not_import_torch() -> None:
    code = (
        "import sys, inference.training, inference.training.synth, inference.training.cli\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "assert 'onnxruntime' not in sys.modules, 'onnxruntime was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cli_train_defaults_are_the_shipped_recipe() -> None:
    import inspect

    from inference.training import cli

    options = inspect.signature(cli.train).parameters
    recipe = TrainConfig()
    for option, field in {
        "input_size": "input_size",
        "frames": "frames",
        "val_frames": "val_frames",
        "epochs": "epochs",
        "batch_size": "batch_size",
        "lr": "lr",
        "balance": "balance",
        "twins": "twins",
        "damage_maps": "damage_map_weight",
        "seed": "seed",
        "threads": "threads",
    }.items():
        assert options[option].default == getattr(recipe, field), option


@pytest.mark.slow
def test_fine_tuning_a_torchvision_net_from_a_weights_file_exports_and_quantizes(
    tmp_path: Path,
) -> None:
    from torchvision import models as tvm

    weights = tmp_path / "resnet18-imagenet.pth"
    torch.save(tvm.resnet18(weights=None).state_dict(), weights)  # 1000 classes, as ImageNet's
    config = TrainConfig(
        arch="resnet18",
        input_size=SIZE,
        frames=24,
        val_frames=6,
        epochs=1,
        batch_size=12,
        weights=str(weights),
    )
    train(config, tmp_path / "r18.pt", log=lambda _: None)
    net, saved = load_checkpoint(tmp_path / "r18.pt")
    assert saved["frozen"] and not net.layer3[0].conv1.weight.requires_grad
    result = export_checkpoint(tmp_path / "r18.pt", tmp_path / "r18.onnx")
    assert result.max_abs_diff <= TOLERANCE and result.metadata.architecture == "resnet18"
    meta = quantize_model(tmp_path / "r18.onnx", tmp_path / "r18-int8.onnx", frames=12)
    assert meta.precision == "int8"


def test_the_pipeline_ships_both_models_and_their_evaluation(tmp_path: Path) -> None:
    from inference.training.pipeline import run_pipeline

    config = TrainConfig(input_size=48, frames=24, val_frames=6, epochs=1, batch_size=12)
    out = tmp_path / "models"
    report = run_pipeline(
        out,
        config,
        work=tmp_path / "work",
        eval_frames=9,
        calibration_frames=8,
        faults=["dirty_lens"],
        log=lambda _: None,
    )
    shipped = sorted(p.name for p in out.iterdir())
    assert shipped == [
        "beltcnn-fp32.json",
        "beltcnn-fp32.onnx",
        "beltcnn-int8.json",
        "beltcnn-int8.onnx",
        "evaluation.json",
        "evaluation.md",
    ]
    assert json.loads((out / "evaluation.json").read_text()) == json.loads(json.dumps(report))
    assert set(report["pipeline"]["seconds"]) == {"train", "export", "quantize", "evaluate"}
    again = run_pipeline(
        out,
        config,
        work=tmp_path / "work",
        eval_frames=9,
        calibration_frames=8,
        faults=[],
        skip_training=True,
        log=lambda _: None,
    )
    assert again["pipeline"]["training_reused"] is True
    assert read_metadata(out / "beltcnn-int8.onnx").sha256 == file_sha256(out / "beltcnn-int8.onnx")
    with pytest.raises(ValueError, match="another configuration"):
        other = TrainConfig(**{**vars(config), "epochs": 2})
        run_pipeline(out, other, work=tmp_path / "work", skip_training=True, log=lambda _: None)
