"""Reading Core ML packages: validation and metadata on any OS, predictions on macOS.

A handmesh ``.mlpackage`` is an ML Program with one input ``image (B, 3, S, S)`` and the network's outputs (see
:mod:`handmesh.network.outputs`); its metadata is ``user_defined_metadata["handmesh"]`` of the model description.
The batch dimension ranges over 1..:data:`MAX_DYNAMIC_BATCH` unless the export fixed it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from handmesh.artefact.metadata import INPUT_NAME, METADATA_KEY, OUTPUT_NAMES, ArtefactMetadata
from handmesh.artefact.support import quiet_tracing, require
from handmesh.errors import BackendUnavailableError, CheckpointError, MissingFileError

__all__ = ["MAX_DYNAMIC_BATCH", "inspect_coreml", "predict_available", "predict_coreml", "require_predict"]

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


def inspect_coreml(path: str | os.PathLike) -> ArtefactMetadata:
    """Validate a Core ML package written by :func:`~handmesh.export.export_coreml` (works on any OS) and return
    its metadata.

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
        raise CheckpointError(
            f"Core ML package {path}: inputs {inputs} and outputs {outputs}, expected "
            f"[{INPUT_NAME!r}] and {list(OUTPUT_NAMES)}"
        )
    shape = list(desc.input[0].type.multiArrayType.shape)
    S = meta.input_size
    if len(shape) != 4 or shape[1:] != [3, S, S]:
        raise CheckpointError(
            f"Core ML package {path}: input shape {shape}, expected (B, 3, {S}, {S}) as its metadata says"
        )
    return meta


def predict_coreml(model: Any, crops: Any) -> dict[str, Any]:
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
