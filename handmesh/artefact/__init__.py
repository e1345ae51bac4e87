"""The contract between exporting and running a model: what an artefact is, what it says about itself, and how each
format is recognised and read. ``handmesh.export`` writes artefacts and ``handmesh.runtime`` runs them; both import
this package and neither imports the other.

    from handmesh.artefact import detect_source, read_metadata
    detect_source("t8.onnx")                 # "onnx" (also "checkpoint", "torchscript", "coreml")
    meta = read_metadata("t8.onnx")          # ArtefactMetadata: input size, normalization, hand model, faces, shapes

Where things are:
    metadata.py      ArtefactMetadata: the JSON document stored inside every export; names of inputs and outputs
    formats.py       the table of formats (suffix, label, reader), detect_source, read_metadata, the ONNX reader
    torchscript.py   load_torchscript: the traced module and its metadata
    coreml.py        inspect_coreml (validates a package on any OS), predict_coreml and its availability (macOS)
    describe.py      metadata_for (a live network's metadata), checkpoint provenance, describe_artefact
    support.py       require (optional packages with a clear error), quiet_tracing

Importing this package does no work: torch, onnx and coremltools load on first use.
"""

from __future__ import annotations

from handmesh.utils.lazy import lazy_attributes

_WHERE = {
    "ARTEFACT_FORMATS": "formats",
    "ArtefactMetadata": "metadata",
    "describe_artefact": "describe",
    "detect_source": "formats",
    "metadata_for": "describe",
    "read_metadata": "formats",
}
__all__ = sorted(_WHERE)


__getattr__, __dir__ = lazy_attributes(__name__, _WHERE, globals())
