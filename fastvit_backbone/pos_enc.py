"""Reparameterizable conditional positional encoding (RepCPE; Chu et al., "Conditional Positional Encodings for
Vision Transformers", 2021; FastViT paper Sec. 3.2.4): ``x + DWConv7x7(x)`` at train time, one depthwise conv with
the identity folded into its centre tap at inference.
"""

from __future__ import annotations

import torch
from torch import nn

from fastvit_backbone.conv import make_fused_conv
from fastvit_backbone.fusion import as_float64, identity_kernel


class RepConditionalPosEnc(nn.Module):
    """Positional encoding from a depthwise convolution, placed before the attention stage.

    Args:
        dim: channels ``C``.
        dim_out: output channels; must equal ``dim`` (the identity term needs it). Default: ``dim``.
        spatial_shape: odd square kernel size (an int or an ``(k, k)`` pair). Default: 7.
        inference_mode: build the fused form directly. Default: ``False``.

    Input and output ``(B, C, H, W)``. State-dict keys ``pos_enc.*`` (train) or ``reparam_conv.*`` (fused).
    """

    def __init__(
        self,
        dim: int,
        dim_out: int | None = None,
        spatial_shape: int | tuple[int, int] = 7,
        inference_mode: bool = False,
    ) -> None:
        super().__init__()
        if isinstance(spatial_shape, int):
            spatial_shape = (spatial_shape, spatial_shape)
        if len(spatial_shape) != 2 or spatial_shape[0] != spatial_shape[1] or spatial_shape[0] % 2 != 1:
            raise ValueError(f"spatial_shape must be an odd square kernel size, got {spatial_shape}")
        dim_out = dim_out or dim
        if dim_out != dim:
            raise ValueError(f"RepConditionalPosEnc needs dim_out == dim for its identity term, got {dim_out} != {dim}")
        self.dim = dim
        self.kernel_size = spatial_shape[0]
        self.inference_mode = inference_mode
        self.reparam_conv: nn.Conv2d | None = None
        self.pos_enc: nn.Conv2d | None = None
        conv = nn.Conv2d(dim, dim, self.kernel_size, padding=self.kernel_size // 2, groups=dim, bias=True)
        if inference_mode:
            self.reparam_conv = conv
        else:
            self.pos_enc = conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x ``(B, C, H, W)``. Returns ``(B, C, H, W)``."""
        if self.reparam_conv is not None:
            return self.reparam_conv(x)
        assert self.pos_enc is not None
        return x + self.pos_enc(x)

    def reparameterize(self) -> None:
        """Fold the identity into the centre tap (``reparam_conv``) and delete ``pos_enc``. Idempotent."""
        if self.reparam_conv is not None:
            return
        assert self.pos_enc is not None
        weight = self.pos_enc.weight.detach()
        kernel = as_float64(weight) + identity_kernel(self.dim, self.dim, self.kernel_size)
        self.reparam_conv = make_fused_conv(
            kernel, as_float64(self.pos_enc.bias), stride=1, groups=self.dim, like=weight
        )
        self.pos_enc = None
        self.inference_mode = True
