"""``export_model``: one entry point for every format (what ``handmesh-export`` calls), and ``describe_artefact``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from handmesh.errors import CheckpointError, ConfigError
from handmesh.export.common import ExportResult
from handmesh.export.metadata import ArtefactMetadata

__all__ = ["FORMATS", "default_output", "describe_artefact", "export_model", "read_metadata"]

FORMATS = {"onnx": ".onnx", "torchscript": ".ts", "coreml": ".mlpackage"}


def default_output(checkpoint: str | os.PathLike, fmt: str, fp16: bool = False) -> Path:
    """Beside the checkpoint, same stem: ``best.pt`` -> ``best.onnx`` / ``best.ts`` / ``best.mlpackage``
    (``best.fp16.onnx`` with ``fp16``)."""
    _check_format(fmt)
    path = Path(checkpoint)
    return path.with_name(f"{path.stem}{'.fp16' if fp16 else ''}{FORMATS[fmt]}")


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ConfigError(f"format {fmt!r}: expected one of {', '.join(FORMATS)}")


def export_model(
    checkpoint: Any,
    fmt: str = "onnx",
    output: str | os.PathLike | None = None,
    *,
    batch: int | str | None = None,
    fp16: bool = False,
    verify: bool = True,
    opset: int | None = None,
    device: str = "cpu",
    use_ema: bool = True,
    mano_dir: str | os.PathLike | None = None,
) -> ExportResult:
    """Export a checkpoint (reparameterized, hand model included) and check the artefact against PyTorch.

    Args:
        checkpoint: a handmesh checkpoint (training or inference), or a :class:`~handmesh.network.HandMeshNet`.
        fmt: ``"onnx"``, ``"torchscript"`` or ``"coreml"``. Default: ``"onnx"``.
        output: where to write. Default: beside the checkpoint (:func:`default_output`); required for a network.
        batch: a fixed batch size, or None/``"dynamic"``. Default: dynamic.
        fp16: float16 encoder (ONNX, TorchScript: for GPUs) or float16 compute (Core ML: for the Neural Engine).
            Default: False.
        verify: compare with PyTorch on random crops (Core ML: validate, and compare on macOS). Default: True.
        opset: ONNX opset. Default: 17.
        device: TorchScript only: the device to trace on. Default: ``"cpu"``.
        use_ema, mano_dir: see :func:`~handmesh.network.load_network`.

    Returns:
        :class:`~handmesh.export.common.ExportResult`.

    Raises:
        MissingFileError, CheckpointError: the checkpoint is missing, corrupt or not a handmesh checkpoint.
        ConfigError: an unknown format, a bad batch, or an option the format does not take.
        BackendUnavailableError: the exporter's package (onnx, coremltools) is missing.
    """
    _check_format(fmt)
    if output is None:
        if not isinstance(checkpoint, (str, os.PathLike)):
            raise ConfigError("output: required when exporting an in-memory network")
        output = default_output(checkpoint, fmt, fp16)
    common = dict(batch=batch, fp16=fp16, verify=verify, use_ema=use_ema, mano_dir=mano_dir)
    if opset is not None and fmt != "onnx":
        raise ConfigError(f"opset applies to ONNX exports, not {fmt}")
    if device != "cpu" and fmt != "torchscript":
        raise ConfigError(f"device {device!r}: only TorchScript exports are traced on a device (ONNX and Core ML "
                          "choose theirs when they run)")
    if fmt == "onnx":
        from handmesh.export.to_onnx import DEFAULT_OPSET, export_onnx

        return export_onnx(checkpoint, output, opset=opset or DEFAULT_OPSET, **common)
    if fmt == "torchscript":
        from handmesh.export.to_torchscript import export_torchscript

        return export_torchscript(checkpoint, output, device=device, **common)
    from handmesh.export.to_coreml import export_coreml

    return export_coreml(checkpoint, output, **common)


def read_metadata(path: str | os.PathLike) -> ArtefactMetadata:
    """The metadata stored in an export (``.onnx``, TorchScript, ``.mlpackage``), read without running it.

    Raises:
        MissingFileError, CheckpointError: no such file, not an export, or no/malformed metadata.
    """
    from handmesh.runtime.loader import detect_source

    kind = detect_source(path)
    if kind == "onnx":
        from handmesh.export.common import require
        from handmesh.export.metadata import METADATA_KEY

        onnx = require("onnx", "reading an ONNX model")
        try:
            model = onnx.load(str(path), load_external_data=False)
        except Exception as e:  # protobuf DecodeError and friends
            raise CheckpointError(f"cannot read ONNX model {path}: {e} (corrupt or truncated)") from e
        props = {p.key: p.value for p in model.metadata_props}
        return ArtefactMetadata.from_json(props.get(METADATA_KEY), str(path))
    if kind == "torchscript":
        from handmesh.runtime.torchscript_backend import read_torchscript_metadata

        return read_torchscript_metadata(path)
    if kind == "coreml":
        from handmesh.export.to_coreml import inspect_coreml

        return inspect_coreml(path)
    raise ConfigError(f"{path} is a checkpoint, not an export: export it with handmesh-export --checkpoint {path}")


def describe_artefact(meta: ArtefactMetadata) -> str:
    """Human-readable lines of an export's metadata (everything but the faces' numbers)."""
    batch = "any" if meta.batch is None else str(meta.batch)
    lines = [
        f"artefact: {meta.artefact} ({meta.precision}), batch {batch}",
        f"network: {meta.variant}, input {meta.input_size}x{meta.input_size}, {meta.hand_model} hand "
        f"({meta.side}; sha256 {meta.hand_model_sha256[:16]}...)",
        f"normalization: x = (rgb / 255 - mean) / std, mean {meta.mean}, std {meta.std}",
        f"input: image {tuple(meta.input_shape)} float32",
        "outputs: " + ", ".join(f"{k} {tuple(v)}" for k, v in meta.output_shapes.items()),
        f"mesh: {meta.num_vertices} vertices, {meta.faces.shape[0]} faces",
    ]
    if meta.source:
        lines.append("source: " + ", ".join(f"{k} {v}" for k, v in meta.source.items()))
    if meta.versions:
        lines.append("versions: " + ", ".join(f"{k} {v}" for k, v in meta.versions.items()))
    return "\n".join(lines)
