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
import tempfile
from pathlib import Path
from typing import Any

import torch

from handmesh.artefact.coreml import MAX_DYNAMIC_BATCH, inspect_coreml, predict_available, predict_coreml
from handmesh.artefact.metadata import INPUT_NAME, METADATA_KEY, OUTPUT_NAMES, ArtefactMetadata
from handmesh.artefact.support import quiet_tracing, require
from handmesh.export.common import ExportResult
from handmesh.export.graph import ExportGraph, prepare_network
from handmesh.export.recipe import run_export, vertex_tolerance
from handmesh.export.verify import ParityReport, compare, reference_outputs, verification_crops

__all__ = ["CoreMLWriter", "MAX_DYNAMIC_BATCH", "export_coreml", "inspect_coreml", "predict_available"]


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
    return run_export(
        CoreMLWriter(quiet), source, output, batch=batch, fp16=fp16, verify=verify, use_ema=use_ema, mano_dir=mano_dir
    )


class CoreMLWriter:
    """The Core ML format for :func:`~handmesh.export.recipe.run_export`: an ML Program converted from a trace;
    validated anywhere, compared with PyTorch on macOS. ``fp16`` is Core ML's compute precision, not a cast in the
    graph."""

    name = "coreml"

    def __init__(self, quiet: bool = True) -> None:
        self.ct = require("coremltools", "Core ML export")
        self.quiet = quiet
        self.versions = {"coremltools": self.ct.__version__}
        self.source: dict[str, Any] = {}

    def write(self, net: torch.nn.Module, meta: ArtefactMetadata, output: Path) -> torch.nn.Module:
        ct, S, n = self.ct, meta.input_size, meta.batch
        prepared = prepare_network(net)
        example = verification_crops(S, n or 1, seed=1)
        with torch.no_grad(), quiet_tracing():
            traced = torch.jit.trace(ExportGraph(prepared).eval(), (example,), check_trace=False)
        batch_dim = n if n is not None else ct.RangeDim(lower_bound=1, upper_bound=MAX_DYNAMIC_BATCH, default=1)
        sink = io.StringIO()
        with quiet_tracing(), contextlib.redirect_stderr(sink) if self.quiet else contextlib.nullcontext():
            model = ct.convert(
                traced,
                inputs=[ct.TensorType(name=INPUT_NAME, shape=(batch_dim, 3, S, S))],
                outputs=[ct.TensorType(name=name) for name in OUTPUT_NAMES],
                convert_to="mlprogram",
                compute_precision=ct.precision.FLOAT16 if meta.precision == "fp16" else ct.precision.FLOAT32,
                minimum_deployment_target=ct.target.macOS13,
            )
        model.user_defined_metadata[METADATA_KEY] = meta.to_json()
        model.short_description = (
            f"handmesh {meta.variant} {S}px hand mesh network ({meta.hand_model} hand): "
            f"{INPUT_NAME} (B,3,S,S) normalized RGB -> {', '.join(OUTPUT_NAMES)}; metres"
        )
        _save_package_atomically(model, output)
        return prepared

    def check(
        self, net: torch.nn.Module, meta: ArtefactMetadata, output: Path, written: torch.nn.Module
    ) -> ParityReport:
        inspect_coreml(output)  # raises if the package does not validate
        ok, why = predict_available()
        tol = vertex_tolerance(meta)
        if not ok:
            return ParityReport(
                False,
                tolerance_m=tol,
                note=f"{why}; the package converted and validated "
                "(spec loads; input, outputs and metadata as expected)",
            )
        crops = verification_crops(meta.input_size, meta.batch or 2)
        got = predict_coreml(self.ct.models.MLModel(str(output)), crops.numpy())
        return compare(reference_outputs(written, crops), got, tolerance_m=tol, note="Core ML on macOS")


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
