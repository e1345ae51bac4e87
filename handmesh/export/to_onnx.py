"""ONNX export: the reparameterized network and hand model as one ONNX graph, checked with ONNX Runtime.

Uses the TorchScript-based exporter (``torch.onnx.export(..., dynamo=False)``): it needs no extra package and
traces this network exactly. Opset 17 runs on every ONNX Runtime since 1.13. The batch dimension is dynamic
(``dynamic_axes``) unless a fixed batch is asked for. The metadata (see :mod:`handmesh.artefact.metadata`) goes into
``metadata_props["handmesh"]``.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from handmesh.artefact.metadata import INPUT_NAME, METADATA_KEY, OUTPUT_NAMES, ArtefactMetadata
from handmesh.artefact.support import quiet_tracing, require
from handmesh.export.common import ExportResult
from handmesh.export.graph import ExportGraph, prepare_network
from handmesh.export.recipe import run_export, vertex_tolerance
from handmesh.export.verify import ParityReport, compare, reference_outputs, verification_crops
from handmesh.utils.atomic import atomic_write_bytes

__all__ = ["DEFAULT_OPSET", "OnnxWriter", "export_onnx", "onnx_bytes"]

DEFAULT_OPSET = 17


def onnx_bytes(net: torch.nn.Module, meta: ArtefactMetadata, *, opset: int = DEFAULT_OPSET) -> bytes:
    """Serialize a prepared network (see :func:`~handmesh.export.graph.prepare_network`) with its metadata.

    Args:
        net: the prepared :class:`~handmesh.network.HandMeshNet` (reparameterized, eval, CPU).
        meta: its metadata (``meta.batch`` fixes the batch dimension, None leaves it dynamic).
        opset: ONNX opset. Default: 17.

    Returns:
        The ``.onnx`` file's bytes.
    """
    onnx = require("onnx", "ONNX export")
    graph = ExportGraph(net).eval()
    example = verification_crops(meta.input_size, meta.batch or 1, seed=1)
    dynamic = None
    if meta.batch is None:
        dynamic = {name: {0: "batch"} for name in (INPUT_NAME, *OUTPUT_NAMES)}
    buf = io.BytesIO()
    with torch.no_grad(), quiet_tracing():
        torch.onnx.export(
            graph,
            (example,),
            buf,
            dynamo=False,
            input_names=[INPUT_NAME],
            output_names=list(OUTPUT_NAMES),
            dynamic_axes=dynamic,
            opset_version=int(opset),
            do_constant_folding=True,
        )
    model = onnx.load_from_string(buf.getvalue())
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, meta.to_json()
    model.producer_name = "handmesh"
    model.doc_string = (
        f"handmesh {meta.variant} {meta.input_size}px hand mesh network ({meta.hand_model} hand): "
        f"{INPUT_NAME} (B,3,S,S) normalized RGB -> {', '.join(OUTPUT_NAMES)}; metres"
    )
    onnx.checker.check_model(model)
    return model.SerializeToString()


def export_onnx(
    source: Any,
    output: str | os.PathLike,
    *,
    batch: int | str | None = None,
    fp16: bool = False,
    opset: int = DEFAULT_OPSET,
    verify: bool = True,
    use_ema: bool = True,
    mano_dir: str | os.PathLike | None = None,
) -> ExportResult:
    """Export a checkpoint (or a :class:`~handmesh.network.HandMeshNet`) to ONNX, atomically, and check it.

    Args:
        source: a handmesh checkpoint path, or a network.
        output: the ``.onnx`` file to write.
        batch: a fixed batch size, or None/``"dynamic"`` for any. Default: dynamic.
        fp16: run the encoder in float16 inside the graph (for GPUs; inputs and outputs stay float32).
            Default: False.
        opset: ONNX opset. Default: 17.
        verify: compare with PyTorch in ONNX Runtime on random crops. Default: True.
        use_ema, mano_dir: for a checkpoint, see :func:`~handmesh.network.load_network`.

    Returns:
        :class:`~handmesh.export.common.ExportResult`; ``result.parity.passed`` is False when the vertices differ
        by more than 1e-4 m (fp32) or 5e-3 m (fp16).

    Raises:
        MissingFileError, CheckpointError: the checkpoint is missing, corrupt or not ours.
        BackendUnavailableError: onnx is not installed.
    """
    return run_export(
        OnnxWriter(opset), source, output, batch=batch, fp16=fp16, verify=verify, use_ema=use_ema, mano_dir=mano_dir
    )


class OnnxWriter:
    """The ONNX format for :func:`~handmesh.export.recipe.run_export` (checked in ONNX Runtime on the CPU)."""

    name = "onnx"

    def __init__(self, opset: int = DEFAULT_OPSET) -> None:
        self.opset = int(opset)
        self.versions = {"onnx": require("onnx", "ONNX export").__version__, "opset": str(self.opset)}
        self.source: dict[str, Any] = {}

    def write(self, net: torch.nn.Module, meta: ArtefactMetadata, output: Path) -> tuple[bytes, torch.nn.Module]:
        prepared = prepare_network(net, fp16=meta.precision == "fp16")
        data = onnx_bytes(prepared, meta, opset=self.opset)
        atomic_write_bytes(output, data)
        return data, prepared

    def check(
        self, net: torch.nn.Module, meta: ArtefactMetadata, output: Path, written: tuple[bytes, torch.nn.Module]
    ) -> ParityReport:
        data, prepared = written
        return check_onnx(data, prepare_network(net) if meta.precision == "fp16" else prepared, meta)


def check_onnx(
    data: bytes | str | os.PathLike, reference_net: torch.nn.Module, meta: ArtefactMetadata, seed: int = 0
) -> ParityReport:
    """Run the ONNX model in ONNX Runtime (CPU) and compare with ``reference_net`` on random crops."""
    try:
        import onnxruntime as ort
    except ImportError:
        return ParityReport(False, note="onnxruntime is not installed")
    tol = vertex_tolerance(meta)
    source = data if isinstance(data, bytes) else str(data)
    try:
        session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    except Exception as e:  # e.g. no float16 kernel for an operator on the CPU provider
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        return ParityReport(False, tolerance_m=tol, note=f"ONNX Runtime's CPU provider cannot run it: {first}")
    crops = verification_crops(meta.input_size, meta.batch or 2, seed)
    got = dict(zip(OUTPUT_NAMES, session.run(list(OUTPUT_NAMES), {INPUT_NAME: crops.numpy()})))
    ref = reference_outputs(reference_net, crops)
    return compare(
        ref, {k: np.asarray(v) for k, v in got.items()}, tolerance_m=tol, note="ONNX Runtime CPUExecutionProvider"
    )
