"""Variants table, factory, feature API, and bad input."""

from __future__ import annotations

import copy

import pytest
import torch

from fastvit_backbone import (
    VARIANTS,
    FastVitFeatures,
    InputShapeError,
    UnknownVariantError,
    create_model,
    get_variant,
    list_models,
)


def test_list_models_is_the_paper_table():
    assert list_models() == [
        "fastvit_t8",
        "fastvit_t12",
        "fastvit_s12",
        "fastvit_sa12",
        "fastvit_sa24",
        "fastvit_sa36",
        "fastvit_ma36",
    ]


@pytest.mark.parametrize(
    "name,layers,dims,ratio,attention,scale",
    [
        ("fastvit_t8", (2, 2, 4, 2), (48, 96, 192, 384), 3, False, 1e-5),
        ("fastvit_t12", (2, 2, 6, 2), (64, 128, 256, 512), 3, False, 1e-5),
        ("fastvit_s12", (2, 2, 6, 2), (64, 128, 256, 512), 4, False, 1e-5),
        ("fastvit_sa12", (2, 2, 6, 2), (64, 128, 256, 512), 4, True, 1e-5),
        ("fastvit_sa24", (4, 4, 12, 4), (64, 128, 256, 512), 4, True, 1e-5),
        ("fastvit_sa36", (6, 6, 18, 6), (64, 128, 256, 512), 4, True, 1e-6),
        ("fastvit_ma36", (6, 6, 18, 6), (76, 152, 304, 608), 4, True, 1e-6),
    ],
)
def test_variant_table(name, layers, dims, ratio, attention, scale):
    v = VARIANTS[name]
    assert v.layers == layers and v.embed_dims == dims and set(v.mlp_ratios) == {ratio}
    assert v.token_mixers == ("repmixer",) * 3 + (("attention",) if attention else ("repmixer",))
    assert v.pos_embs == ((None, None, None, 7) if attention else (None,) * 4)
    assert v.layer_scale_init_value == scale


def test_layer_scale_init_reaches_the_modules():
    m = create_model("fastvit_sa36")
    gammas = [p for n, p in m.named_parameters() if n.endswith("gamma")]
    assert gammas and all(torch.all(g == 1e-6) for g in gammas)


@pytest.mark.parametrize("alias", ["t8", "T8", "fastvit_t8", "FastViT-T8", " fastvit-t8 "])
def test_aliases(alias):
    assert get_variant(alias).name == "fastvit_t8"


def test_unknown_variant_lists_valid_names():
    with pytest.raises(UnknownVariantError) as e:
        create_model("fastvit_xl99")
    msg = str(e.value)
    assert "fastvit_xl99" in msg
    for name in list_models():
        assert name in msg
    assert isinstance(e.value, KeyError)


def test_unknown_override_is_named():
    with pytest.raises(TypeError, match="num_clases"):
        create_model("t8", num_clases=3)


