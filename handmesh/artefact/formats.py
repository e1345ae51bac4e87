"""The kinds of model file, declared once: what each is called, its suffix, how it is recognised and how its
metadata is read. ``handmesh.export`` writes these files and ``handmesh.runtime`` runs them; both read this table.

==============  ===============  =====================================================================
kind            suffix           recognised by
==============  ===============  =====================================================================
checkpoint      ``.pt``          a zip archive without TorchScript code (or a checkpoint suffix)
onnx            ``.onnx``        its suffix, or a protobuf that starts like every ONNX ModelProto
torchscript     ``.ts``          a zip archive with TorchScript code (whatever its name)
coreml          ``.mlpackage``   a folder with ``Manifest.json``
==============  ===============  =====================================================================
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from handmesh.artefact.metadata import METADATA_KEY, ArtefactMetadata
from handmesh.artefact.support import require
from handmesh.errors import CheckpointError, ConfigError, MissingFileError

__all__ = ["ARTEFACT_FORMATS", "KINDS", "ArtefactFormat", "detect_source", "read_metadata", "read_onnx_metadata"]


@dataclass(frozen=True)
class ArtefactFormat:
    """One kind of exported model: its name (``"onnx"``), file suffix, a phrase for messages, and its metadata
    reader (``path -> ArtefactMetadata``, imported on first use)."""

    name: str
    suffix: str
    label: str
    read: Callable[[str | os.PathLike], ArtefactMetadata]


def read_onnx_metadata(path: str | os.PathLike) -> ArtefactMetadata:
    """The metadata of an ONNX export (``metadata_props["handmesh"]``), read with the onnx package.

    Raises:
        CheckpointError: corrupt, truncated, or no/malformed metadata.
        BackendUnavailableError: onnx is not installed.
    """
    onnx = require("onnx", "reading an ONNX model")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # protobuf DecodeError and friends
        raise CheckpointError(f"cannot read ONNX model {path}: {e} (corrupt or truncated)") from e
    props = {p.key: p.value for p in model.metadata_props}
    return ArtefactMetadata.from_json(props.get(METADATA_KEY), str(path))


def _read_torchscript(path: str | os.PathLike) -> ArtefactMetadata:
    from handmesh.artefact.torchscript import read_torchscript_metadata

    return read_torchscript_metadata(path)


def _read_coreml(path: str | os.PathLike) -> ArtefactMetadata:
    from handmesh.artefact.coreml import inspect_coreml

    return inspect_coreml(path)


ARTEFACT_FORMATS: dict[str, ArtefactFormat] = {
    f.name: f
    for f in (
        ArtefactFormat("onnx", ".onnx", "an ONNX export", read_onnx_metadata),
        ArtefactFormat("torchscript", ".ts", "a TorchScript export", _read_torchscript),
        ArtefactFormat("coreml", ".mlpackage", "a Core ML package", _read_coreml),
    )
}
"""The export formats, by name: what ``handmesh-export --format`` writes."""

KINDS: dict[str, str] = {
    "checkpoint": "a handmesh checkpoint",
    **{name: f.label for name, f in ARTEFACT_FORMATS.items()},
    "network": "an in-memory network",
}
"""Every kind of model source, with a phrase for messages."""


def detect_source(path: str | os.PathLike) -> str:
    """What ``path`` holds: ``"checkpoint"``, ``"onnx"``, ``"torchscript"`` or ``"coreml"``.

    Raises:
        MissingFileError: no such file or folder.
        CheckpointError: none of these (the message names the file and what is accepted).
    """
    path = Path(path)
    if not path.exists():
        raise MissingFileError(
            f"model {path} does not exist (expected a handmesh checkpoint .pt, or an export: .onnx, .ts, .mlpackage)"
        )
    if path.is_dir():
        if path.suffix == ".mlpackage" or (path / "Manifest.json").is_file():
            return "coreml"
        raise CheckpointError(f"{path} is a folder but not a Core ML package (no Manifest.json)")
    if path.suffix.lower() == ".onnx":
        return "onnx"
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, OSError) as e:
            raise CheckpointError(f"{path}: unreadable archive ({e})") from e
        if any(
            n.endswith("/constants.pkl") or n.endswith("/code/__torch__.py") or "/code/__torch__/" in n for n in names
        ):
            return "torchscript"
        return "checkpoint"  # read_checkpoint says whether it is ours
    if path.suffix.lower() in (".pt", ".pth", ".ckpt", ".bin", ".ts", ".pt2"):
        return "checkpoint"  # not a zip: read_checkpoint reports it as corrupt or not ours, naming the file
    head = path.read_bytes()[:64]
    if head[:1] == b"\x08":  # protobuf field 1 varint: how every ONNX ModelProto starts (ir_version)
        return "onnx"
    raise CheckpointError(
        f"{path}: not a handmesh checkpoint or export (expected a .pt checkpoint written by "
        "handmesh-train, or .onnx / .ts / .mlpackage written by handmesh-export)"
    )


def read_metadata(path: str | os.PathLike) -> ArtefactMetadata:
    """The metadata stored in an export (``.onnx``, TorchScript, ``.mlpackage``), read without running it.

    Raises:
        MissingFileError, CheckpointError: no such file, not an export, or no/malformed metadata.
    """
    kind = detect_source(path)
    if kind not in ARTEFACT_FORMATS:
        raise ConfigError(f"{path} is a checkpoint, not an export: export it with handmesh-export --checkpoint {path}")
    return ARTEFACT_FORMATS[kind].read(path)
