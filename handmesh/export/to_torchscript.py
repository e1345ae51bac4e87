"""TorchScript export: the reparameterized network and hand model traced with ``torch.jit.trace``.

The trace records the batch dimension symbolically, so one file takes any batch size. It runs with
``torch.jit.load`` alone (no handmesh needed); the metadata is the extra file ``handmesh.json``. Tensors that the
network creates while running (identity matrices in the kinematic chain) are recorded on the device of the trace:
export with ``device="cuda"`` for a file that runs on CUDA.
"""

from __future__ import annotations

import io
import os
import time
from pathlib import Path
from typing import Any

import torch

from handmesh.export.common import ExportResult, load_source, parse_batch, quiet_tracing
from handmesh.export.graph import ExportGraph, metadata_for, prepare_network
from handmesh.export.metadata import OUTPUT_NAMES, TORCHSCRIPT_EXTRA_FILE, ArtefactMetadata
from handmesh.export.verify import (
    FP16_VERTEX_TOLERANCE_M,
    FP32_VERTEX_TOLERANCE_M,
    ParityReport,
    compare,
    reference_outputs,
    verification_crops,
)

__all__ = ["export_torchscript", "torchscript_bytes"]


def torchscript_bytes(net: torch.nn.Module, meta: ArtefactMetadata, device: str | torch.device = "cpu") -> bytes:
    """Trace a prepared network (see :func:`~handmesh.export.graph.prepare_network`) and serialize it with its
    metadata; returns the file's bytes."""
    graph = ExportGraph(net).eval()
    example = verification_crops(meta.input_size, meta.batch or 1, seed=1).to(device)
    with torch.no_grad(), quiet_tracing():
        traced = torch.jit.trace(graph, (example,), check_trace=False)
    buf = io.BytesIO()
    with quiet_tracing():
        torch.jit.save(traced, buf, _extra_files={TORCHSCRIPT_EXTRA_FILE: meta.to_json()})
    return buf.getvalue()


def export_torchscript(
    source: Any,
    output: str | os.PathLike,
    *,
    batch: int | str | None = None,
    fp16: bool = False,
    device: str = "cpu",
    verify: bool = True,
    use_ema: bool = True,
    mano_dir: str | os.PathLike | None = None,
) -> ExportResult:
    """Export a checkpoint (or a :class:`~handmesh.network.HandMeshNet`) to TorchScript, atomically, and check it.

    Args:
        source: a handmesh checkpoint path, or a network.
        output: the file to write (``.ts`` by convention).
        batch: recorded as the batch size the file is meant for; the trace itself takes any. Default: dynamic.
        fp16: run the encoder in float16 (for CUDA; inputs and outputs stay float32). Default: False.
        device: the device to trace on, where the file will run. Default: ``"cpu"``.
        verify: compare with PyTorch on random crops. Default: True.
        use_ema, mano_dir: for a checkpoint, see :func:`~handmesh.network.load_network`.

    Returns:
        :class:`~handmesh.export.common.ExportResult`.
    """
    from handmesh.runtime.torch_backend import check_torch_device
    from handmesh.utils.atomic import atomic_write_bytes

    t0 = time.perf_counter()
    n = parse_batch(batch)
    dev = check_torch_device(device)
    net, provenance = load_source(source, use_ema=use_ema, mano_dir=mano_dir)
    meta = metadata_for(net, "torchscript", batch=n, fp16=fp16, source={**provenance, "traced_on": dev.type})
    prepared = prepare_network(net, fp16=fp16, device=dev)
    data = torchscript_bytes(prepared, meta, dev)
    output = Path(output)
    atomic_write_bytes(output, data)
    parity = ParityReport(False, note="--no-verify")
    if verify:
        reference = prepare_network(net, device=dev)
        tol = FP16_VERTEX_TOLERANCE_M if fp16 else FP32_VERTEX_TOLERANCE_M
        crops = verification_crops(meta.input_size, n or 2).to(dev)
        with quiet_tracing():
            module = torch.jit.load(io.BytesIO(data), map_location=dev)
        with torch.no_grad():
            got = dict(zip(OUTPUT_NAMES, (t.float().cpu().numpy() for t in module(crops))))
        parity = compare(reference_outputs(reference, crops), got, tolerance_m=tol, note=f"torch.jit on {dev}")
    return ExportResult(output, "torchscript", meta, parity, time.perf_counter() - t0)
