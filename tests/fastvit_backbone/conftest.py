"""Shared helpers for the backbone tests: randomized models, built once per variant per session."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from torch import nn

from fastvit_backbone import FastVit, create_model, list_models, reparameterize_model
from fastvit_backbone.layers import LayerScale2d

ALL_VARIANTS = list_models()
PARITY_SIZE = 64  # smallest input that is a multiple of the stride 32 with more than one pixel at stride 32


@torch.no_grad()
def randomize_(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every BatchNorm random running statistics and affine parameters and every layer scale a value near
    0.3, in place. Identity BatchNorms and 1e-5 layer scales would make fusion bugs invisible."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=g) * 0.2)
            m.running_var.copy_(torch.rand(c, generator=g) * 1.5 + 0.5)
            m.weight.copy_(torch.rand(c, generator=g) + 0.5)
            m.bias.copy_(torch.randn(c, generator=g) * 0.2)
        elif isinstance(m, LayerScale2d):
            m.gamma.copy_(torch.rand(m.gamma.shape, generator=g) * 0.4 + 0.1)
        elif isinstance(m, nn.Linear) and m.out_features == 1000:
            m.weight.normal_(0.0, 0.05, generator=g)  # logits of order 1, so that they compare meaningfully
    return model


@dataclass
class VariantModels:
    """A randomized train-time model (eval mode), its reparameterized copy, and one input batch."""

    name: str
    train: FastVit
    fused: FastVit
    x: torch.Tensor


_CACHE: dict[str, VariantModels] = {}


def variant_models(name: str) -> VariantModels:
    """Build (once per session) the randomized models of a variant."""
    if name not in _CACHE:
        torch.manual_seed(0)
        train = randomize_(create_model(name)).eval()
        fused = reparameterize_model(train).eval()
        x = torch.randn(2, 3, PARITY_SIZE, PARITY_SIZE, generator=torch.Generator().manual_seed(1))
        _CACHE[name] = VariantModels(name, train, fused, x)
    return _CACHE[name]


@pytest.fixture(params=ALL_VARIANTS)
def models(request: pytest.FixtureRequest) -> VariantModels:
    """Randomized train-time and fused models of every variant."""
    return variant_models(request.param)


@pytest.fixture
def randomize():
    """The :func:`randomize_` helper."""
    return randomize_


@pytest.fixture
def get_models():
    """The :func:`variant_models` helper (models by variant name)."""
    return variant_models
