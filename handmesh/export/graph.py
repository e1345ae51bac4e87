"""The module every exporter traces: a reparameterized :class:`~handmesh.network.HandMeshNet`, hand model included,
with one tensor in and a tuple of tensors out.

    image (B, 3, S, S) normalized -> rotmats (B, 16, 3, 3), betas (B, 10), cam (B, 3), vertices (B, V, 3),
                                     joints (B, 21, 3), joints2d (B, 21, 2)

With ``fp16`` the encoder runs in half precision between two casts; the head, the hand model (forward kinematics
chains 16 rotations) and every input and output stay float32.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

__all__ = ["ExportGraph", "prepare_network"]


class _HalfEncoder(nn.Module):
    """Runs a FastViT encoder in float16 and hands float32 features on (see the module docstring)."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.inner = backbone.half()

    def forward_features(self, x: torch.Tensor) -> Any:
        from fastvit_backbone.model import FastVitFeatures

        f = self.inner.forward_features(x.half())
        return FastVitFeatures(
            stages=tuple(s.float() for s in f.stages), final=f.final.float(), pooled=f.pooled.float()
        )


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
