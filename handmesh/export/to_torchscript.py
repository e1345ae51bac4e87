"""TorchScript export: the reparameterized network and hand model traced with ``torch.jit.trace``.

The trace records the batch dimension symbolically, so one file takes any batch size. It runs with
``torch.jit.load`` alone (no handmesh needed); the metadata is the extra file ``handmesh.json``. Tensors that the
network creates while running (identity matrices in the kinematic chain) are recorded on the device of the trace:
export with ``device="cuda"`` for a file that runs on CUDA.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import torch

from handmesh.artefact.metadata import OUTPUT_NAMES, TORCHSCRIPT_EXTRA_FILE, ArtefactMetadata
from handmesh.artefact.support import quiet_tracing
from handmesh.export.common import ExportResult
from handmesh.export.graph import ExportGraph, prepare_network
from handmesh.export.recipe import run_export, vertex_tolerance
from handmesh.export.verify import ParityReport, compare, reference_outputs, verification_crops
from handmesh.network.predictor import check_torch_device
from handmesh.utils.atomic import atomic_write_bytes

__all__ = ["TorchScriptWriter", "export_torchscript", "torchscript_bytes"]


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
    return run_export(
        TorchScriptWriter(device),
        source,
        output,
        batch=batch,
        fp16=fp16,
        verify=verify,
        use_ema=use_ema,
        mano_dir=mano_dir,
    )


class TorchScriptWriter:
    """The TorchScript format for :func:`~handmesh.export.recipe.run_export`: traced on ``device``, checked with
    ``torch.jit`` there."""

    name = "torchscript"

    def __init__(self, device: str = "cpu") -> None:
        self.device = check_torch_device(device)
        self.versions: dict[str, str] = {}
        self.source = {"traced_on": self.device.type}

    def write(self, net: torch.nn.Module, meta: ArtefactMetadata, output: Path) -> bytes:
        prepared = prepare_network(net, fp16=meta.precision == "fp16", device=self.device)
        data = torchscript_bytes(prepared, meta, self.device)
        atomic_write_bytes(output, data)
        return data

    def check(self, net: torch.nn.Module, meta: ArtefactMetadata, output: Path, written: bytes) -> ParityReport:
        dev = self.device
        reference = prepare_network(net, device=dev)
        crops = verification_crops(meta.input_size, meta.batch or 2).to(dev)
        with quiet_tracing():
            module = torch.jit.load(io.BytesIO(written), map_location=dev)
        with torch.no_grad():
            got = dict(zip(OUTPUT_NAMES, (t.float().cpu().numpy() for t in module(crops))))
        return compare(
            reference_outputs(reference, crops), got, tolerance_m=vertex_tolerance(meta), note=f"torch.jit on {dev}"
        )
