"""Whole-model structural reparameterization: train-time multi-branch form -> single-branch inference form.

Every fusable block (MobileOne block, RepMixer, RepCPE, large-kernel conv, and the blocks that fold their BatchNorms
and layer scales) has an idempotent ``reparameterize()`` that replaces its branches by equivalent convolutions and
deletes them. Reparameterize before export, and evaluate the fused model in eval mode: the fusion uses the
BatchNorms' running statistics.
"""

from __future__ import annotations

import copy
from typing import TypeVar

from torch import nn

M = TypeVar("M", bound=nn.Module)


def _reparameterize_tree(module: nn.Module) -> None:
    fn = getattr(module, "reparameterize", None)
    if callable(fn):
        # A block fuses its own sub-blocks: visiting them again would be wasted work.
        fn()
        return
    for child in module.children():
        _reparameterize_tree(child)


def reparameterize_model(model: M, inplace: bool = False) -> M:
    """Fuse every reparameterizable block of ``model``.

    Works on any module tree that contains FastViT blocks (e.g. a network with a FastViT encoder). The result gives
    the same eval-mode output as the train-time model; its state dict loads into a model built with
    ``inference_mode=True``. The train/eval mode is left as it was.

    Args:
        model: the model.
        inplace: fuse ``model`` itself instead of a deep copy. Default: ``False``.

    Returns:
        the fused model (``model`` itself when ``inplace``).
    """
    target = model if inplace else copy.deepcopy(model)
    _reparameterize_tree(target)
    return target


def is_reparameterized(model: nn.Module) -> bool:
    """Whether no block of ``model`` has train-time branches left.

    Args:
        model: any module tree.

    Returns:
        ``True`` if every module with a ``reparameterize()`` method reports ``inference_mode``.
    """
    return all(
        bool(getattr(m, "inference_mode", True))
        for m in model.modules()
        if callable(getattr(m, "reparameterize", None))
    )
