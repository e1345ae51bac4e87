"""Describing artefacts: the metadata of a live network (what an export stores, what the PyTorch runtime reports),
where a checkpoint came from, and the metadata as lines for people."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from handmesh.artefact.metadata import ArtefactMetadata

__all__ = ["checkpoint_source", "describe_artefact", "file_sha256", "metadata_for"]


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def metadata_for(
    net: Any,
    artefact: str,
    *,
    batch: int | None = None,
    fp16: bool = False,
    source: dict[str, Any] | None = None,
    versions: dict[str, str] | None = None,
) -> ArtefactMetadata:
    """The :class:`ArtefactMetadata` of an export of ``net``.

    Args:
        net: the :class:`~handmesh.network.HandMeshNet` being exported.
        artefact: ``"onnx"``, ``"torchscript"`` or ``"coreml"``.
        batch: fixed batch size, None for any. Default: None.
        fp16: encoder in half precision. Default: False.
        source: checkpoint provenance. Default: none.
        versions: extra library versions (the exporter's). Default: none.
    """
    import torch

    from handmesh._version import __version__
    from handmesh.hand_model.model import model_fingerprint

    hand = net.hand_model
    return ArtefactMetadata(
        artefact=artefact,
        variant=str(net.variant),
        input_size=int(net.input_size),
        mean=tuple(float(v) for v in net.mean),  # type: ignore[arg-type]
        std=tuple(float(v) for v in net.std),  # type: ignore[arg-type]
        hand_model=str(net.hand_model_name),
        faces=hand.faces.detach().cpu().numpy().astype("int32"),
        num_vertices=int(hand.num_vertices),
        batch=None if batch is None else int(batch),
        precision="fp16" if fp16 else "fp32",
        hand_model_sha256=model_fingerprint(hand),
        side=str(getattr(net, "side", "right")),
        source=dict(source or {}),
        versions={"handmesh": __version__, "torch": torch.__version__, **(versions or {})},
    )


def checkpoint_source(path: str | os.PathLike, info: Any) -> dict[str, Any]:
    """The ``source`` entry of the metadata for a network loaded from checkpoint ``path``."""
    return {
        "checkpoint": Path(path).name,
        "sha256": file_sha256(path),
        "step": int(info.step),
        "epoch": int(info.epoch),
        "ema": bool(info.used_ema),
    }


def describe_artefact(meta: ArtefactMetadata) -> str:
    """Human-readable lines of an export's metadata (everything but the faces' numbers)."""
    batch = "any" if meta.batch is None else str(meta.batch)
    lines = [
        f"artefact: {meta.artefact} ({meta.precision}), batch {batch}",
        f"network: {meta.variant}, input {meta.input_size}x{meta.input_size}, {meta.hand_model} hand "
        f"({meta.side}; sha256 {meta.hand_model_sha256[:16]}...)",
        f"normalization: x = (rgb / 255 - mean) / std, mean {meta.mean}, std {meta.std}",
        f"input: image {tuple(meta.input_shape)} float32",
        "outputs: " + ", ".join(f"{k} {tuple(v)}" for k, v in meta.output_shapes.items()),
        f"mesh: {meta.num_vertices} vertices, {meta.faces.shape[0]} faces",
    ]
    if meta.source:
        lines.append("source: " + ", ".join(f"{k} {v}" for k, v in meta.source.items()))
    if meta.versions:
        lines.append("versions: " + ", ".join(f"{k} {v}" for k, v in meta.versions.items()))
    return "\n".join(lines)
