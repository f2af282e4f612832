"""`beltwatch model ...`: train, export, quantize and evaluate classifiers.

The defaults of `train` are the shipped model's recipe (train.TrainConfig; a test keeps them
equal). The whole shipped model, end to end: ``python -m inference.training.pipeline``.

Only typer and the standard library are imported here: the beltwatch CLI mounts this app
(``app.add_typer(model_app, name="model")``) and must start without loading torch, which
the commands import when they run (the ``train`` extra).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

model_app = typer.Typer(
    help="Train, export, quantize and evaluate image classifiers (needs the train extra).",
    no_args_is_help=True,
)

DEFAULT_FAULTS = "dirty_lens,defocus,dim,fogged,noisy"


def _fail(message: str) -> typer.Exit:
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(1)


@model_app.command()
def train(
    out: Annotated[Path, typer.Option(help="Checkpoint file to write (.pt).")] = Path(
        "build/model/beltcnn.pt"
    ),
    arch: Annotated[
        str, typer.Option(help="beltcnn, resnet18, resnet50, resnet101 or efficientnet_b0.")
    ] = "beltcnn",
    input_size: Annotated[int, typer.Option(help="Square model input, pixels.")] = 128,
    frames: Annotated[int, typer.Option(help="Synthetic training frames.")] = 18_000,
    val_frames: Annotated[int, typer.Option(help="Validation frames (own seed).")] = 1_000,
    epochs: Annotated[int, typer.Option()] = 7,
    batch_size: Annotated[int, typer.Option()] = 32,
    lr: Annotated[float, typer.Option(help="Peak learning rate (AdamW, one-cycle).")] = 2e-3,
    balance: Annotated[
        str, typer.Option(help="weights (class-weighted loss), sampler or none.")
    ] = "weights",
    twins: Annotated[
        bool, typer.Option(help="Render every parcel undamaged, minor and critical.")
    ] = True,
    damage_maps: Annotated[
        float, typer.Option(help="Weight of the damage-map loss (twins only; 0: off).")
    ] = 0.5,
    weights: Annotated[
        Path | None, typer.Option(help="state_dict file to start from (ImageNet or ours).")
    ] = None,
    freeze: Annotated[
        bool | None,
        typer.Option(
            "--freeze/--no-freeze",
            help="Freeze the first three stages (default: when --weights is given).",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the training frames.")] = 101,
    threads: Annotated[int, typer.Option(help="torch threads.")] = 2,
) -> None:
    """Train a classifier on synthetic conveyor frames and save a checkpoint (`--arch` and
    `--input-size` pick the net; `--weights` starts from a state_dict).

    \f
    Long only by its option declarations: the body builds a TrainConfig and calls
    train.train."""
    from inference.training.train import TrainConfig
    from inference.training.train import train as run

    try:
        config = TrainConfig(
            arch=arch,
            input_size=input_size,
            frames=frames,
            val_frames=val_frames,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            balance=balance,
            twins=twins,
            damage_map_weight=damage_maps,
            weights=str(weights) if weights else None,
            freeze=freeze,
            seed=seed,
            threads=threads,
        )
        result = run(config, out, log=typer.echo)
    except (ValueError, FileNotFoundError) as error:
        raise _fail(str(error)) from None
    last = result.history[-1] if result.history else {}
    typer.echo(
        f"{out}: validation accuracy {last.get('val_accuracy', float('nan')):.3f} after "
        f"{result.seconds:.0f} s ({result.images_per_second:.0f} images/s)"
    )


@model_app.command()
def export(
    checkpoint: Annotated[Path, typer.Argument(help="Checkpoint from `model train`.")],
    out: Annotated[Path, typer.Option(help="ONNX file to write; metadata goes beside it.")],
    version: Annotated[
        str | None, typer.Option(help="Model version (default: file stem + sha256 prefix).")
    ] = None,
    opset: Annotated[int, typer.Option(help="ONNX opset.")] = 18,
) -> None:
    """Export a checkpoint to ONNX (dynamic batch axis) and check it against torch."""
    from inference.training.export import export_checkpoint

    try:
        result = export_checkpoint(checkpoint, out, version=version, opset=opset)
    except (ValueError, RuntimeError, FileNotFoundError) as error:
        raise _fail(str(error)) from None
    typer.echo(
        f"{out} ({out.stat().st_size / 1e6:.2f} MB, opset {opset}, version "
        f"{result.metadata.version}): max |ONNX - torch| = {result.max_abs_diff:.2e}"
    )


@model_app.command()
def quantize(
    model: Annotated[Path, typer.Argument(help="FP32 ONNX model with its metadata.")],
    out: Annotated[Path, typer.Option(help="INT8 ONNX file to write.")],
    frames: Annotated[int, typer.Option(help="Calibration frames (own seed).")] = 256,
    method: Annotated[
        str, typer.Option(help="Calibration: minmax, entropy, percentile or distribution.")
    ] = "minmax",
    version: Annotated[str | None, typer.Option(help="Model version.")] = None,
) -> None:
    """INT8 static quantization (QDQ, per-channel) calibrated on synthetic frames."""
    from inference.exceptions import ModelError
    from inference.training.quantize import quantize_model

    try:
        meta = quantize_model(model, out, frames=frames, method=method, version=version)
    except (ValueError, ModelError, FileNotFoundError) as error:
        raise _fail(str(error)) from None
    typer.echo(
        f"{out} ({out.stat().st_size / 1e6:.2f} MB, was {model.stat().st_size / 1e6:.2f} MB), "
        f"version {meta.version}"
    )


@model_app.command()
def evaluate(
    models: Annotated[list[Path], typer.Argument(help="ONNX models with their metadata.")],
    frames: Annotated[int, typer.Option(help="Held-out frames (balanced classes).")] = 1200,
    seed: Annotated[int, typer.Option(help="Seed of the held-out set.")] = 404,
    faults: Annotated[
        str, typer.Option(help="Comma-separated camera faults to test ('' for none).")
    ] = DEFAULT_FAULTS,
    severity: Annotated[float, typer.Option(help="Camera fault severity, 0..1.")] = 0.7,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the report as JSON here.")
    ] = None,
    threads: Annotated[int, typer.Option(help="onnxruntime threads.")] = 2,
) -> None:
    """Accuracy, critical recall, false positives, latency and size on a held-out set."""
    from inference.exceptions import ModelError
    from inference.training.evaluate import evaluate_models, format_report, write_report

    try:
        report = evaluate_models(
            models,
            frames=frames,
            seed=seed,
            faults=[f.strip() for f in faults.split(",") if f.strip()],
            severity=severity,
            threads=threads,
            log=lambda line: typer.echo(line, err=True),
        )
    except (ValueError, ModelError, FileNotFoundError) as error:
        raise _fail(str(error)) from None
    typer.echo(format_report(report))
    if json_out is not None:
        write_report(report, json_out)
        typer.echo(f"wrote {json_out}")
