"""The module every exporter traces: a reparameterized :class:`~handmesh.network.HandMeshNet`, hand model included,
with one tensor in and a tuple of tensors out.

    image (B, 3, S, S) normalized -> rotmats (B, 16, 3, 3), betas (B, 10), cam (B, 3), vertices (B, V, 3),
                                     joints (B, 21, 3), joints2d (B, 21, 2)

With ``fp16`` the encoder runs in half precision between two casts; the head, the hand model (forward kinematics
chains 16 rotations) and every input and output stay float32.
"""

from __future__ import annotations

import copy
import hashlib
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from handmesh.export.metadata import ArtefactMetadata

__all__ = ["ExportGraph", "checkpoint_source", "file_sha256", "metadata_for", "prepare_network"]


class _HalfEncoder(nn.Module):
    """Runs a FastViT encoder in float16 and hands float32 features on (see the module docstring)."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.inner = backbone.half()

    def forward_features(self, x: torch.Tensor) -> Any:
        from fastvit_backbone.model import FastVitFeatures

        f = self.inner.forward_features(x.half())
        return FastVitFeatures(stages=tuple(s.float() for s in f.stages), final=f.final.float(),
                               pooled=f.pooled.float())


class ExportGraph(nn.Module):
    """``image -> (rotmats, betas, cam, vertices, joints, joints2d)`` (see the module docstring).

    Args:
        net: a :class:`~handmesh.network.HandMeshNet`, reparameterized and in eval mode (see
            :func:`prepare_network`). It is used as is (not copied).
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.net(image)
        return out.rotmats, out.betas, out.cam, out.vertices, out.joints, out.joints2d


def prepare_network(net: nn.Module, *, fp16: bool = False, device: str | torch.device = "cpu") -> nn.Module:
    """A copy of ``net`` ready to trace: float32, eval mode, encoder reparameterized (and in float16 with ``fp16``).

    Args:
        net: a :class:`~handmesh.network.HandMeshNet` (left untouched).
        fp16: run the encoder in half precision. Default: False.
        device: where the copy lives. Default: CPU.
    """
    net = copy.deepcopy(net).float().eval()
    net.reparameterize()
    if fp16:
        net.backbone = _HalfEncoder(net.backbone)
    return net.to(device)


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def metadata_for(
    net: nn.Module,
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
    return {"checkpoint": Path(path).name, "sha256": file_sha256(path), "step": int(info.step),
            "epoch": int(info.epoch), "ema": bool(info.used_ema)}
