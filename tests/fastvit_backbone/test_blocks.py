"""Each fusable block alone: the reparameterized block's eval output equals the train-time block's."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from fastvit_backbone.blocks import AttentionBlock, RepMixerBlock
from fastvit_backbone.conv import ChannelMultiplierConv2d, create_conv2d, repeat_channels
from fastvit_backbone.fusion import identity_kernel
from fastvit_backbone.large_kernel import ReparamLargeKernelConv
from fastvit_backbone.mixers import RepMixer
from fastvit_backbone.mlp import ConvMlp
from fastvit_backbone.mobileone import MobileOneBlock
from fastvit_backbone.pos_enc import RepConditionalPosEnc

RTOL, ATOL = 1e-4, 1e-5


def _fused_matches(block: nn.Module, x: torch.Tensor, randomize) -> nn.Module:
    randomize(block).eval()
    with torch.no_grad():
        expected = block(x)
        fused = copy.deepcopy(block)
        fused.reparameterize()
        got = fused(x)
    torch.testing.assert_close(got, expected, rtol=RTOL, atol=ATOL)
    # The fused block must actually differ in structure (no branch survived).
    assert not any(k.split(".")[-2] in {"identity", "bn"} for k in fused.state_dict()), list(fused.state_dict())
    return fused


@pytest.mark.parametrize(
    "in_chs,out_chs,k,stride,group_size,branches,use_se,use_scale",
    [
        (8, 8, 3, 1, 0, 1, False, True),  # dense, with identity branch
        (8, 16, 3, 2, 0, 1, False, True),  # dense, stride 2, no identity
        (8, 8, 3, 1, 1, 1, False, True),  # depthwise with identity
        (8, 8, 3, 2, 1, 1, False, True),  # depthwise stride 2 (the stem's second block)
        (8, 8, 3, 1, 2, 1, False, True),  # grouped (4 groups of 2)
        (8, 8, 3, 1, 0, 3, False, True),  # over-parameterized: 3 kxk branches
        (8, 8, 3, 1, 1, 4, False, True),  # depthwise, 4 kxk branches
        (8, 8, 5, 1, 1, 2, False, False),  # no scale branch, 5x5
        (8, 8, 1, 1, 0, 2, False, True),  # 1x1 (scale branch not used)
        (8, 16, 3, 1, 1, 1, True, True),  # the head conv: 2 outputs per input channel, squeeze-excite
        (8, 8, 3, 1, 1, 0, False, False),  # identity BatchNorm only (RepMixer's "norm")
    ],
)
def test_mobileone_block_fuses(in_chs, out_chs, k, stride, group_size, branches, use_se, use_scale, randomize):
    block = MobileOneBlock(
        in_chs,
        out_chs,
        k,
        stride=stride,
        group_size=group_size,
        use_se=use_se,
        use_scale_branch=use_scale,
        num_conv_branches=branches,
    )
    fused = _fused_matches(block, torch.randn(3, in_chs, 12, 12), randomize)
    assert fused.conv_kxk is None and fused.conv_scale is None and fused.identity is None
    assert fused.reparam_conv.weight.shape == (out_chs, in_chs // block.groups, k, k)


def test_mobileone_fused_state_dict_loads_into_inference_mode_block(randomize):
    block = randomize(MobileOneBlock(8, 8, 3, group_size=1, num_conv_branches=2)).eval()
    fused = copy.deepcopy(block)
    fused.reparameterize()
    direct = MobileOneBlock(8, 8, 3, group_size=1, num_conv_branches=2, inference_mode=True).eval()
    direct.load_state_dict(fused.state_dict(), strict=True)
    x = torch.randn(2, 8, 10, 10)
    with torch.no_grad():
        torch.testing.assert_close(direct(x), block(x), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("layer_scale", [1e-5, None])
def test_repmixer_fuses(layer_scale, randomize):
    fused = _fused_matches(RepMixer(16, layer_scale_init_value=layer_scale), torch.randn(2, 16, 9, 9), randomize)
    assert fused.mixer is None and fused.norm is None and fused.layer_scale is None
    assert set(fused.state_dict()) == {"reparam_conv.weight", "reparam_conv.bias"}


def test_repcpe_fuses(randomize):
    block = RepConditionalPosEnc(16, spatial_shape=(7, 7))
    nn.init.normal_(block.pos_enc.weight, std=0.2)
    fused = _fused_matches(block, torch.randn(2, 16, 8, 8), randomize)
    assert fused.pos_enc is None
    assert set(fused.state_dict()) == {"reparam_conv.weight", "reparam_conv.bias"}


@pytest.mark.parametrize("in_chs,out_chs,stride,small", [(8, 16, 2, 3), (8, 8, 1, 3), (8, 16, 2, None), (8, 16, 1, 5)])
def test_large_kernel_conv_fuses(in_chs, out_chs, stride, small, randomize):
    block = ReparamLargeKernelConv(in_chs, out_chs, 7, stride=stride, group_size=1, small_kernel=small)
    fused = _fused_matches(block, torch.randn(2, in_chs, 16, 16), randomize)
    assert fused.large_conv is None and fused.small_conv is None
    assert fused.reparam_conv.weight.shape == (out_chs, 1, 7, 7)


def test_conv_mlp_folds_batchnorm(randomize):
    fused = _fused_matches(ConvMlp(16, 48), torch.randn(2, 16, 8, 8), randomize)
    assert fused.conv is None and "reparam_conv.bias" in fused.state_dict()


def test_repmixer_block_folds_everything(randomize):
    fused = _fused_matches(RepMixerBlock(16, mlp_ratio=3.0), torch.randn(2, 16, 8, 8), randomize)
    assert not any("layer_scale" in k or ".bn." in k for k in fused.state_dict())


def test_attention_block_folds_norm_and_layer_scales(randomize):
    block = AttentionBlock(64, mlp_ratio=2.0)
    nn.init.normal_(block.token_mixer.proj.bias, std=0.1)
    fused = _fused_matches(block, torch.randn(2, 64, 4, 4), randomize)
    keys = set(fused.state_dict())
    assert "token_mixer.qkv.bias" in keys
    assert not any(k.startswith("norm.") or "layer_scale" in k for k in keys)
    direct = AttentionBlock(64, mlp_ratio=2.0, inference_mode=True)
    direct.load_state_dict(fused.state_dict(), strict=True)


@pytest.mark.parametrize(
    "block",
    [
        lambda: MobileOneBlock(8, 8, 3, group_size=1),
        lambda: RepMixer(8),
        lambda: RepConditionalPosEnc(8),
        lambda: ReparamLargeKernelConv(8, 16, 7, stride=2),
        lambda: RepMixerBlock(8),
        lambda: AttentionBlock(32),
    ],
)
def test_reparameterize_is_idempotent(block, randomize):
    b = randomize(block()).eval()
    b.reparameterize()
    once = copy.deepcopy(b.state_dict())
    b.reparameterize()
    twice = b.state_dict()
    assert list(once) == list(twice)
    for k in once:
        torch.testing.assert_close(twice[k], once[k], rtol=0, atol=0)
    assert b.inference_mode


def test_identity_kernel_is_identity():
    x = torch.randn(2, 6, 5, 5, dtype=torch.float64)
    for groups in (1, 2, 3, 6):
        w = identity_kernel(6, groups, 3)
        y = torch.nn.functional.conv2d(x, w, padding=1, groups=groups)
        torch.testing.assert_close(y, x, rtol=0, atol=0)


@pytest.mark.parametrize("channels_last", [False, True])
def test_channel_multiplier_conv_equals_grouped_conv(channels_last):
    conv = create_conv2d(8, 24, 7, stride=2, groups=8, bias=True)
    assert isinstance(conv, ChannelMultiplierConv2d) and conv.multiplier == 3
    x = torch.randn(2, 8, 16, 16)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    expected = torch.nn.functional.conv2d(x, conv.weight, conv.bias, 2, 3, 1, 8)
    with torch.no_grad():
        torch.testing.assert_close(conv(x), expected, rtol=1e-5, atol=1e-6)
    assert repeat_channels(x, 3).is_contiguous(memory_format=torch.channels_last) == channels_last


def test_channel_multiplier_conv_backward_matches_grouped_conv():
    conv = create_conv2d(4, 8, 3, groups=4, bias=True)
    x = torch.randn(2, 4, 6, 6, requires_grad=True)
    conv(x).square().sum().backward()
    gx, gw = x.grad.clone(), conv.weight.grad.clone()
    x.grad = None
    conv.weight.grad = None
    torch.nn.functional.conv2d(x, conv.weight, conv.bias, 1, 1, 1, 4).square().sum().backward()
    torch.testing.assert_close(x.grad, gx)
    torch.testing.assert_close(conv.weight.grad, gw)