@pytest.mark.parametrize("size", [224, 256])
def test_features_shapes_at_224_and_256(size, get_models):
    model = get_models("fastvit_sa12").fused  # fused: cheaper at full resolution
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        f = model.forward_features(x)
    assert isinstance(f, FastVitFeatures)
    assert model.stage_channels == (64, 128, 256, 512)
    assert model.stage_strides == (4, 8, 16, 32)
    assert [i["num_chs"] for i in model.feature_info] == list(model.stage_channels)
    assert [i["reduction"] for i in model.feature_info] == [4, 8, 16, 32]
    for t, c, s in zip(f.stages, model.stage_channels, model.stage_strides):
        assert t.shape == (1, c, size // s, size // s)
    assert f.final.shape == (1, model.num_features, size // 32, size // 32)
    assert f.pooled.shape == (1, model.num_features) == (1, 1024)
    torch.testing.assert_close(f.pooled, f.final.mean((2, 3)))


def test_non_square_input():
    model = create_model("t8", num_classes=0).eval()
    with torch.no_grad():
        f = model.forward_features(torch.randn(1, 3, 96, 160))
    assert [t.shape[-2:] for t in f.stages] == [(24, 40), (12, 20), (6, 10), (3, 5)]


def test_batch_items_are_independent(get_models):
    m = get_models("fastvit_t8")
    with torch.no_grad():
        batch = m.fused(torch.cat([m.x, m.x.flip(0), m.x[:1]]))
        single = m.fused(m.x[1:2])
    assert batch.shape == (5, 1000)
    torch.testing.assert_close(batch[1:2], single, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(batch[2:3], single, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("form", ["train", "fused"])
def test_channels_last_gives_the_same_output(form, get_models):
    m = get_models("fastvit_sa12")
    model = getattr(m, form)
    model_cl = copy.deepcopy(model).to(memory_format=torch.channels_last)
    with torch.no_grad():
        expected = model.forward_features(m.x)
        got = model_cl.forward_features(m.x.contiguous(memory_format=torch.channels_last))
    assert got.stages[0].is_contiguous(memory_format=torch.channels_last)
    for a, b in zip(got.stages + (got.pooled,), expected.stages + (expected.pooled,)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_no_classifier_returns_pooled_features():
    model = create_model("t8", num_classes=0).eval()
    assert not any(k.startswith("head.") for k in model.state_dict())
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        out = model(x)
        torch.testing.assert_close(out, model.forward_features(x).pooled)
    assert out.shape == (2, model.num_features) == (2, 768)


def test_reset_classifier():
    model = create_model("t8")
    model.reset_classifier(7)
    assert model.head.fc.weight.shape == (7, 768)
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, 7)
    model.reset_classifier(0)
    assert not any(k.startswith("head.") for k in model.state_dict())


def test_gradients_reach_the_stem():
    model = create_model("sa12", drop_path_rate=0.1).train()
    model(torch.randn(2, 3, 64, 64)).sum().backward()
    grad = model.stem[0].conv_kxk[0].conv.weight.grad
    assert grad is not None and grad.abs().sum() > 0


@pytest.mark.parametrize(
    "shape,fragment",
    [
        ((1, 4, 64, 64), "3 channels"),
        ((1, 1, 64, 64), "3 channels"),
        ((1, 3, 65, 64), "multiples of 32"),
        ((1, 3, 64, 100), "multiples of 32"),
        ((1, 3, 16, 16), "multiples of 32"),
        ((3, 64, 64), "(B, 3, H, W)"),
        ((0, 3, 64, 64), "B >= 1"),
    ],
)
def test_bad_input_shape_says_what_was_expected(shape, fragment):
    model = create_model("t8").eval()
    with pytest.raises(InputShapeError) as e:
        model(torch.randn(shape))
    assert fragment in str(e.value)
    assert str(tuple(shape)) in str(e.value) or f"H={shape[-2]}" in str(e.value)
    assert isinstance(e.value, ValueError)


def test_in_chans_override():
    model = create_model("t8", in_chans=1).eval()
    assert model(torch.randn(1, 1, 64, 64)).shape == (1, 1000)
    with pytest.raises(InputShapeError, match="1 channels"):
        model(torch.randn(1, 3, 64, 64))


def test_a_new_variant_is_one_row(monkeypatch) -> None:
    """The variants are data: one more row in VARIANTS is a model the factory builds, by either name."""
    from fastvit_backbone import factory
    from fastvit_backbone.variants import VARIANTS, FastVitVariant

    row = FastVitVariant("fastvit_t4", (1, 1, 2, 1), (32, 64, 128, 256), (2, 2, 2, 2), ("repmixer",) * 4)
    monkeypatch.setitem(VARIANTS, row.name, row)
    assert "fastvit_t4" in factory.list_models()
    model = factory.create_model("t4", num_classes=0).eval()
    assert tuple(model.stage_channels) == row.embed_dims
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 64, 64)).shape == (1, model.num_features)
