"""The seven FastViT variants of the paper (Table 1 of Vasu et al. 2023), as data.

Names follow timm (``fastvit_t8`` ...); short names (``t8``) are accepted by the factory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FastVitVariant:
    """One variant's architecture.

    Attributes:
        name: canonical name, e.g. ``"fastvit_t8"``.
        layers: blocks per stage.
        embed_dims: channels per stage.
        mlp_ratios: ConvFFN expansion per stage.
        token_mixers: ``"repmixer"`` or ``"attention"`` per stage.
        pos_embs: RepCPE kernel size before a stage's blocks, or ``None``.
        layer_scale_init_value: initial layer scales (1e-6 for the 36-block variants, as in the paper's code).
    """

    name: str
    layers: tuple[int, int, int, int]
    embed_dims: tuple[int, int, int, int]
    mlp_ratios: tuple[float, float, float, float]
    token_mixers: tuple[str, str, str, str]
    pos_embs: tuple[int | None, int | None, int | None, int | None] = (None, None, None, None)
    layer_scale_init_value: float = 1e-5

    @property
    def short_name(self) -> str:
        """``"t8"`` for ``"fastvit_t8"``."""
        return self.name.removeprefix("fastvit_")

    def model_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :class:`~fastvit_backbone.model.FastVit` for this variant."""
        return dict(
            layers=self.layers,
            embed_dims=self.embed_dims,
            mlp_ratios=self.mlp_ratios,
            token_mixers=self.token_mixers,
            pos_embs=self.pos_embs,
            layer_scale_init_value=self.layer_scale_init_value,
        )


_R = "repmixer"
_A = "attention"
_CPE_LAST = (None, None, None, 7)  # RepCPE with a 7x7 kernel before the attention stage

VARIANTS: dict[str, FastVitVariant] = {
    v.name: v
    for v in (
        FastVitVariant("fastvit_t8", (2, 2, 4, 2), (48, 96, 192, 384), (3, 3, 3, 3), (_R, _R, _R, _R)),
        FastVitVariant("fastvit_t12", (2, 2, 6, 2), (64, 128, 256, 512), (3, 3, 3, 3), (_R, _R, _R, _R)),
        FastVitVariant("fastvit_s12", (2, 2, 6, 2), (64, 128, 256, 512), (4, 4, 4, 4), (_R, _R, _R, _R)),
        FastVitVariant("fastvit_sa12", (2, 2, 6, 2), (64, 128, 256, 512), (4, 4, 4, 4), (_R, _R, _R, _A), _CPE_LAST),
        FastVitVariant("fastvit_sa24", (4, 4, 12, 4), (64, 128, 256, 512), (4, 4, 4, 4), (_R, _R, _R, _A), _CPE_LAST),
        FastVitVariant(
            "fastvit_sa36", (6, 6, 18, 6), (64, 128, 256, 512), (4, 4, 4, 4), (_R, _R, _R, _A), _CPE_LAST, 1e-6
        ),
        FastVitVariant(
            "fastvit_ma36", (6, 6, 18, 6), (76, 152, 304, 608), (4, 4, 4, 4), (_R, _R, _R, _A), _CPE_LAST, 1e-6
        ),
    )
}
