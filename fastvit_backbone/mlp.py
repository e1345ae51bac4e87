"""Convolutional feed-forward network (FastViT paper, Sec. 3.2.2, Fig. 2): a 7x7 depthwise conv with BatchNorm
gives the FFN a receptive field of its own, then two 1x1 convs with GELU between them, 4x or 3x wide.
"""

from __future__ import annotations

import torch
from torch import nn

from fastvit_backbone.conv import ConvNorm, make_fused_conv


class ConvMlp(nn.Module):
    """``fc2(act(fc1(BN(DWConv7x7(x)))))``; :meth:`reparameterize` folds the BatchNorm into the depthwise conv.

    Args:
        in_chs: input channels ``C``.
        hidden_channels: width of the 1x1 expansion. Default: ``C``.
        out_chs: output channels. Default: ``C``.
        act_layer: activation class. Default: ``nn.GELU``.
        drop: dropout after each 1x1 conv. Default: 0.
        inference_mode: build the folded form directly (``reparam_conv`` instead of ``conv``). Default: ``False``.

    Input ``(B, C, H, W)``, output ``(B, out_chs, H, W)``.
    """

    def __init__(
        self,
        in_chs: int,
        hidden_channels: int | None = None,
        out_chs: int | None = None,
        act_layer: type[nn.Module] = nn.GELU,
        drop: float = 0.0,
        inference_mode: bool = False,
    ) -> None:
        super().__init__()
        out_chs = out_chs or in_chs
        hidden_channels = hidden_channels or in_chs
        self.in_chs = in_chs
        self.inference_mode = inference_mode
        self.conv: ConvNorm | None = None
        self.reparam_conv: nn.Conv2d | None = None
        if inference_mode:
            self.reparam_conv = nn.Conv2d(in_chs, out_chs, 7, padding=3, groups=in_chs, bias=True)
        else:
            self.conv = ConvNorm(in_chs, out_chs, 7, groups=in_chs)
        self.fc1 = nn.Conv2d(in_chs, hidden_channels, kernel_size=1)
        self.act = act_layer()
        self.fc2 = nn.Conv2d(hidden_channels, out_chs, kernel_size=1)
        # No-op modules still cost a Python call per block at inference, so p=0 gets an Identity.
        self.drop = nn.Dropout(drop) if drop > 0 else nn.Identity()
        self._init_weights()

    def _init_weights(self) -> None:
        # As the paper's code: truncated normal (std 0.02) convolutions, zero biases.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x ``(B, C, H, W)``. Returns ``(B, out_chs, H, W)``."""
        if self.reparam_conv is not None:
            x = self.reparam_conv(x)
        else:
            assert self.conv is not None
            x = self.conv(x)
        x = self.drop(self.act(self.fc1(x)))
        return self.drop(self.fc2(x))

    def reparameterize(self) -> None:
        """Fold the BatchNorm into the depthwise conv (``reparam_conv``) and delete ``conv``. Idempotent."""
        if self.reparam_conv is not None:
            return
        assert self.conv is not None
        kernel, bias = self.conv.fused_kernel_bias()
        self.reparam_conv = make_fused_conv(kernel, bias, stride=1, groups=self.in_chs, like=self.fc1.weight)
        self.conv = None
        self.inference_mode = True
