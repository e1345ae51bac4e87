"""The FastViT network (Vasu et al., "FastViT: A Fast Hybrid Vision Transformer using Structural
Reparameterization", ICCV 2023): MobileOne stem, four stages at strides 4/8/16/32, a MobileOne head conv with
squeeze-excite, global average pooling and an optional linear classifier.

State-dict keys equal timm's ``fastvit_*`` models, so timm checkpoints load without remapping.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from fastvit_backbone.embed import convolutional_stem
from fastvit_backbone.errors import InputShapeError
from fastvit_backbone.mobileone import MobileOneBlock
from fastvit_backbone.stage import FastVitStage


@dataclass
class FastVitFeatures:
    """What the encoder computes for a batch of ``B`` images of size ``H x W``.

    Attributes:
        stages: the four stage outputs, ``(B, stage_channels[i], H / s_i, W / s_i)`` with ``s = (4, 8, 16, 32)``.
        final: the head conv's output ``(B, num_features, H / 32, W / 32)``.
        pooled: its global average ``(B, num_features)``, the input of the classifier.
    """

    stages: tuple[torch.Tensor, ...]
    final: torch.Tensor
    pooled: torch.Tensor


class ClassifierHead(nn.Module):
    """Dropout then a linear layer on the pooled features; ``num_classes=0`` leaves the features as they are.

    Args:
        in_features: pooled feature width.
        num_classes: number of classes; 0 for none.
        drop_rate: dropout before the linear layer. Default: 0.

    State-dict keys ``fc.weight``, ``fc.bias`` (absent with ``num_classes=0``).
    """

    def __init__(self, in_features: int, num_classes: int, drop_rate: float = 0.0) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.drop_rate = drop_rate
        self.drop = nn.Dropout(drop_rate) if drop_rate > 0 else nn.Identity()
        self.fc: nn.Module = nn.Linear(in_features, num_classes) if num_classes > 0 else nn.Identity()

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        """Args: pooled ``(B, in_features)``. Returns logits ``(B, num_classes)``, or ``pooled`` if there is no fc."""
        return self.fc(self.drop(pooled))


class FastVit(nn.Module):
    """FastViT encoder with an optional classifier.

    Args:
        in_chans: image channels. Default: 3.
        layers: blocks per stage. Default: ``(2, 2, 6, 2)``.
        token_mixers: ``"repmixer"`` or ``"attention"`` per stage. Default: all RepMixer.
        embed_dims: channels per stage. Default: ``(64, 128, 256, 512)``.
        mlp_ratios: ConvFFN expansion per stage. Default: 4 for every stage.
        downsamples: whether a stage starts with a stride-2 patch embedding (also forced when the width changes).
            Default: ``(False, True, True, True)``.
        pos_embs: RepCPE kernel size per stage, or ``None`` for none. Default: none.
        repmixer_kernel_size: RepMixer kernel size. Default: 3.
        num_classes: classifier outputs; 0 for no classifier (``forward`` returns the pooled features).
            Default: 1000.
        down_patch_size: patch-embedding kernel size. Default: 7.
        down_stride: patch-embedding stride. Default: 2.
        drop_rate: dropout before the classifier. Default: 0.
        proj_drop_rate: ConvFFN dropout. Default: 0.
        drop_path_rate: largest stochastic-depth rate, reached linearly at the last block. Default: 0.
        layer_scale_init_value: initial layer scales (the paper's code uses 1e-6 for SA36/MA36); ``None`` for
            none. Default: 1e-5.
        cls_ratio: head conv width relative to the last stage. Default: 2.0.
        act_layer: activation class. Default: ``nn.GELU``.
        inference_mode: build the reparameterized form directly, to load a fused state dict. Default: ``False``.

    Attributes:
        stage_channels: channels of the four stage outputs.
        stage_strides: their strides ``(4, 8, 16, 32)``.
        num_features: width of the pooled vector.
        feature_info: timm-style ``[{"num_chs", "reduction", "module"}]`` per stage.
        stride: total stride; inputs must be multiples of it.
        variant: canonical variant name when built by :func:`~fastvit_backbone.create_model`, else ``None``.
    """

    def __init__(
        self,
        in_chans: int = 3,
        layers: Sequence[int] = (2, 2, 6, 2),
        token_mixers: Sequence[str] = ("repmixer",) * 4,
        embed_dims: Sequence[int] = (64, 128, 256, 512),
        mlp_ratios: Sequence[float] = (4.0,) * 4,
        downsamples: Sequence[bool] = (False, True, True, True),
        pos_embs: Sequence[int | None] = (None,) * 4,
        repmixer_kernel_size: int = 3,
        num_classes: int = 1000,
        down_patch_size: int = 7,
        down_stride: int = 2,
        drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        layer_scale_init_value: float | None = 1e-5,
        cls_ratio: float = 2.0,
        act_layer: type[nn.Module] = nn.GELU,
        inference_mode: bool = False,
    ) -> None:
        super().__init__()
        num_stages = len(layers)
        for name, seq in (
            ("token_mixers", token_mixers),
            ("embed_dims", embed_dims),
            ("mlp_ratios", mlp_ratios),
            ("downsamples", downsamples),
            ("pos_embs", pos_embs),
        ):
            if len(seq) != num_stages:
                raise ValueError(f"{name} has {len(seq)} entries for {num_stages} stages")
        # Everything needed to rebuild this model in the other form (train-time <-> fused).
        self.init_kwargs: dict[str, Any] = dict(
            in_chans=in_chans,
            layers=tuple(layers),
            token_mixers=tuple(token_mixers),
            embed_dims=tuple(embed_dims),
            mlp_ratios=tuple(mlp_ratios),
            downsamples=tuple(downsamples),
            pos_embs=tuple(pos_embs),
            repmixer_kernel_size=repmixer_kernel_size,
            num_classes=num_classes,
            down_patch_size=down_patch_size,
            down_stride=down_stride,
            drop_rate=drop_rate,
            proj_drop_rate=proj_drop_rate,
            drop_path_rate=drop_path_rate,
            layer_scale_init_value=layer_scale_init_value,
            cls_ratio=cls_ratio,
            act_layer=act_layer,
            inference_mode=inference_mode,
        )
        self.variant: str | None = None
        self.in_chans = in_chans
        self.num_classes = num_classes

        self.stem = convolutional_stem(in_chans, embed_dims[0], act_layer, inference_mode)

        # Stochastic depth grows linearly over all blocks of the network (as in the paper's code).
        total = sum(layers)
        rates = [drop_path_rate * i / max(total - 1, 1) for i in range(total)]
        stages: list[nn.Module] = []
        feature_info: list[dict[str, Any]] = []
        prev_dim, stride = embed_dims[0], 4
        for i, depth in enumerate(layers):
            downsample = bool(downsamples[i]) or prev_dim != embed_dims[i]
            stride *= down_stride if downsample else 1
            start = sum(layers[:i])
            stages.append(
                FastVitStage(
                    prev_dim,
                    embed_dims[i],
                    depth,
                    token_mixers[i],
                    downsample=downsample,
                    down_patch_size=down_patch_size,
                    down_stride=down_stride,
                    pos_emb_kernel=pos_embs[i],
                    kernel_size=repmixer_kernel_size,
                    mlp_ratio=mlp_ratios[i],
                    act_layer=act_layer,
                    proj_drop_rate=proj_drop_rate,
                    drop_path_rate=rates[start : start + depth],
                    layer_scale_init_value=layer_scale_init_value,
                    inference_mode=inference_mode,
                )
            )
            feature_info.append(dict(num_chs=embed_dims[i], reduction=stride, module=f"stages.{i}"))
            prev_dim = embed_dims[i]
        self.stages = nn.Sequential(*stages)
        self.feature_info = feature_info
        self.stage_channels: tuple[int, ...] = tuple(embed_dims)
        self.stage_strides: tuple[int, ...] = tuple(f["reduction"] for f in feature_info)
        self.stride = self.stage_strides[-1]

        self.num_features = int(embed_dims[-1] * cls_ratio)
        self.final_conv = MobileOneBlock(
            embed_dims[-1],
            self.num_features,
            3,
            group_size=1,
            use_se=True,
            act_layer=act_layer,
            inference_mode=inference_mode,
        )
        self.head = ClassifierHead(self.num_features, num_classes, drop_rate)
        self._init_linear_weights()

    def _init_linear_weights(self) -> None:
        # The paper's code: truncated normal (std 0.02) linear layers with zero bias; convs keep PyTorch's init.
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def check_input(self, x: torch.Tensor) -> None:
        """Raise :class:`InputShapeError` unless ``x`` is ``(B, in_chans, H, W)`` with ``H, W`` multiples of 32.

        Args:
            x: the input batch.
        """
        shape = tuple(x.shape)
        expected = f"a (B, {self.in_chans}, H, W) float tensor with H and W positive multiples of {self.stride}"
        if x.ndim != 4:
            raise InputShapeError(f"FastViT input: expected {expected}, got shape {shape}")
        if shape[1] != self.in_chans:
            raise InputShapeError(
                f"FastViT input: expected {self.in_chans} channels in dim 1 of {expected}, got shape {shape}"
            )
        h, w = shape[2], shape[3]
        if h <= 0 or w <= 0 or h % self.stride or w % self.stride:
            raise InputShapeError(
                f"FastViT input: expected {expected}, got H={h}, W={w} (e.g. resize or pad to "
                f"{max(self.stride, round(h / self.stride) * self.stride)}x"
                f"{max(self.stride, round(w / self.stride) * self.stride)})"
            )
        if x.shape[0] == 0:
            raise InputShapeError(f"FastViT input: expected {expected} with B >= 1, got shape {shape}")

    def forward_features(self, x: torch.Tensor) -> FastVitFeatures:
        """Run the encoder.

        Args:
            x: normalized images ``(B, in_chans, H, W)``, ``H`` and ``W`` multiples of 32.

        Returns:
            the stage outputs, the head-conv map and the pooled vector (see :class:`FastVitFeatures`).
        """
        if not (torch.jit.is_tracing() or torch.jit.is_scripting()):
            self.check_input(x)
        x = self.stem(x)
        outs: list[torch.Tensor] = []
        for stage in self.stages:
            x = stage(x)
            outs.append(x)
        final = self.final_conv(x)
        pooled = final.mean((2, 3))
        return FastVitFeatures(stages=tuple(outs), final=final, pooled=pooled)

    def forward_head(self, pooled: torch.Tensor) -> torch.Tensor:
        """Args: pooled ``(B, num_features)``. Returns logits ``(B, num_classes)`` (``pooled`` if no classifier)."""
        return self.head(pooled)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x ``(B, in_chans, H, W)``. Returns logits ``(B, num_classes)``, or the pooled features
        ``(B, num_features)`` when ``num_classes=0``."""
        return self.forward_head(self.forward_features(x).pooled)

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the classifier by a fresh one with ``num_classes`` outputs (0 removes it).

        Args:
            num_classes: new number of classes.
        """
        param = next(self.parameters())  # the new head follows the model's device and dtype
        self.head = ClassifierHead(self.num_features, num_classes, self.head.drop_rate).to(param.device, param.dtype)
        if isinstance(self.head.fc, nn.Linear):
            nn.init.trunc_normal_(self.head.fc.weight, std=0.02)
            nn.init.zeros_(self.head.fc.bias)
        self.num_classes = num_classes
        self.init_kwargs["num_classes"] = num_classes
