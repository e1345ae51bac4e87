"""Large-kernel convolution with a parallel small kernel (RepLKNet, Ding et al., CVPR 2022), FastViT's
patch-embedding convolution (paper Sec. 3.2.3: a 7x7 depthwise-style stride-2 conv with a 3x3 branch at train time).
"""

from __future__ import annotations

import torch
from torch import nn

from fastvit_backbone.conv import ConvNorm, create_conv2d, make_fused_conv
from fastvit_backbone.fusion import as_float64, pad_kernel
from fastvit_backbone.mobileone import num_groups


class ReparamLargeKernelConv(nn.Module):
    """``BN(conv_kxk(x)) + BN(conv_sxs(x))`` at train time, one kxk convolution after :meth:`reparameterize`.

    Args:
        in_chs: input channels.
        out_chs: output channels.
        kernel_size: odd large kernel size ``k``.
        stride: Default: 1.
        group_size: channels per group; 1 gives one input channel per group. Default: 1.
        small_kernel: odd size of the parallel small kernel, or ``None`` for none. Default: 3.
        inference_mode: build the fused form directly. Default: ``False``.

    Input ``(B, in_chs, H, W)``, output ``(B, out_chs, H / stride, W / stride)``. No activation: the paper's code
    computes one here but discards it, and the pretrained weights were trained that way.
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int,
        stride: int = 1,
        group_size: int = 1,
        small_kernel: int | None = 3,
        inference_mode: bool = False,
    ) -> None:
        super().__init__()
        self.in_chs = in_chs
        self.out_chs = out_chs
        self.kernel_size = kernel_size
        self.small_kernel = small_kernel
        self.stride = stride
        self.groups = num_groups(group_size, in_chs)
        self.inference_mode = inference_mode
        if small_kernel is not None and small_kernel > kernel_size:
            raise ValueError(f"small_kernel={small_kernel} is larger than kernel_size={kernel_size}")

        self.reparam_conv: nn.Conv2d | None = None
        self.large_conv: ConvNorm | None = None
        self.small_conv: ConvNorm | None = None
        if inference_mode:
            self.reparam_conv = create_conv2d(
                in_chs, out_chs, kernel_size, stride=stride, groups=self.groups, bias=True
            )
        else:
            self.large_conv = ConvNorm(in_chs, out_chs, kernel_size, stride=stride, groups=self.groups)
            if small_kernel is not None:
                self.small_conv = ConvNorm(in_chs, out_chs, small_kernel, stride=stride, groups=self.groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x ``(B, in_chs, H, W)``. Returns ``(B, out_chs, H / stride, W / stride)``."""
        if self.reparam_conv is not None:
            return self.reparam_conv(x)
        assert self.large_conv is not None
        out = self.large_conv(x)
        if self.small_conv is not None:
            out = out + self.small_conv(x)
        return out

    def fused_kernel_bias(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The one kxk convolution equal to both branches in eval mode.

        Returns:
            ``(kernel (out_chs, in_chs / groups, k, k), bias (out_chs,))`` float64 on the CPU.
        """
        if self.reparam_conv is not None:
            return as_float64(self.reparam_conv.weight), as_float64(self.reparam_conv.bias)
        assert self.large_conv is not None
        kernel, bias = self.large_conv.fused_kernel_bias()
        if self.small_conv is not None:
            ks, bs = self.small_conv.fused_kernel_bias()
            kernel = kernel + pad_kernel(ks, self.kernel_size)
            bias = bias + bs
        return kernel, bias

    def reparameterize(self) -> None:
        """Replace both branches by ``reparam_conv`` and delete them. Idempotent."""
        if self.reparam_conv is not None:
            return
        kernel, bias = self.fused_kernel_bias()
        self.reparam_conv = make_fused_conv(
            kernel, bias, stride=self.stride, groups=self.groups, like=self.large_conv.conv.weight
        )
        self.large_conv = None
        self.small_conv = None
        self.inference_mode = True

    def extra_repr(self) -> str:
        return (
            f"in_chs={self.in_chs}, out_chs={self.out_chs}, kernel_size={self.kernel_size}, "
            f"small_kernel={self.small_kernel}, stride={self.stride}, groups={self.groups}, "
            f"inference_mode={self.inference_mode}"
        )
