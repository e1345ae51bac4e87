"""Token mixers: RepMixer (FastViT paper, Sec. 3.2.1, Eq. 2-3) and multi-head self-attention."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fastvit_backbone.conv import make_fused_conv
from fastvit_backbone.fusion import as_float64, identity_kernel
from fastvit_backbone.layers import LayerScale2d
from fastvit_backbone.mobileone import MobileOneBlock


class RepMixer(nn.Module):
    """Reparameterizable depthwise token mixer.

    Train time (paper Eq. 2): ``Y = X + gamma * (DWConv_BN(X) - BN(X))``, where ``DWConv_BN`` is a depthwise
    MobileOne block (kxk and 1x1 conv+BN branches plus a BN skip) and ``BN(X)`` the "norm" block. Every term is a
    per-channel linear map, so inference (Eq. 3) is one depthwise kxk convolution ``Y = DWConv(X)``, which removes
    the skip connection and its memory traffic.

    Args:
        dim: channels ``C``.
        kernel_size: odd depthwise kernel size. Default: 3.
        layer_scale_init_value: initial ``gamma``; ``None`` for no layer scale. Default: 1e-5.
        inference_mode: build the fused form directly. Default: ``False``.

    Input and output ``(B, C, H, W)``.
    """

    def __init__(
        self,
        dim: int,
        kernel_size: int = 3,
        layer_scale_init_value: float | None = 1e-5,
        inference_mode: bool = False,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.kernel_size = kernel_size
        self.inference_mode = inference_mode
        self.reparam_conv: nn.Conv2d | None = None
        self.norm: MobileOneBlock | None = None
        self.mixer: MobileOneBlock | None = None
        self.layer_scale: nn.Module | None = None
        if inference_mode:
            self.reparam_conv = nn.Conv2d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim, bias=True)
        else:
            self.norm = MobileOneBlock(
                dim, dim, kernel_size, group_size=1, use_act=False, use_scale_branch=False, num_conv_branches=0
            )
            self.mixer = MobileOneBlock(dim, dim, kernel_size, group_size=1, use_act=False)
            self.layer_scale = (
                LayerScale2d(dim, layer_scale_init_value) if layer_scale_init_value is not None else nn.Identity()
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x ``(B, C, H, W)``. Returns ``(B, C, H, W)``."""
        if self.reparam_conv is not None:
            return self.reparam_conv(x)
        assert self.mixer is not None and self.norm is not None and self.layer_scale is not None
        return x + self.layer_scale(self.mixer(x) - self.norm(x))

    def fused_kernel_bias(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The depthwise convolution equal to the train-time mixer in eval mode (paper Eq. 3).

        Returns:
            ``(kernel (C, 1, k, k), bias (C,))`` float64 on the CPU.
        """
        if self.reparam_conv is not None:
            return as_float64(self.reparam_conv.weight), as_float64(self.reparam_conv.bias)
        assert self.mixer is not None and self.norm is not None
        k_mix, b_mix = self.mixer.fused_kernel_bias()
        k_norm, b_norm = self.norm.fused_kernel_bias()
        if isinstance(self.layer_scale, LayerScale2d):
            gamma = as_float64(self.layer_scale.gamma).reshape(-1)
        else:
            gamma = torch.ones_like(b_mix)
        kernel = identity_kernel(self.dim, self.dim, self.kernel_size)
        kernel = kernel + gamma.reshape(-1, 1, 1, 1) * (k_mix - k_norm)
        return kernel, gamma * (b_mix - b_norm)

    def reparameterize(self) -> None:
        """Replace mixer, norm and layer scale by one depthwise ``reparam_conv`` and delete them. Idempotent."""
        if self.reparam_conv is not None:
            return
        kernel, bias = self.fused_kernel_bias()
        like = next(self.parameters())
        self.reparam_conv = make_fused_conv(kernel, bias, stride=1, groups=self.dim, like=like)
        self.mixer = None
        self.norm = None
        self.layer_scale = None
        self.inference_mode = True

    def extra_repr(self) -> str:
        return f"dim={self.dim}, kernel_size={self.kernel_size}, inference_mode={self.inference_mode}"


class Attention(nn.Module):
    """Multi-head self-attention over the pixels of a ``(B, C, H, W)`` map (Vaswani et al. 2017), with
    ``C / head_dim`` heads. Uses PyTorch's fused ``scaled_dot_product_attention``.

    Args:
        dim: channels ``C``.
        head_dim: channels per head. Default: 32.
        qkv_bias: bias on the query/key/value projection. Default: ``False`` (``True`` once a BatchNorm in front
            has been folded into it).
        attn_drop: dropout on the attention weights (training only). Default: 0.
        proj_drop: dropout after the output projection. Default: 0.

    State-dict keys ``qkv.weight (3C, C)``, ``proj.weight (C, C)``, ``proj.bias (C,)``.
    """

    def __init__(
        self,
        dim: int,
        head_dim: int = 32,
        qkv_bias: bool = False,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        if dim % head_dim:
            raise ValueError(f"attention dim {dim} is not divisible by head_dim {head_dim}")
        self.head_dim = head_dim
        self.num_heads = dim // head_dim
        self.attn_drop = attn_drop
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop) if proj_drop > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x ``(B, C, H, W)``. Returns ``(B, C, H, W)``."""
        b, c, h, w = x.shape
        n = h * w
        tokens = x.flatten(2).transpose(1, 2)  # (B, N, C)
        qkv = self.qkv(tokens).reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # each (B, heads, N, head_dim)
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=self.attn_drop if self.training else 0.0)
        out = out.transpose(1, 2).reshape(b, n, c)  # (B, N, C)
        out = self.proj_drop(self.proj(out))
        return out.transpose(1, 2).reshape(b, c, h, w)
