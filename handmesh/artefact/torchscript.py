"""Reading TorchScript exports: the traced module and the metadata stored beside it as the extra file
``handmesh.json``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from handmesh.artefact.metadata import TORCHSCRIPT_EXTRA_FILE, ArtefactMetadata
from handmesh.artefact.support import quiet_tracing
from handmesh.errors import CheckpointError, MissingFileError

__all__ = ["load_torchscript", "read_torchscript_metadata"]


def load_torchscript(path: str | os.PathLike) -> tuple[Any, ArtefactMetadata]:
    """Load a TorchScript export on the CPU with its metadata.

    Raises:
        MissingFileError: no such file.
        CheckpointError: not a TorchScript file, corrupt, or without handmesh metadata.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"TorchScript file {path} does not exist")
    extra = {TORCHSCRIPT_EXTRA_FILE: ""}
    try:
        with quiet_tracing():  # torch.jit.load announces its own deprecation
            module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    except Exception as e:  # torch raises RuntimeError/ValueError variants for bad archives
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CheckpointError(
            f"cannot load TorchScript file {path}: {first} (corrupt, truncated, or not a TorchScript file)"
        ) from e
    return module, ArtefactMetadata.from_json(extra[TORCHSCRIPT_EXTRA_FILE] or None, str(path))


def read_torchscript_metadata(path: str | os.PathLike) -> ArtefactMetadata:
    """The metadata of a TorchScript export (see :func:`load_torchscript`)."""
    return load_torchscript(path)[1]
