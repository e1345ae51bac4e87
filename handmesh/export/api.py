"""``export_model``: one entry point for every format (what ``handmesh-export`` calls).

``read_metadata`` and ``describe_artefact`` come from :mod:`handmesh.artefact` and are served here for the command."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from handmesh.artefact.describe import describe_artefact
from handmesh.artefact.formats import ARTEFACT_FORMATS, read_metadata
from handmesh.errors import ConfigError
from handmesh.export.common import ExportResult

__all__ = ["FORMATS", "default_output", "describe_artefact", "export_model", "read_metadata"]

FORMATS = {name: f.suffix for name, f in ARTEFACT_FORMATS.items()}
"""Export format -> file suffix."""


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
        raise ConfigError(
            f"device {device!r}: only TorchScript exports are traced on a device (ONNX and Core ML "
            "choose theirs when they run)"
        )
    if fmt == "onnx":
        from handmesh.export.to_onnx import DEFAULT_OPSET, export_onnx

        return export_onnx(checkpoint, output, opset=opset or DEFAULT_OPSET, **common)
    if fmt == "torchscript":
        from handmesh.export.to_torchscript import export_torchscript

        return export_torchscript(checkpoint, output, device=device, **common)
    from handmesh.export.to_coreml import export_coreml

    return export_coreml(checkpoint, output, **common)
