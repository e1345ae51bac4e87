"""The one export recipe every format follows, and what a format's writer supplies to it.

    load the network (a checkpoint path is read, a network used as is) -> its metadata -> the writer writes the
    artefact atomically -> the writer checks it against PyTorch on random crops -> ExportResult

A format is one :class:`FormatWriter` (in ``to_onnx.py``, ``to_torchscript.py``, ``to_coreml.py``): how to
serialize the prepared graph with its metadata, and how to run the result to compare it with PyTorch.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Protocol

from handmesh.artefact.describe import metadata_for
from handmesh.artefact.metadata import ArtefactMetadata
from handmesh.export.common import ExportResult, load_source, parse_batch
from handmesh.export.verify import FP16_VERTEX_TOLERANCE_M, FP32_VERTEX_TOLERANCE_M, ParityReport

__all__ = ["FormatWriter", "run_export", "vertex_tolerance"]


class FormatWriter(Protocol):
    """One export format.

    Attributes:
        name: the format (``"onnx"``, ``"torchscript"``, ``"coreml"``), as in :mod:`handmesh.artefact.formats`.
        versions: the exporter's library versions, stored in the metadata.
        source: extra provenance stored in the metadata (e.g. the device a trace was made on).
    """

    name: str
    versions: dict[str, str]
    source: dict[str, Any]

    def write(self, net: Any, meta: ArtefactMetadata, output: Path) -> Any:
        """Serialize ``net`` (a :class:`~handmesh.network.HandMeshNet`, not yet prepared) with ``meta`` to
        ``output``, atomically; return what :meth:`check` needs of the written artefact."""
        ...

    def check(self, net: Any, meta: ArtefactMetadata, output: Path, written: Any) -> ParityReport:
        """Run the written artefact and compare it with ``net`` in PyTorch."""
        ...


def vertex_tolerance(meta: ArtefactMetadata) -> float:
    """The largest vertex difference from PyTorch an export of this precision may show, metres."""
    return FP16_VERTEX_TOLERANCE_M if meta.precision == "fp16" else FP32_VERTEX_TOLERANCE_M


def run_export(
    writer: FormatWriter,
    source: Any,
    output: str | os.PathLike,
    *,
    batch: int | str | None = None,
    fp16: bool = False,
    verify: bool = True,
    use_ema: bool = True,
    mano_dir: str | os.PathLike | None = None,
) -> ExportResult:
    """Export ``source`` (a checkpoint path or a network) with ``writer``; see :func:`~handmesh.export.export_model`
    for the arguments."""
    t0 = time.perf_counter()
    n = parse_batch(batch)
    net, provenance = load_source(source, use_ema=use_ema, mano_dir=mano_dir)
    meta = metadata_for(
        net, writer.name, batch=n, fp16=fp16, source={**provenance, **writer.source}, versions=writer.versions
    )
    output = Path(output)
    written = writer.write(net, meta, output)
    parity = writer.check(net, meta, output, written) if verify else ParityReport(False, note="--no-verify")
    return ExportResult(output, writer.name, meta, parity, time.perf_counter() - t0)
