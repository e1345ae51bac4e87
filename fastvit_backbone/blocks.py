"""FastViT's two MetaFormer blocks (Yu et al., "MetaFormer Is Actually What You Need for Vision", CVPR 2022):
RepMixer + ConvFFN for the convolutional stages, BatchNorm + self-attention + ConvFFN for the attention stage.

Beyond the token mixer's own fusion, :meth:`reparameterize` folds every remaining per-channel affine op into a
neighbouring linear layer, since at inference they are free to remove: the ConvFFN's BatchNorm into its depthwise
conv, each layer scale into the last linear layer of its branch, and the attention block's BatchNorm into the
query/key/value projection.
"""

from __future__ import annotations

import torch
from torch import nn

from fastvit_backbone.fusion import as_float64, bn_scale_shift
from fastvit_backbone.layers import DropPath, LayerScale2d
from fastvit_backbone.mixers import Attention, RepMixer
from fastvit_backbone.mlp import ConvMlp


def _layer_scale(dim: int, init_value: float | None, inference_mode: bool) -> nn.Module:
    if inference_mode or init_value is None:
        return nn.Identity()
    return LayerScale2d(dim, init_value)


@torch.no_grad()
def _fold_scale_into_conv(conv: nn.Conv2d, layer_scale: nn.Module) -> None:
    """``gamma * conv(x)`` as one conv: scale the output channels of the weight and bias in place."""
    if isinstance(layer_scale, LayerScale2d):
        gamma = layer_scale.gamma.detach().reshape(-1)
        conv.weight.mul_(gamma.reshape(-1, 1, 1, 1))
        conv.bias.mul_(gamma)


class RepMixerBlock(nn.Module):
    """``x = RepMixer(x); x = x + drop_path(gamma * ConvMlp(x))``.

    Args:
        dim: channels ``C``.
        kernel_size: RepMixer kernel size. Default: 3.
        mlp_ratio: ConvFFN expansion. Default: 4.0.
        act_layer: activation class. Default: ``nn.GELU``.
        proj_drop: dropout in the ConvFFN. Default: 0.
        drop_path: stochastic-depth probability. Default: 0.
        layer_scale_init_value: initial layer scale; ``None`` for none. Default: 1e-5.
        inference_mode: build the fused form directly. Default: ``False``.

    Input and output ``(B, C, H, W)``.
    """

    def __init__(
        self,
        dim: int,
        kernel_size: int = 3,
        mlp_ratio: float = 4.0,
        act_layer: type[nn.Module] = nn.GELU,
        proj_drop: float = 0.0,
        drop_path: float = 0.0,
        layer_scale_init_value: float | None = 1e-5,
        inference_mode: bool = False,
    ) -> None:
        super().__init__()
        self.inference_mode = inference_mode
        self.token_mixer = RepMixer(
            dim,
            kernel_size=kernel_size,
            layer_scale_init_value=layer_scale_init_value,
            inference_mode=inference_mode,
        )
        self.mlp = ConvMlp(
            dim,
            hidden_channels=int(dim * mlp_ratio),
            act_layer=act_layer,
            drop=proj_drop,
            inference_mode=inference_mode,
        )
        self.layer_scale = _layer_scale(dim, layer_scale_init_value, inference_mode)
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x ``(B, C, H, W)``. Returns ``(B, C, H, W)``."""
        x = self.token_mixer(x)
        return x + self.drop_path(self.layer_scale(self.mlp(x)))

    def reparameterize(self) -> None:
        """Fuse the token mixer, fold the ConvFFN's BatchNorm and the layer scale. Idempotent."""
        self.token_mixer.reparameterize()
        self.mlp.reparameterize()
        _fold_scale_into_conv(self.mlp.fc2, self.layer_scale)
        self.layer_scale = nn.Identity()
        self.inference_mode = True


class AttentionBlock(nn.Module):
    """``x = x + drop_path(gamma1 * Attention(BN(x))); x = x + drop_path(gamma2 * ConvMlp(x))``.

    Args:
        dim: channels ``C`` (a multiple of the 32-channel head size).
        mlp_ratio: ConvFFN expansion. Default: 4.0.
        act_layer: activation class. Default: ``nn.GELU``.
        proj_drop: dropout in the ConvFFN. Default: 0.
        drop_path: stochastic-depth probability. Default: 0.
        layer_scale_init_value: initial layer scales; ``None`` for none. Default: 1e-5.
        inference_mode: build the folded form directly (no BatchNorm or layer scales; ``qkv`` has a bias).
            Default: ``False``.

    Input and output ``(B, C, H, W)``.
    """

    def __init__(
        self,
        dim: int,
        mlp_ratio: float = 4.0,
        act_layer: type[nn.Module] = nn.GELU,
        proj_drop: float = 0.0,
        drop_path: float = 0.0,
        layer_scale_init_value: float | None = 1e-5,
        inference_mode: bool = False,
    ) -> None:
        super().__init__()
        self.inference_mode = inference_mode
        self.norm: nn.Module = nn.Identity() if inference_mode else nn.BatchNorm2d(dim)
        self.token_mixer = Attention(dim, qkv_bias=inference_mode)
        self.layer_scale_1 = _layer_scale(dim, layer_scale_init_value, inference_mode)
        self.drop_path1 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.mlp = ConvMlp(
            dim,
            hidden_channels=int(dim * mlp_ratio),
            act_layer=act_layer,
            drop=proj_drop,
            inference_mode=inference_mode,
        )
        self.layer_scale_2 = _layer_scale(dim, layer_scale_init_value, inference_mode)
        self.drop_path2 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x ``(B, C, H, W)``. Returns ``(B, C, H, W)``."""
        x = x + self.drop_path1(self.layer_scale_1(self.token_mixer(self.norm(x))))
        return x + self.drop_path2(self.layer_scale_2(self.mlp(x)))

    @torch.no_grad()
    def reparameterize(self) -> None:
        """Fold the BatchNorm into ``qkv``, the layer scales into ``proj`` and ``fc2``, and the ConvFFN's
        BatchNorm into its depthwise conv. Idempotent."""
        if isinstance(self.norm, nn.BatchNorm2d):
            # qkv(scale * x + shift) = (W * scale) x + (W shift + b): a per-input-channel affine map folds in.
            scale, shift = bn_scale_shift(self.norm)
            old = self.token_mixer.qkv
            weight = as_float64(old.weight)
            bias = weight @ shift
            if old.bias is not None:
                bias = bias + as_float64(old.bias)
            qkv = nn.Linear(old.in_features, old.out_features, bias=True).to(old.weight.device, old.weight.dtype)
            qkv.weight.copy_((weight * scale.reshape(1, -1)).to(qkv.weight))
            qkv.bias.copy_(bias.to(qkv.bias))
            self.token_mixer.qkv = qkv
            self.norm = nn.Identity()
        if isinstance(self.layer_scale_1, LayerScale2d):
            gamma = self.layer_scale_1.gamma.detach().reshape(-1)
            self.token_mixer.proj.weight.mul_(gamma.reshape(-1, 1))
            self.token_mixer.proj.bias.mul_(gamma)
        self.layer_scale_1 = nn.Identity()
        self.mlp.reparameterize()
        _fold_scale_into_conv(self.mlp.fc2, self.layer_scale_2)
        self.layer_scale_2 = nn.Identity()
        self.inference_mode = True
