"""AdamW with decoupled weight decay on weights only, and a linear warm-up followed by a cosine decay.

Biases, normalisation parameters, layer scales and other 1-D parameters are not decayed (as in the FastViT and
timm training recipes): decaying a BatchNorm scale or a layer scale towards 0 fights the architecture.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

__all__ = ["build_optimizer", "lr_factor", "build_scheduler"]


def build_optimizer(model: nn.Module, optim_cfg: Any) -> torch.optim.AdamW:
    """AdamW over ``model``'s trainable parameters with the config's ``lr`` and ``weight_decay``.

    Args:
        model: the network (unwrapped).
        optim_cfg: :class:`~handmesh.config.OptimConfig`.
    """
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if _no_decay(name, p) else decay).append(p)
    groups = [
        {"params": decay, "weight_decay": float(optim_cfg.weight_decay)},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=float(optim_cfg.lr))


def _no_decay(name: str, p: torch.Tensor) -> bool:
    """Biases, 1-D parameters (normalisation scales and shifts) and layer scales (FastViT's ``layer_scale.gamma``,
    shaped ``(C, 1, 1)``: not 1-D, so the shape alone would decay them)."""
    return p.ndim <= 1 or name.endswith(".bias") or "layer_scale" in name


def lr_factor(step: int, total_steps: int, warmup_steps: int, min_ratio: float) -> float:
    """Learning-rate multiplier at ``step`` (0-based).

    Linear warm-up from ``1 / warmup_steps`` to 1 over ``warmup_steps``, then a half cosine from 1 down to
    ``min_ratio`` at ``total_steps``.
    """
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_scheduler(
    optimizer: torch.optim.Optimizer, total_steps: int, warmup_steps: int, min_ratio: float
) -> torch.optim.lr_scheduler.LambdaLR:
    """A per-step :class:`~torch.optim.lr_scheduler.LambdaLR` following :func:`lr_factor`.

    Its state dict holds only the step count (the schedule itself is rebuilt from the config), so it loads with
    ``weights_only=True``.
    """
    warmup = min(int(warmup_steps), max(0, int(total_steps) - 1))

    def factor(step: int) -> float:
        return lr_factor(step, int(total_steps), warmup, float(min_ratio))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
