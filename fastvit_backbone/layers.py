"""Small generic layers: per-channel layer scale, stochastic depth, squeeze-and-excitation."""

from __future__ import annotations

import torch
from torch import nn


class LayerScale2d(nn.Module):
    """Learnable per-channel scale on a residual branch (CaiT, Touvron et al. 2021), for ``(B, C, H, W)`` maps.

    Args:
        dim: channels ``C``.
        init_values: initial value of every scale. Default: 1e-5.

    State-dict key ``gamma (C, 1, 1)``.
    """

    def __init__(self, dim: int, init_values: float = 1e-5) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim, 1, 1), float(init_values)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x ``(B, C, H, W)``. Returns ``x * gamma``, same shape."""
        return x * self.gamma


class DropPath(nn.Module):
    """Stochastic depth (Huang et al. 2016): in training, zero a residual branch for a random subset of the batch
    and rescale the rest by ``1 / (1 - p)``; identity in eval mode.

    Args:
        drop_prob: probability ``p`` of dropping the branch for one sample. Default: 0.
    """

    def __init__(self, drop_prob: float = 0.0) -> None:
        super().__init__()
        self.drop_prob = float(drop_prob)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x ``(B, ...)``. Returns the same shape."""
        if not self.training or self.drop_prob == 0.0:
            return x
        keep = 1.0 - self.drop_prob
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob}"


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation (Hu et al., CVPR 2018) as FastViT's head uses it: global mean, 1x1 conv to
    ``round(C * rd_ratio)`` channels, ReLU, 1x1 conv back to ``C``, sigmoid gate on the input.

    Args:
        channels: ``C``.
        rd_ratio: reduction ratio. Default: 1/16 (FastViT's value).

    State-dict keys ``fc1.*``, ``fc2.*`` (timm's names; apple's code calls them ``reduce``/``expand``).
    """

    def __init__(self, channels: int, rd_ratio: float = 1.0 / 16) -> None:
        super().__init__()
        rd_channels = max(1, int(round(channels * rd_ratio)))
        self.fc1 = nn.Conv2d(channels, rd_channels, kernel_size=1, bias=True)
        self.act = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(rd_channels, channels, kernel_size=1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x ``(B, C, H, W)``. Returns the gated ``(B, C, H, W)``."""
        s = x.mean((2, 3), keepdim=True)  # (B, C, 1, 1)
        s = self.fc2(self.act(self.fc1(s)))
        return x * torch.sigmoid(s)
