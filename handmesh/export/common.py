"""What the exporters share: the result record, batch options and the network source."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from handmesh.artefact.metadata import ArtefactMetadata
from handmesh.errors import ConfigError
from handmesh.export.verify import ParityReport

__all__ = ["ExportResult", "load_source", "parse_batch"]


@dataclass
class ExportResult:
    """What an export wrote and how it compared with PyTorch.

    Attributes:
        path: the artefact (a file, or the ``.mlpackage`` folder).
        format: ``"onnx"``, ``"torchscript"`` or ``"coreml"``.
        metadata: what is stored inside it.
        parity: the check against PyTorch.
        seconds: wall time of the export and check.
    """

    path: Path
    format: str
    metadata: ArtefactMetadata
    parity: ParityReport
    seconds: float = 0.0

    def summary(self) -> str:
        """A few lines for the command line."""
        m = self.metadata
        batch = "any" if m.batch is None else str(m.batch)
        shapes = ", ".join(f"{k} {tuple(v)}" for k, v in m.output_shapes.items())
        return "\n".join(
            [
                f"wrote {self.path} ({self.format}, {m.precision}, {m.variant} {m.input_size}px, {m.hand_model} hand, "
                f"batch {batch}) in {self.seconds:.1f} s",
                f"input: image {tuple(m.input_shape)} float32, normalized RGB (mean {m.mean}, std {m.std})",
                f"outputs: {shapes}",
                self.parity.summary(),
            ]
        )


def parse_batch(batch: int | str | None) -> int | None:
    """``None``/``"dynamic"`` -> None (any batch size); a positive integer (or its text) -> that fixed size.

    Raises:
        ConfigError: anything else.
    """
    if batch is None or (isinstance(batch, str) and batch.lower() == "dynamic"):
        return None
    try:
        n = int(batch)
    except (TypeError, ValueError):
        n = 0
    if n < 1 or (isinstance(batch, float) and batch != n):
        raise ConfigError(f"batch: expected a positive integer or 'dynamic', got {batch!r}")
    return n


def load_source(
    net_or_checkpoint: Any, *, use_ema: bool = True, mano_dir: str | os.PathLike | None = None
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """A network to export and its provenance: a checkpoint path is loaded (errors name the file), a
    :class:`~handmesh.network.HandMeshNet` is used as is."""
    if isinstance(net_or_checkpoint, torch.nn.Module):
        return net_or_checkpoint, {}
    from handmesh.artefact.describe import checkpoint_source
    from handmesh.network import load_network

    path = Path(net_or_checkpoint)
    net, info = load_network(path, use_ema=use_ema, mano_dir=mano_dir)
    return net, checkpoint_source(path, info)
