"""Exponential moving average of a network's weights (Polyak averaging), kept on the training device.

``ema = decay * ema + (1 - decay) * weights`` after every optimizer step, for parameters and floating-point buffers
(BatchNorm statistics); integer buffers are copied. Early in training the decay is warmed up as
``min(decay, (1 + n) / (10 + n))`` (n = updates so far, as in TensorFlow's ExponentialMovingAverage) so that the
average is not dominated by the random initialisation.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["ModelEma"]


class ModelEma:
    """An EMA copy of a model.

    Args:
        model: the model being trained (not wrapped in DDP).
        decay: the target decay, e.g. 0.9998.

    Attributes:
        module: the averaged copy (eval mode, no gradients).
        updates: number of updates so far.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must lie in (0, 1), got {decay}")
        self.decay = float(decay)
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Blend ``model``'s current weights into the average."""
        self.updates += 1
        d = min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))
        src = model.state_dict()
        for name, value in self.module.state_dict().items():
            new = src[name]
            if value.is_floating_point():
                value.mul_(d).add_(new.detach().to(value.dtype), alpha=1.0 - d)
            else:
                value.copy_(new)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The averaged weights (the model's state-dict keys)."""
        return self.module.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor], updates: int) -> None:
        """Restore the averaged weights and the update count (for resuming)."""
        self.module.load_state_dict(state)
        self.updates = int(updates)
