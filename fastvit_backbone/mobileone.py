"""MobileOne block (Vasu et al., "MobileOne: An Improved One millisecond Mobile Backbone", CVPR 2023).

At train time the block sums parallel linear branches: ``num_conv_branches`` kxk conv+BN branches, a 1x1 conv+BN
"scale" branch and, when the shapes allow it, a BatchNorm-only skip branch; an optional squeeze-excite and the
activation follow the sum. Every branch is linear in eval mode, so :meth:`MobileOneBlock.reparameterize` replaces
them with one kxk convolution (``reparam_conv``) that gives the same output.
"""

from __future__ import annotations

import torch
from torch import nn

from fastvit_backbone.conv import ConvNorm, create_conv2d, make_fused_conv
from fastvit_backbone.fusion import as_float64, fuse_bn_identity, pad_kernel
from fastvit_backbone.layers import SqueezeExcite


def num_groups(group_size: int, channels: int) -> int:
    """Convolution groups from a group size: 0 means one group (dense), 1 means depthwise.

    Args:
        group_size: channels per group, or 0.
        channels: input channels; must be divisible by ``group_size``.

    Returns:
        the number of groups.
    """
    if not group_size:
        return 1
    if channels % group_size:
        raise ValueError(f"{channels} channels are not divisible by group_size={group_size}")
    return channels // group_size


class MobileOneBlock(nn.Module):
    """Multi-branch conv block that reparameterizes into one convolution.

    Args:
        in_chs: input channels.
        out_chs: output channels.
        kernel_size: odd kernel size ``k`` of the main branches.
        stride: Default: 1.
        group_size: channels per group; 0 for a dense conv, 1 for depthwise. Default: 0.
        inference_mode: build the fused single-conv form directly (to load a fused state dict). Default: ``False``.
        use_se: squeeze-excite after the branch sum. Default: ``False``.
        use_act: apply ``act_layer`` at the end. Default: ``True``.
        use_scale_branch: add the 1x1 conv+BN branch (only when ``k > 1``). Default: ``True``.
        num_conv_branches: number of kxk conv+BN branches (over-parameterization factor). Default: 1.
        act_layer: activation class. Default: ``nn.GELU``.

    Input ``(B, in_chs, H, W)``, output ``(B, out_chs, H / stride, W / stride)``.
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int,
        stride: int = 1,
        group_size: int = 0,
        inference_mode: bool = False,
        use_se: bool = False,
        use_act: bool = True,
        use_scale_branch: bool = True,
        num_conv_branches: int = 1,
        act_layer: type[nn.Module] = nn.GELU,
    ) -> None:
        super().__init__()
        self.in_chs = in_chs
        self.out_chs = out_chs
        self.kernel_size = kernel_size
        self.stride = stride
        self.groups = num_groups(group_size, in_chs)
        self.num_conv_branches = num_conv_branches
        self.inference_mode = inference_mode

        self.se = SqueezeExcite(out_chs) if use_se else nn.Identity()
        self.reparam_conv: nn.Conv2d | None = None
        self.identity: nn.BatchNorm2d | None = None
        self.conv_kxk: nn.ModuleList | None = None
        self.conv_scale: ConvNorm | None = None
        if inference_mode:
            self.reparam_conv = create_conv2d(
                in_chs, out_chs, kernel_size, stride=stride, groups=self.groups, bias=True
            )
        else:
            # The skip branch exists only where the identity is shape-preserving.
            if in_chs == out_chs and stride == 1:
                self.identity = nn.BatchNorm2d(in_chs)
            if num_conv_branches > 0:
                self.conv_kxk = nn.ModuleList(
                    ConvNorm(in_chs, out_chs, kernel_size, stride=stride, groups=self.groups)
                    for _ in range(num_conv_branches)
                )
            if kernel_size > 1 and use_scale_branch:
                self.conv_scale = ConvNorm(in_chs, out_chs, 1, stride=stride, groups=self.groups)
        self.act = act_layer() if use_act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x ``(B, in_chs, H, W)``. Returns ``(B, out_chs, H / stride, W / stride)``."""
        if self.reparam_conv is not None:
            return self.act(self.se(self.reparam_conv(x)))
        out = self._branch_sum(x)
        return self.act(self.se(out))

    def _branch_sum(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor | None = None
        branches: list[nn.Module] = []
        if self.conv_kxk is not None:
            branches.extend(self.conv_kxk)
        if self.conv_scale is not None:
            branches.append(self.conv_scale)
        if self.identity is not None:
            branches.append(self.identity)
        for branch in branches:
            y = branch(x)
            out = y if out is None else out + y
        if out is None:
            raise RuntimeError("MobileOneBlock has no branches (num_conv_branches=0 and no skip or scale branch)")
        return out

    def fused_kernel_bias(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The one convolution equal to the sum of the train-time branches in eval mode (before SE and act).

        Returns:
            ``(kernel (out_chs, in_chs / groups, k, k), bias (out_chs,))`` float64 on the CPU; the fused kernel and bias
            themselves once the block is reparameterized.
        """
        if self.reparam_conv is not None:
            return as_float64(self.reparam_conv.weight), as_float64(self.reparam_conv.bias)
        k = self.kernel_size
        kernel = torch.zeros(self.out_chs, self.in_chs // self.groups, k, k, dtype=torch.float64)
        bias = torch.zeros(self.out_chs, dtype=torch.float64)
        if self.conv_kxk is not None:
            for branch in self.conv_kxk:
                kb, bb = branch.fused_kernel_bias()
                kernel = kernel + kb
                bias = bias + bb
        if self.conv_scale is not None:
            kb, bb = self.conv_scale.fused_kernel_bias()
            kernel = kernel + pad_kernel(kb, k)
            bias = bias + bb
        if self.identity is not None:
            kb, bb = fuse_bn_identity(self.identity, self.groups, k)
            kernel = kernel + kb
            bias = bias + bb
        return kernel, bias

    def reparameterize(self) -> None:
        """Replace the branches by ``reparam_conv`` (same eval-mode output) and delete them. Idempotent."""
        if self.reparam_conv is not None:
            return
        kernel, bias = self.fused_kernel_bias()
        self.reparam_conv = make_fused_conv(
            kernel, bias, stride=self.stride, groups=self.groups, like=next(self.parameters())
        )
        self.conv_kxk = None
        self.conv_scale = None
        self.identity = None
        self.inference_mode = True

    def extra_repr(self) -> str:
        return (
            f"in_chs={self.in_chs}, out_chs={self.out_chs}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"groups={self.groups}, inference_mode={self.inference_mode}"
        )
