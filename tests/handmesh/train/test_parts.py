"""Training building blocks: the learning-rate schedule, optimizer groups, EMA, RNG states as plain data."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from handmesh.config import OptimConfig
from handmesh.train import ModelEma, build_optimizer, build_scheduler, lr_factor
from handmesh.train.state import capture_rng_state, restore_rng_state


def test_warmup_then_cosine() -> None:
    assert lr_factor(0, 100, 10, 0.01) == pytest.approx(0.1)
    assert lr_factor(9, 100, 10, 0.01) == pytest.approx(1.0)
    assert lr_factor(10, 100, 10, 0.01) == pytest.approx(1.0)
    assert lr_factor(55, 100, 10, 0.01) == pytest.approx(0.01 + 0.99 * 0.5)
    assert lr_factor(100, 100, 10, 0.01) == pytest.approx(0.01)
    factors = [lr_factor(s, 100, 10, 0.01) for s in range(10, 101)]
    assert all(a >= b for a, b in zip(factors, factors[1:]))


def test_scheduler_follows_the_factor_and_its_state_is_plain() -> None:
    p = nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([p], lr=1.0)
    sched = build_scheduler(opt, 20, 5, 0.1)
    lrs = []
    for _ in range(20):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([lr_factor(s, 20, 5, 0.1) for s in range(20)])
    import io

    f = io.BytesIO()  # the state is plain data: it must survive weights_only loading
    torch.save(sched.state_dict(), f)
    f.seek(0)
    assert torch.load(f, weights_only=True)["last_epoch"] == 20


def test_no_weight_decay_on_biases_and_norms() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.LazyLinear(2))
    model(torch.zeros(1, 3, 5, 5))
    opt = build_optimizer(model, OptimConfig(weight_decay=0.05))
    decayed = {id(p) for p in opt.param_groups[0]["params"]}
    assert opt.param_groups[0]["weight_decay"] == 0.05 and opt.param_groups[1]["weight_decay"] == 0.0
    assert id(model[0].weight) in decayed and id(model[3].weight) in decayed
    assert id(model[0].bias) not in decayed and id(model[1].weight) not in decayed


def test_fastvit_layer_scales_are_not_decayed() -> None:
    """FastViT's layer scales are (C, 1, 1), not 1-D: they must still be left out of the weight decay."""
    from fastvit_backbone import create_model

    model = create_model("fastvit_t8", num_classes=0)
    opt = build_optimizer(model, OptimConfig(weight_decay=0.05))
    decayed = {id(p) for p in opt.param_groups[0]["params"]}
    scales = [p for n, p in model.named_parameters() if "layer_scale" in n]
    assert len(scales) == 20 and all(p.ndim == 3 for p in scales)
    assert not any(id(p) in decayed for p in scales)
    assert any(p.ndim == 4 and id(p) in decayed for p in model.parameters())  # the convolutions still are


def test_ema_blends_weights_and_copies_counters() -> None:
    model = nn.BatchNorm1d(2)
    ema = ModelEma(model, decay=0.5)
    with torch.no_grad():
        model.weight.fill_(3.0)
    model.num_batches_tracked.fill_(7)
    ema.update(model)  # warm-up decay: min(0.5, 2 / 11)
    d = 2 / 11
    torch.testing.assert_close(ema.module.weight, torch.full((2,), d * 1.0 + (1 - d) * 3.0))
    assert int(ema.module.num_batches_tracked) == 7
    assert not any(p.requires_grad for p in ema.module.parameters())


def test_rng_states_round_trip_through_a_weights_only_file(tmp_path: Path) -> None:
    torch.manual_seed(1)
    np.random.seed(2)
    random.seed(3)
    state = capture_rng_state()
    torch.save(state, tmp_path / "rng.pt")
    expected = (torch.rand(2), np.random.rand(2), random.random())
    torch.manual_seed(99)
    np.random.seed(99)
    random.seed(99)
    restore_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True))
    got = (torch.rand(2), np.random.rand(2), random.random())
    assert torch.equal(got[0], expected[0]) and np.array_equal(got[1], expected[1]) and got[2] == expected[2]
