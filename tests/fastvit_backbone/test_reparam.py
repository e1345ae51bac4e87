"""Whole-model reparameterization for every variant: same outputs, idempotent, loadable, copy by default."""

from __future__ import annotations

import copy

import pytest
import torch

from fastvit_backbone import create_model, is_reparameterized, reparameterize_model
from fastvit_backbone.convert import train_time_keys

RTOL, ATOL = 1e-4, 1e-5


def _outputs(model, x):
    with torch.no_grad():
        f = model.forward_features(x)
        return [*f.stages, f.final, f.pooled, model.forward_head(f.pooled)]


def test_fused_model_matches_train_time_model(models):
    expected = _outputs(models.train, models.x)
    got = _outputs(models.fused, models.x)
    for name, g, e in zip(["stage0", "stage1", "stage2", "stage3", "final", "pooled", "logits"], got, expected):
        torch.testing.assert_close(g, e, rtol=RTOL, atol=ATOL, msg=lambda m, n=name: f"{models.name} {n}: {m}")
    # The randomization must make the comparison meaningful: features far from zero.
    assert expected[-2].abs().mean() > 1e-2


def test_fused_model_has_no_train_time_branches(models):
    assert is_reparameterized(models.fused)
    assert not is_reparameterized(models.train)
    assert train_time_keys(models.fused.state_dict()) == []
    assert len(models.fused.state_dict()) < len(models.train.state_dict())


def test_reparameterize_model_copies_by_default(models):
    before = {k: v.clone() for k, v in models.train.state_dict().items()}
    reparameterize_model(models.train)
    after = models.train.state_dict()
    assert list(after) == list(before)
    assert all(torch.equal(after[k], before[k]) for k in before)


def test_reparameterize_model_is_idempotent(models):
    again = reparameterize_model(models.fused)
    a, b = models.fused.state_dict(), again.state_dict()
    assert list(a) == list(b)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_inference_mode_model_loads_fused_state_dict_strictly(models):
    direct = create_model(models.name, inference_mode=True).eval()
    assert is_reparameterized(direct)
    direct.load_state_dict(models.fused.state_dict(), strict=True)
    with torch.no_grad():
        torch.testing.assert_close(direct(models.x), models.fused(models.x), rtol=0, atol=0)


def test_reparameterize_inplace_returns_same_object(get_models):
    m = copy.deepcopy(get_models("fastvit_t8").train)
    assert reparameterize_model(m, inplace=True) is m
    assert is_reparameterized(m)


def test_reparameterize_works_on_a_wrapping_network(get_models):
    src = get_models("fastvit_t8")
    net = torch.nn.Sequential(copy.deepcopy(src.train), torch.nn.Linear(1000, 4)).eval()
    fused = reparameterize_model(net)
    assert is_reparameterized(fused)
    with torch.no_grad():
        torch.testing.assert_close(fused(src.x), net(src.x), rtol=RTOL, atol=ATOL)


def test_train_mode_is_kept(get_models):
    m = copy.deepcopy(get_models("fastvit_t8").train).train()
    assert reparameterize_model(m).training


@pytest.mark.slow
def test_fused_matches_train_time_at_224_for_every_variant(models):
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        torch.testing.assert_close(models.fused(x), models.train(x), rtol=RTOL, atol=ATOL)


@pytest.mark.gpu
def test_fused_matches_train_time_on_cuda(get_models, monkeypatch):
    # TF32 convolutions (PyTorch's CUDA default) round to 10 mantissa bits: compare in true float32.
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    m = get_models("fastvit_sa12")
    train = copy.deepcopy(m.train).cuda()
    fused = copy.deepcopy(m.fused).cuda()
    x = m.x.cuda()
    with torch.no_grad():
        torch.testing.assert_close(fused(x).cpu(), m.fused(m.x), rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(fused(x), train(x), rtol=1e-4, atol=1e-4)


def test_fusion_keeps_dtype_and_is_exact_in_float64(get_models):
    m = get_models("fastvit_sa12")
    train = copy.deepcopy(m.train).double()
    fused = reparameterize_model(train)
    assert all(p.dtype == torch.float64 for p in fused.parameters())
    x = m.x.double()
    with torch.no_grad():
        torch.testing.assert_close(fused(x), train(x), rtol=1e-10, atol=1e-12)
