"""Building variants by name: ``create_model("fastvit_t8")`` or ``create_model("t8", num_classes=0)``."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from fastvit_backbone.errors import UnknownVariantError
from fastvit_backbone.model import FastVit
from fastvit_backbone.variants import VARIANTS, FastVitVariant


def list_models() -> list[str]:
    """Canonical variant names, smallest first: ``["fastvit_t8", ..., "fastvit_ma36"]``."""
    return list(VARIANTS)


def get_variant(name: str) -> FastVitVariant:
    """Look a variant up by canonical name (``fastvit_sa12``) or short name (``sa12``), case-insensitively;
    ``-`` and ``_`` are interchangeable (``FastViT-SA12``).

    Args:
        name: the variant name.

    Returns:
        the variant.

    Raises:
        UnknownVariantError: the name is not a FastViT variant; the message lists the valid names.
    """
    key = str(name).strip().lower().replace("-", "_")
    key = key if key.startswith("fastvit_") else f"fastvit_{key}"
    if key not in VARIANTS:
        valid = ", ".join(VARIANTS)
        short = ", ".join(v.short_name for v in VARIANTS.values())
        raise UnknownVariantError(f"unknown FastViT variant {name!r}; valid names: {valid} (or short: {short})")
    return VARIANTS[key]


def create_model(name: str, checkpoint_path: str | Path | None = None, **overrides: Any) -> FastVit:
    """Build a FastViT variant.

    Args:
        name: variant name, e.g. ``"fastvit_t8"`` or ``"t8"`` (see :func:`list_models`).
        checkpoint_path: a local checkpoint to load strictly (timm or apple format, safetensors or torch pickle;
            see :func:`~fastvit_backbone.checkpoint.load_checkpoint`). Default: none (random init).
        **overrides: any :class:`~fastvit_backbone.model.FastVit` argument, e.g. ``num_classes=0``,
            ``inference_mode=True``, ``drop_path_rate=0.1``.

    Returns:
        the model, with ``model.variant`` set to the canonical name.

    Raises:
        UnknownVariantError: unknown name.
        TypeError: an override that is not a FastVit argument.
    """
    variant = get_variant(name)
    valid = set(inspect.signature(FastVit.__init__).parameters) - {"self"}
    unknown = sorted(set(overrides) - valid)
    if unknown:
        raise TypeError(f"create_model({name!r}): unknown argument(s) {unknown}; valid: {sorted(valid)}")
    model = FastVit(**{**variant.model_kwargs(), **overrides})
    model.variant = variant.name
    if checkpoint_path is not None:
        from fastvit_backbone.checkpoint import load_checkpoint

        load_checkpoint(model, checkpoint_path, strict=True)
    return model
