"""Core ML export: the reparameterized network and hand model as an ML Program (``.mlpackage``) for macOS 13+ / iOS 16+.

Converted with coremltools from a ``torch.jit.trace`` of the graph (works on any OS). Float32 compute by default,
so that it matches PyTorch; ``fp16=True`` converts with float16 compute, which the Neural Engine needs. The batch
dimension ranges over 1..16 (``batch=None``) or is fixed. The metadata goes into the model description's
``user_defined_metadata["handmesh"]``.

Core ML predicts only on macOS: elsewhere the export is converted and validated (the package's spec loads; its input
and output names and shapes, and its metadata, are what the runtime expects) and the numerical check is skipped,
saying so.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from handmesh.errors import BackendUnavailableError, CheckpointError, MissingFileError
from handmesh.export.common import ExportResult, load_source, parse_batch, quiet_tracing, require
from handmesh.export.graph import ExportGraph, metadata_for, prepare_network
from handmesh.export.metadata import INPUT_NAME, METADATA_KEY, OUTPUT_NAMES, ArtefactMetadata
from handmesh.export.verify import (
    FP16_VERTEX_TOLERANCE_M,
    FP32_VERTEX_TOLERANCE_M,
    ParityReport,
    compare,
    reference_outputs,
    verification_crops,
)

__all__ = ["MAX_DYNAMIC_BATCH", "export_coreml", "inspect_coreml", "predict_available"]

MAX_DYNAMIC_BATCH = 16


def predict_available() -> tuple[bool, str]:
    """Whether Core ML can run predictions here, and if not, why (for messages)."""
    if sys.platform != "darwin":
        system = {"linux": "Linux", "win32": "Windows"}.get(sys.platform, sys.platform)
        return False, f"Core ML predicts only on macOS (this machine runs {system})"
    try:
        import coremltools  # noqa: F401
    except ImportError:
        return False, "coremltools is not installed (pip install coremltools)"
    return True, ""


def export_coreml(
    source: Any,
    output: str | os.PathLike,
    *,
    batch: int | str | None = None,
    fp16: bool = False,
    verify: bool = True,
    use_ema: bool = True,
    mano_dir: str | os.PathLike | None = None,
    quiet: bool = True,
) -> ExportResult:
    """Export a checkpoint (or a :class:`~handmesh.network.HandMeshNet`) to a Core ML package, atomically.

    Args:
        source: a handmesh checkpoint path, or a network.
        output: the ``.mlpackage`` folder to write.
        batch: a fixed batch size, or None/``"dynamic"`` for 1..16. Default: dynamic.
        fp16: float16 compute (for the Neural Engine; inputs and outputs stay float32). Default: False.
        verify: validate the package, and on macOS compare with PyTorch on random crops. Default: True.
        use_ema, mano_dir: for a checkpoint, see :func:`~handmesh.network.load_network`.
        quiet: hide coremltools' progress bars. Default: True.

    Returns:
        :class:`~handmesh.export.common.ExportResult`; off macOS ``result.parity.checked`` is False with the reason.

    Raises:
        BackendUnavailableError: coremltools is not installed.
        CheckpointError: the converted package does not validate.
    """
    ct = require("coremltools", "Core ML export")
    t0 = time.perf_counter()
    n = parse_batch(batch)
    net, provenance = load_source(source, use_ema=use_ema, mano_dir=mano_dir)
    meta = metadata_for(net, "coreml", batch=n, fp16=fp16, source=provenance, versions={"coremltools": ct.__version__})
    prepared = prepare_network(net)  # fp16 is Core ML's compute precision, not a cast in the graph
    S = meta.input_size
    example = verification_crops(S, n or 1, seed=1)
    with torch.no_grad(), quiet_tracing():
        traced = torch.jit.trace(ExportGraph(prepared).eval(), (example,), check_trace=False)
    batch_dim = n if n is not None else ct.RangeDim(lower_bound=1, upper_bound=MAX_DYNAMIC_BATCH, default=1)
    sink = io.StringIO()
    with quiet_tracing(), (contextlib.redirect_stderr(sink) if quiet else contextlib.nullcontext()):
        model = ct.convert(
            traced,
            inputs=[ct.TensorType(name=INPUT_NAME, shape=(batch_dim, 3, S, S))],
            outputs=[ct.TensorType(name=name) for name in OUTPUT_NAMES],
            convert_to="mlprogram",
            compute_precision=ct.precision.FLOAT16 if fp16 else ct.precision.FLOAT32,
            minimum_deployment_target=ct.target.macOS13,
        )
    model.user_defined_metadata[METADATA_KEY] = meta.to_json()
    model.short_description = (f"handmesh {meta.variant} {S}px hand mesh network ({meta.hand_model} hand): "
                               f"{INPUT_NAME} (B,3,S,S) normalized RGB -> {', '.join(OUTPUT_NAMES)}; metres")
    output = Path(output)
    _save_package_atomically(model, output)
    parity = ParityReport(False, note="--no-verify")
    if verify:
        inspect_coreml(output)  # raises if the package does not validate
        ok, why = predict_available()
        tol = FP16_VERTEX_TOLERANCE_M if fp16 else FP32_VERTEX_TOLERANCE_M
        if ok:
            crops = verification_crops(S, n or 2)
            got = _predict(ct.models.MLModel(str(output)), crops.numpy())
            parity = compare(reference_outputs(prepared, crops), got, tolerance_m=tol, note="Core ML on macOS")
        else:
            parity = ParityReport(False, tolerance_m=tol, note=f"{why}; the package converted and validated "
                                  "(spec loads; input, outputs and metadata as expected)")
    return ExportResult(output, "coreml", meta, parity, time.perf_counter() - t0)


def _save_package_atomically(model: Any, output: Path) -> None:
    """Save into a temporary folder beside ``output``, then swap it into place (a reader never sees half)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent))
    try:
        staged = tmp / output.name
        model.save(str(staged))
        if output.exists():  # moved into the temporary folder, deleted with it
            os.replace(output, tmp / "previous")
        os.replace(staged, output)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def inspect_coreml(path: str | os.PathLike) -> ArtefactMetadata:
    """Validate a Core ML package written by :func:`export_coreml` (works on any OS) and return its metadata.

    Checks that the spec loads, that it is an ML Program with one input ``image (B, 3, S, S)`` (S from the
    metadata) and the outputs ``rotmats, betas, cam, vertices, joints, joints2d``.

    Raises:
        MissingFileError: no such package.
        CheckpointError: not a Core ML package, corrupt, not a handmesh export, or other inputs/outputs.
        BackendUnavailableError: coremltools is not installed.
    """
    ct = require("coremltools", "reading a Core ML package")
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"Core ML package {path} does not exist")
    if not path.is_dir() or not (path / "Manifest.json").is_file():
        raise CheckpointError(f"{path} is not a Core ML package (expected a .mlpackage folder with Manifest.json)")
    try:
        with quiet_tracing():
            spec = ct.models.MLModel(str(path), skip_model_load=True).get_spec()
    except Exception as e:  # coremltools raises assorted types for damaged packages
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CheckpointError(f"cannot read Core ML package {path}: {first} (damaged or incomplete)") from e
    desc = spec.description
    meta = ArtefactMetadata.from_json(dict(desc.metadata.userDefined).get(METADATA_KEY), str(path))
    if spec.WhichOneof("Type") != "mlProgram":
        raise CheckpointError(f"{path}: a {spec.WhichOneof('Type')} model, expected an ML Program")
    inputs = [i.name for i in desc.input]
    outputs = [o.name for o in desc.output]
    if inputs != [INPUT_NAME] or outputs != list(OUTPUT_NAMES):
        raise CheckpointError(f"Core ML package {path}: inputs {inputs} and outputs {outputs}, expected "
                              f"[{INPUT_NAME!r}] and {list(OUTPUT_NAMES)}")
    shape = list(desc.input[0].type.multiArrayType.shape)
    S = meta.input_size
    if len(shape) != 4 or shape[1:] != [3, S, S]:
        raise CheckpointError(f"Core ML package {path}: input shape {shape}, expected (B, 3, {S}, {S}) as its "
                              "metadata says")
    return meta


def _predict(model: Any, crops: Any) -> dict[str, Any]:
    """Run a loaded ``MLModel`` on ``(B, 3, S, S)`` float32 crops -> output name -> array."""
    import numpy as np

    out = model.predict({INPUT_NAME: np.ascontiguousarray(crops, dtype=np.float32)})
    return {k: np.asarray(out[k], dtype=np.float32) for k in OUTPUT_NAMES}


def require_predict() -> None:
    """Raise :class:`BackendUnavailableError` unless Core ML can predict here."""
    ok, why = predict_available()
    if not ok:
        raise BackendUnavailableError(
            f"backend 'coreml': {why}. The package can still be made and inspected here (handmesh-export --format "
            "coreml); to run the model on this machine use backend='onnxruntime' with the .onnx export (or the "
            "checkpoint)"
        )
