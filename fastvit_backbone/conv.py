"""Convolution construction shared by every FastViT block.

All FastViT convolutions use odd kernels with 'same' padding ``k // 2``. One shape deserves its own kernel: the
grouped convolutions with one input channel per group and several outputs per group (the stride-2 7x7 patch
embedding, ``C -> 2C`` with ``groups=C``, and the head's 3x3 ``C -> 2C``). oneDNN runs these 3-5x slower than a
depthwise convolution of the same output size, so :class:`ChannelMultiplierConv2d` repeats each input channel and
runs the depthwise form instead (on CPU only, where it was measured; other devices keep the grouped kernel). The
weights are the same tensor (output ``o`` reads input ``o // m`` in both), so
state dicts are interchangeable with a plain ``nn.Conv2d``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fastvit_backbone.fusion import fuse_conv_bn


def repeat_channels(x: torch.Tensor, multiplier: int) -> torch.Tensor:
    """Repeat every channel ``multiplier`` times in place order: channel ``c * m + j`` of the output is ``x[:, c]``.

    Keeps a channels_last input channels_last.

    Args:
        x: ``(B, C, H, W)``.
        multiplier: ``m >= 1``.

    Returns:
        ``(B, C * m, H, W)``.
    """
    if multiplier == 1:
        return x
    if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        nhwc = x.permute(0, 2, 3, 1)  # (B, H, W, C), a contiguous view
        return nhwc.unsqueeze(-1).expand(-1, -1, -1, -1, multiplier).flatten(3, 4).permute(0, 3, 1, 2)
    return x.unsqueeze(2).expand(-1, -1, multiplier, -1, -1).flatten(1, 2)


class ChannelMultiplierConv2d(nn.Conv2d):
    """A grouped convolution with one input channel per group (``groups == in_channels``) and ``m > 1`` outputs
    per group, computed as a depthwise convolution on the channel-repeated input (same result, faster on CPU).

    Constructed like ``nn.Conv2d``; only :meth:`forward` differs.
    """

    def __init__(self, *args, **kwargs) -> None:  # noqa: D107 - same signature as nn.Conv2d
        super().__init__(*args, **kwargs)
        if self.groups != self.in_channels or self.out_channels % self.in_channels:
            raise ValueError(
                f"ChannelMultiplierConv2d needs groups == in_channels dividing out_channels, got in={self.in_channels}"
                f" out={self.out_channels} groups={self.groups}"
            )
        self.multiplier = self.out_channels // self.in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x ``(B, C_in, H, W)``. Returns ``(B, C_out, H', W')``."""
        if x.device.type != "cpu":
            return super().forward(x)
        return F.conv2d(
            repeat_channels(x, self.multiplier),
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self.dilation,
            self.out_channels,
        )


def create_conv2d(
    in_chs: int,
    out_chs: int,
    kernel_size: int,
    *,
    stride: int = 1,
    groups: int = 1,
    bias: bool = False,
) -> nn.Conv2d:
    """A 2-D convolution with 'same' padding ``kernel_size // 2``.

    Args:
        in_chs: input channels.
        out_chs: output channels.
        kernel_size: odd kernel size.
        stride: Default: 1.
        groups: Default: 1.
        bias: Default: ``False`` (a BatchNorm follows in the train-time branches).

    Returns:
        an ``nn.Conv2d``, or a :class:`ChannelMultiplierConv2d` for the one-input-per-group, several-outputs shape.
    """
    if kernel_size % 2 != 1:
        raise ValueError(f"FastViT convolutions use odd kernels, got kernel_size={kernel_size}")
    cls = ChannelMultiplierConv2d if groups > 1 and groups == in_chs and out_chs > in_chs else nn.Conv2d
    return cls(in_chs, out_chs, kernel_size, stride=stride, padding=kernel_size // 2, groups=groups, bias=bias)


class ConvNorm(nn.Module):
    """Convolution without bias followed by BatchNorm: one train-time branch of a reparameterizable block.

    State-dict keys ``conv.weight`` and ``bn.*`` (as timm's ``ConvNormAct`` without activation).

    Args:
        in_chs: input channels.
        out_chs: output channels.
        kernel_size: odd kernel size.
        stride: Default: 1.
        groups: Default: 1.
    """

    def __init__(self, in_chs: int, out_chs: int, kernel_size: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__()
        self.conv = create_conv2d(in_chs, out_chs, kernel_size, stride=stride, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_chs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x ``(B, C_in, H, W)``. Returns ``(B, C_out, H / stride, W / stride)``."""
        return self.bn(self.conv(x))

    def fused_kernel_bias(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The single convolution equal to this branch in eval mode.

        Returns:
            ``(kernel (C_out, C_in / groups, k, k), bias (C_out,))`` float64 on the CPU.
        """
        return fuse_conv_bn(self.conv.weight, self.bn)


def make_fused_conv(
    kernel: torch.Tensor,
    bias: torch.Tensor,
    *,
    stride: int,
    groups: int,
    like: torch.Tensor,
) -> nn.Conv2d:
    """A biased convolution holding a fused kernel (what a block's ``reparam_conv`` becomes).

    Args:
        kernel: ``(C_out, C_in / groups, k, k)``, any float dtype.
        bias: ``(C_out,)``.
        stride: convolution stride.
        groups: convolution groups.
        like: a parameter of the module being fused; the new convolution takes its dtype and device.

    Returns:
        the convolution from :func:`create_conv2d` (state-dict keys ``weight``, ``bias``).
    """
    out_chs, in_per_group, k, _ = kernel.shape
    conv = create_conv2d(in_per_group * groups, out_chs, k, stride=stride, groups=groups, bias=True)
    conv.to(device=like.device, dtype=like.dtype)
    with torch.no_grad():
        conv.weight.copy_(kernel.to(like.dtype))
        conv.bias.copy_(bias.to(like.dtype))
    return conv
