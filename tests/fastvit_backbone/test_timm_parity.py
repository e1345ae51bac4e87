"""timm's ``fastvit_*`` models are the independent reference: same keys, same parameter counts, same outputs."""

from __future__ import annotations

import pytest
import torch

timm = pytest.importorskip("timm")
from timm.utils.model import reparameterize_model as timm_reparameterize  # noqa: E402

from fastvit_backbone import create_model  # noqa: E402

TOL = dict(rtol=1e-5, atol=1e-5)

# Train-time parameters with the 1000-class head, as published for timm's fastvit_* (millions, 2 decimals).
PARAMS_M = {
    "fastvit_t8": 4.03,
    "fastvit_t12": 7.55,
    "fastvit_s12": 9.47,
    "fastvit_sa12": 11.58,
    "fastvit_sa24": 21.55,
    "fastvit_sa36": 31.53,
    "fastvit_ma36": 44.07,
}


_TIMM: dict[str, torch.nn.Module] = {}


def _timm_twin(models):
    """timm's model of the same variant holding our randomized weights (built once per session)."""
    if models.name not in _TIMM:
        ref = timm.create_model(models.name, pretrained=False).eval()
        ref.load_state_dict(models.train.state_dict(), strict=True)
        _TIMM[models.name] = ref
    return _TIMM[models.name]


def test_state_dict_keys_and_shapes_equal_timm(models):
    ours = models.train.state_dict()
    ref = _timm_twin(models).state_dict()
    assert list(ours) == list(ref)
    assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in ref.items()}


def test_parameter_count_equals_timm_and_paper(models):
    ours = sum(p.numel() for p in models.train.parameters())
    ref = sum(p.numel() for p in _timm_twin(models).parameters())
    assert ours == ref
    assert round(ours / 1e6, 2) == PARAMS_M[models.name]


def test_outputs_equal_timm_train_time_and_reparameterized(models):
    ref = _timm_twin(models)
    with torch.no_grad():
        torch.testing.assert_close(models.train(models.x), ref(models.x), **TOL)
        ref_fused = timm_reparameterize(ref)
        torch.testing.assert_close(models.fused(models.x), ref_fused(models.x), **TOL)


def test_stage_features_equal_timm_intermediates(get_models):
    models = get_models("fastvit_sa12")
    ref = _timm_twin(models)
    with torch.no_grad():
        ours = models.train.forward_features(models.x)
        final, inter = ref.forward_intermediates(models.x)
    assert len(inter) == 4
    for a, b in zip(ours.stages, inter):
        torch.testing.assert_close(a, b, **TOL)
    torch.testing.assert_close(ours.final, final, **TOL)


@pytest.mark.parametrize("name", ["fastvit_t8", "fastvit_sa12"])
def test_timm_reparameterized_state_dict_loads_into_inference_mode_model(name, get_models, tmp_path):
    from fastvit_backbone import load_checkpoint

    models = get_models(name)
    ref_fused = timm_reparameterize(_timm_twin(models))
    path = tmp_path / "timm_fused.pth"
    torch.save(ref_fused.state_dict(), path)
    ours = create_model(name, inference_mode=True).eval()
    result = load_checkpoint(ours, path)
    assert result.fused_on_load
    with torch.no_grad():
        torch.testing.assert_close(ours(models.x), ref_fused(models.x), **TOL)


def test_short_names_build_the_same_architecture():
    a = create_model("SA12").state_dict()
    b = timm.create_model("fastvit_sa12", pretrained=False).state_dict()
    assert list(a) == list(b)
