"""Structural reparameterization maths: turning parallel linear branches into one convolution.

A branch ``BN(conv(x))`` in eval mode is an affine map per output channel, so it equals a single convolution with a
rescaled kernel and a bias (RepVGG, Ding et al. 2021, Sec. 3.3). Parallel branches that share stride, padding and
groups add up kernel-wise once the smaller kernels are zero-padded to the largest size, and an identity connection is
a convolution whose kernel is 1 at the centre tap of each channel. Everything here is pure tensor maths; the blocks
call it from their ``reparameterize()``.

The sums are formed in float64 on the CPU and cast back by the caller, so that fusing a deep model adds no rounding
error on top of the float32 forward pass it replaces (and works for models on devices without float64, like MPS).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def as_float64(t: torch.Tensor) -> torch.Tensor:
    """A detached float64 CPU copy of ``t``: where all fusion maths happens."""
    return t.detach().to(device="cpu", dtype=torch.float64)


def bn_scale_shift(bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """The per-channel affine map of an eval-mode BatchNorm, ``bn(x) = scale * x + shift``.

    Args:
        bn: a BatchNorm with running statistics.

    Returns:
        ``(scale (C,), shift (C,))``, float64 on the CPU.
    """
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("cannot fuse a BatchNorm without running statistics (track_running_stats=False)")
    mean = as_float64(bn.running_mean)
    var = as_float64(bn.running_var)
    gamma = as_float64(bn.weight) if bn.weight is not None else torch.ones_like(mean)
    beta = as_float64(bn.bias) if bn.bias is not None else torch.zeros_like(mean)
    scale = gamma / torch.sqrt(var + bn.eps)
    return scale, beta - mean * scale


def fuse_conv_bn(weight: torch.Tensor, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Fold an eval-mode BatchNorm into the bias-free convolution before it.

    Args:
        weight: convolution kernel ``(C_out, C_in / groups, k, k)``.
        bn: the BatchNorm over the ``C_out`` outputs.

    Returns:
        ``(kernel (C_out, C_in / groups, k, k), bias (C_out,))`` float64 on the CPU.
    """
    scale, shift = bn_scale_shift(bn)
    return as_float64(weight) * scale.reshape(-1, 1, 1, 1), shift


def identity_kernel(channels: int, groups: int, kernel_size: int) -> torch.Tensor:
    """The kernel of a grouped convolution that returns its input unchanged.

    Channel ``c`` sits at position ``c % (channels // groups)`` inside its group; its centre tap is 1.

    Args:
        channels: input = output channels.
        groups: convolution groups (``channels`` for depthwise).
        kernel_size: odd spatial size ``k``.

    Returns:
        ``(channels, channels // groups, k, k)``, float64 on the CPU.
    """
    in_per_group = channels // groups
    kernel = torch.zeros(channels, in_per_group, kernel_size, kernel_size, dtype=torch.float64)
    idx = torch.arange(channels)
    kernel[idx, idx % in_per_group, kernel_size // 2, kernel_size // 2] = 1.0
    return kernel


def fuse_bn_identity(bn: nn.BatchNorm2d, groups: int, kernel_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """An identity connection followed by BatchNorm (MobileOne's skip branch) as a convolution.

    Args:
        bn: the BatchNorm on the skip branch, over ``C`` channels.
        groups: groups of the convolution it will be merged into.
        kernel_size: kernel size of that convolution.

    Returns:
        ``(kernel (C, C / groups, k, k), bias (C,))`` float64 on the CPU.
    """
    kernel = identity_kernel(bn.num_features, groups, kernel_size)
    scale, shift = bn_scale_shift(bn)
    return kernel * scale.reshape(-1, 1, 1, 1), shift


def pad_kernel(kernel: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """Zero-pad a ``(O, I, k, k)`` kernel symmetrically to ``(O, I, K, K)``; same output for 'same' padding.

    Args:
        kernel: the small kernel, odd ``k``.
        kernel_size: the target odd size ``K >= k``.

    Returns:
        ``(O, I, K, K)``.
    """
    pad = (kernel_size - kernel.shape[-1]) // 2
    if pad < 0:
        raise ValueError(f"cannot pad a {kernel.shape[-1]}x{kernel.shape[-1]} kernel down to {kernel_size}")
    return F.pad(kernel, [pad, pad, pad, pad]) if pad else kernel
