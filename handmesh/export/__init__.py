"""Export a trained network, hand model included, to ONNX, TorchScript or Core ML; every export checks itself.

    from handmesh.export import export_model
    result = export_model("runs/t8/best.pt", "onnx", "t8.onnx")   # or "torchscript", "coreml"
    print(result.summary())                                         # shapes, metadata, max error vs PyTorch

The artefact takes ``image (B, 3, S, S)`` (normalized RGB crops) and returns ``rotmats (B, 16, 3, 3)``,
``betas (B, 10)``, ``cam (B, 3)``, ``vertices (B, V, 3)``, ``joints (B, 21, 3)``, ``joints2d (B, 21, 2)`` (metres,
root-relative; see :class:`~handmesh.network.HandMeshOutput`). It always holds the reparameterized encoder. Its
metadata (input size, normalization, hand model, faces, shapes) is stored inside it: see
:mod:`handmesh.artefact.metadata`. Run artefacts with :func:`handmesh.runtime.load_runtime`.

Where things are:
    metadata.py         ArtefactMetadata: what every artefact stores about itself; the faces encoding
    graph.py            ExportGraph (the traced module), prepare_network, metadata_for
    to_onnx.py          export_onnx
    to_torchscript.py   export_torchscript
    to_coreml.py        export_coreml, inspect_coreml (validates a package on any OS)
    verify.py           the parity check against PyTorch and its tolerances
    cache.py            exports made on demand for load_runtime, cached by checkpoint hash
    api.py              export_model: one entry point for all formats (what handmesh-export calls)
"""

from __future__ import annotations

from handmesh.utils.lazy import lazy_attributes

# Exporters import torch, onnx and coremltools: load them on first use only (importing handmesh does no work).
_WHERE = {
    "ArtefactMetadata": "handmesh.artefact.metadata",
    "ExportResult": "handmesh.export.common",
    "ParityReport": "handmesh.export.verify",
    "cache_dir": "handmesh.export.cache",
    "cached_export": "handmesh.export.cache",
    "default_output": "handmesh.export.api",
    "export_coreml": "handmesh.export.to_coreml",
    "export_model": "handmesh.export.api",
    "export_onnx": "handmesh.export.to_onnx",
    "export_torchscript": "handmesh.export.to_torchscript",
    "inspect_coreml": "handmesh.artefact.coreml",
}
__all__ = sorted(_WHERE)


__getattr__, __dir__ = lazy_attributes(__name__, _WHERE, globals())
