"""One FastViT stage: optional patch embedding (downsampling), optional RepCPE, then a stack of blocks."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from fastvit_backbone.blocks import AttentionBlock, RepMixerBlock
from fastvit_backbone.embed import PatchEmbed
from fastvit_backbone.pos_enc import RepConditionalPosEnc

TOKEN_MIXERS = ("repmixer", "attention")


class FastVitStage(nn.Module):
    """``blocks(pos_emb(downsample(x)))``.

    Args:
        dim: input channels.
        dim_out: channels of the blocks (must equal ``dim`` without downsampling).
        depth: number of blocks.
        token_mixer_type: ``"repmixer"`` or ``"attention"``.
        downsample: start with a stride-``down_stride`` :class:`PatchEmbed`. Default: ``True``.
        down_patch_size: patch-embedding kernel size. Default: 7.
        down_stride: patch-embedding stride. Default: 2.
        pos_emb_kernel: kernel size of a RepCPE before the blocks, or ``None`` for none. Default: ``None``.
        kernel_size: RepMixer kernel size. Default: 3.
        mlp_ratio: ConvFFN expansion. Default: 4.0.
        act_layer: activation class. Default: ``nn.GELU``.
        proj_drop_rate: ConvFFN dropout. Default: 0.
        drop_path_rate: stochastic depth, one value for all blocks or one per block. Default: 0.
        layer_scale_init_value: initial layer scales; ``None`` for none. Default: 1e-5.
        inference_mode: build the fused form directly. Default: ``False``.

    State-dict keys ``downsample.*``, ``pos_emb.*``, ``blocks.N.*`` as in timm's ``FastVitStage``.
    """

    def __init__(
        self,
        dim: int,
        dim_out: int,
        depth: int,
        token_mixer_type: str,
        downsample: bool = True,
        down_patch_size: int = 7,
        down_stride: int = 2,
        pos_emb_kernel: int | None = None,
        kernel_size: int = 3,
        mlp_ratio: float = 4.0,
        act_layer: type[nn.Module] = nn.GELU,
        proj_drop_rate: float = 0.0,
        drop_path_rate: float | Sequence[float] = 0.0,
        layer_scale_init_value: float | None = 1e-5,
        inference_mode: bool = False,
    ) -> None:
        super().__init__()
        if token_mixer_type not in TOKEN_MIXERS:
            raise ValueError(f"token_mixer_type must be one of {TOKEN_MIXERS}, got {token_mixer_type!r}")
        if not downsample and dim != dim_out:
            raise ValueError(f"a stage without downsampling keeps its width, got dim={dim} dim_out={dim_out}")
        rates = [float(drop_path_rate)] * depth if isinstance(drop_path_rate, (int, float)) else list(drop_path_rate)
        if len(rates) != depth:
            raise ValueError(f"drop_path_rate has {len(rates)} values for {depth} blocks")

        self.downsample: nn.Module = (
            PatchEmbed(down_patch_size, down_stride, dim, dim_out, act_layer=act_layer, inference_mode=inference_mode)
            if downsample
            else nn.Identity()
        )
        self.pos_emb: nn.Module = (
            RepConditionalPosEnc(dim_out, spatial_shape=pos_emb_kernel, inference_mode=inference_mode)
            if pos_emb_kernel is not None
            else nn.Identity()
        )
        blocks: list[nn.Module] = []
        for rate in rates:
            if token_mixer_type == "repmixer":
                blocks.append(
                    RepMixerBlock(
                        dim_out,
                        kernel_size=kernel_size,
                        mlp_ratio=mlp_ratio,
                        act_layer=act_layer,
                        proj_drop=proj_drop_rate,
                        drop_path=rate,
                        layer_scale_init_value=layer_scale_init_value,
                        inference_mode=inference_mode,
                    )
                )
            else:
                blocks.append(
                    AttentionBlock(
                        dim_out,
                        mlp_ratio=mlp_ratio,
                        act_layer=act_layer,
                        proj_drop=proj_drop_rate,
                        drop_path=rate,
                        layer_scale_init_value=layer_scale_init_value,
                        inference_mode=inference_mode,
                    )
                )
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x ``(B, dim, H, W)``. Returns ``(B, dim_out, H / s, W / s)`` with ``s`` the downsampling stride."""
        return self.blocks(self.pos_emb(self.downsample(x)))
