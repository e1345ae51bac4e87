"""Embeddings: the convolutional stem (image -> stride 4) and the patch embedding that halves the resolution
between stages (FastViT paper, Sec. 3.2.3 and Fig. 2).
"""

from __future__ import annotations

import torch
from torch import nn

from fastvit_backbone.large_kernel import ReparamLargeKernelConv
from fastvit_backbone.mobileone import MobileOneBlock


def convolutional_stem(
    in_chs: int, out_chs: int, act_layer: type[nn.Module] = nn.GELU, inference_mode: bool = False
) -> nn.Sequential:
    """The MobileOne stem: 3x3 stride-2 dense conv, 3x3 stride-2 depthwise conv, 1x1 conv, each a MobileOne block.

    Args:
        in_chs: image channels.
        out_chs: channels of the first stage.
        act_layer: activation class. Default: ``nn.GELU``.
        inference_mode: build the fused form directly. Default: ``False``.

    Returns:
        ``nn.Sequential`` mapping ``(B, in_chs, H, W)`` to ``(B, out_chs, H / 4, W / 4)``; state-dict keys
        ``0.*``, ``1.*``, ``2.*``.
    """
    return nn.Sequential(
        MobileOneBlock(in_chs, out_chs, 3, stride=2, act_layer=act_layer, inference_mode=inference_mode),
        MobileOneBlock(out_chs, out_chs, 3, stride=2, group_size=1, act_layer=act_layer, inference_mode=inference_mode),
        MobileOneBlock(out_chs, out_chs, 1, act_layer=act_layer, inference_mode=inference_mode),
    )


class PatchEmbed(nn.Module):
    """Downsampling between stages: a stride-2 large-kernel conv (7x7 with a 3x3 branch at train time, one input
    channel per group) followed by a 1x1 MobileOne block that mixes channels.

    Args:
        patch_size: large kernel size. Default: 7.
        stride: Default: 2.
        in_chs: input channels.
        embed_dim: output channels.
        act_layer: activation of the 1x1 block. Default: ``nn.GELU``.
        inference_mode: build the fused form directly. Default: ``False``.

    Input ``(B, in_chs, H, W)``, output ``(B, embed_dim, H / stride, W / stride)``. State-dict keys ``proj.0.*``
    (large kernel conv) and ``proj.1.*`` (MobileOne block).
    """

    def __init__(
        self,
        patch_size: int,
        stride: int,
        in_chs: int,
        embed_dim: int,
        act_layer: type[nn.Module] = nn.GELU,
        inference_mode: bool = False,
    ) -> None:
        super().__init__()
        self.proj = nn.Sequential(
            ReparamLargeKernelConv(
                in_chs,
                embed_dim,
                patch_size,
                stride=stride,
                group_size=1,
                small_kernel=3,
                inference_mode=inference_mode,
            ),
            MobileOneBlock(embed_dim, embed_dim, 1, act_layer=act_layer, inference_mode=inference_mode),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x ``(B, in_chs, H, W)``. Returns ``(B, embed_dim, H / stride, W / stride)``."""
        return self.proj(x)
