"""Loading local checkpoints: file formats, wrappers, apple's names, fused/train-time forms, and clear errors."""

from __future__ import annotations

import argparse
import collections
import re

import pytest
import torch
from safetensors.torch import save_file

from fastvit_backbone import CheckpointError, create_model, load_checkpoint, read_state_dict, reparameterize_model

TOL = dict(rtol=1e-5, atol=1e-5)

# Apple ml-fastvit's module names, written out from its models/fastvit.py and models/modules/{mobileone,replknet}.py:
# FastViT.patch_embed (the stem), FastViT.network (a flat ModuleList: per stage [RepCPE], blocks, then the
# PatchEmbed into the next stage), FastViT.conv_exp, FastViT.head; MobileOneBlock.rbr_conv/rbr_scale/rbr_skip/
# reparam_conv; ReparamLargeKernelConv.lkb_origin/small_conv/lkb_reparam; SEBlock.reduce/expand;
# RepMixerBlock.convffn and .layer_scale (a bare parameter); AttentionBlock.layer_scale_1/_2; RepCPE.pe.
APPLE_NETWORK = {
    "fastvit_t8": {
        "stages.0.blocks.": "network.0.",
        "stages.1.downsample.": "network.1.",
        "stages.1.blocks.": "network.2.",
        "stages.2.downsample.": "network.3.",
        "stages.2.blocks.": "network.4.",
        "stages.3.downsample.": "network.5.",
        "stages.3.blocks.": "network.6.",
    },
    "fastvit_sa12": {
        "stages.0.blocks.": "network.0.",
        "stages.1.downsample.": "network.1.",
        "stages.1.blocks.": "network.2.",
        "stages.2.downsample.": "network.3.",
        "stages.2.blocks.": "network.4.",
        "stages.3.downsample.": "network.5.",
        "stages.3.pos_emb.pos_enc.": "network.6.pe.",
        "stages.3.pos_emb.reparam_conv.": "network.6.reparam_conv.",
        "stages.3.blocks.": "network.7.",
    },
}
APPLE_LEAVES = [
    (r"^stem\.", "patch_embed."),
    (r"^final_conv\.", "conv_exp."),
    (r"^head\.fc\.", "head."),
    (r"\.conv_kxk\.", ".rbr_conv."),
    (r"\.conv_scale\.", ".rbr_scale."),
    (r"\.identity\.", ".rbr_skip."),
    (r"\.large_conv\.", ".lkb_origin."),
    (r"\.proj\.0\.reparam_conv\.", ".proj.0.lkb_reparam."),
    (r"\.mlp\.", ".convffn."),
    (r"\.se\.fc1\.", ".se.reduce."),
    (r"\.se\.fc2\.", ".se.expand."),
    (r"\.(layer_scale(_[12])?)\.gamma$", r".\1"),
]


def to_apple(state_dict: dict[str, torch.Tensor], variant: str) -> dict[str, torch.Tensor]:
    """Our state dict under apple ml-fastvit's names (the inverse of what the loader converts)."""
    out = {}
    for key, value in state_dict.items():
        new = key
        for ours, apple in APPLE_NETWORK[variant].items():
            if new.startswith(ours):
                new = apple + new[len(ours) :]
                break
        for pattern, repl in APPLE_LEAVES:
            new = re.sub(pattern, repl, new)
        assert new not in out, new
        out[new] = value
    return out


def _out(model, x):
    with torch.no_grad():
        return model(x)


@pytest.mark.parametrize("variant", ["fastvit_t8", "fastvit_sa12"])
def test_apple_train_time_checkpoint_round_trip(variant, get_models, tmp_path):
    m = get_models(variant)
    apple = to_apple(m.train.state_dict(), variant)
    # Spot checks that the table speaks apple's language.
    assert "patch_embed.0.rbr_conv.0.bn.running_var" in apple
    assert "network.0.0.token_mixer.mixer.rbr_skip.weight" in apple
    assert "network.0.0.layer_scale" in apple and "network.0.0.token_mixer.layer_scale" in apple
    assert "network.0.0.convffn.conv.conv.weight" in apple
    assert "network.5.proj.0.lkb_origin.conv.weight" in apple
    assert "conv_exp.se.reduce.weight" in apple and "head.weight" in apple
    if variant == "fastvit_sa12":
        assert "network.6.pe.weight" in apple and "network.7.0.layer_scale_1" in apple
    # Saved as the training script does: wrapped, with a DataParallel prefix and the run's options.
    path = tmp_path / f"{variant}.pth.tar"
    wrapped = collections.OrderedDict(("module." + k, v) for k, v in apple.items())
    torch.save({"epoch": 300, "args": argparse.Namespace(lr=1e-3), "state_dict": wrapped}, path)
    fresh = create_model(variant).eval()
    result = load_checkpoint(fresh, path, strict=True)
    assert result.source_format == "apple"
    torch.testing.assert_close(_out(fresh, m.x), _out(m.train, m.x), rtol=0, atol=0)


@pytest.mark.parametrize("variant", ["fastvit_t8", "fastvit_sa12"])
def test_apple_reparameterized_checkpoint_loads_into_inference_mode_model(variant, get_models, tmp_path):
    timm_utils = pytest.importorskip("timm.utils.model")
    timm = pytest.importorskip("timm")
    m = get_models(variant)
    ref = timm.create_model(variant, pretrained=False).eval()
    ref.load_state_dict(m.train.state_dict())
    apple_fused = to_apple(timm_utils.reparameterize_model(ref).state_dict(), variant)
    assert "network.5.proj.0.lkb_reparam.weight" in apple_fused
    path = tmp_path / "apple_fused.pth"
    torch.save({"state_dict": apple_fused}, path)
    ours = create_model(variant, inference_mode=True).eval()
    load_checkpoint(ours, path)
    torch.testing.assert_close(_out(ours, m.x), _out(m.train, m.x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("wrapper", [None, "state_dict", "model", "state_dict_ema"])
def test_torch_pickle_wrappers(wrapper, get_models, tmp_path):
    m = get_models("fastvit_t8")
    sd = m.train.state_dict()
    path = tmp_path / "ckpt.pth"
    torch.save(sd if wrapper is None else {wrapper: sd, "epoch": 1}, path)
    fresh = create_model("t8").eval()
    load_checkpoint(fresh, path)
    torch.testing.assert_close(_out(fresh, m.x), _out(m.train, m.x), rtol=0, atol=0)


def test_use_ema_prefers_the_ema_weights(get_models, tmp_path):
    m = get_models("fastvit_t8")
    sd = m.train.state_dict()
    other = {k: (v + 1 if v.is_floating_point() else v) for k, v in sd.items()}
    path = tmp_path / "ckpt.pth"
    torch.save({"state_dict": other, "state_dict_ema": sd}, path)
    assert torch.equal(read_state_dict(path)["head.fc.bias"], other["head.fc.bias"])
    assert torch.equal(read_state_dict(path, use_ema=True)["head.fc.bias"], sd["head.fc.bias"])
    torch.save({"state_dict": sd}, path)
    with pytest.raises(CheckpointError, match="no EMA weights"):
        read_state_dict(path, use_ema=True)


def test_safetensors(get_models, tmp_path):
    m = get_models("fastvit_sa12")
    path = tmp_path / "w.safetensors"
    save_file(m.train.state_dict(), str(path))
    fresh = create_model("sa12").eval()
    load_checkpoint(fresh, path)
    torch.testing.assert_close(_out(fresh, m.x), _out(m.train, m.x), rtol=0, atol=0)


def test_create_model_with_checkpoint_path(get_models, tmp_path):
    m = get_models("fastvit_t8")
    path = tmp_path / "w.safetensors"
    save_file(m.train.state_dict(), str(path))
    fresh = create_model("t8", checkpoint_path=path).eval()
    torch.testing.assert_close(_out(fresh, m.x), _out(m.train, m.x), rtol=0, atol=0)


def test_fused_checkpoint_loads_into_inference_mode_model(get_models, tmp_path):
    m = get_models("fastvit_sa12")
    path = tmp_path / "fused.safetensors"
    save_file(m.fused.state_dict(), str(path))
    direct = create_model("sa12", inference_mode=True).eval()
    result = load_checkpoint(direct, path, strict=True)
    assert not result.fused_on_load
    torch.testing.assert_close(_out(direct, m.x), _out(m.fused, m.x), rtol=0, atol=0)


def test_train_time_checkpoint_is_fused_on_load(get_models, tmp_path):
    m = get_models("fastvit_sa12")
    path = tmp_path / "train.safetensors"
    save_file(m.train.state_dict(), str(path))
    direct = create_model("sa12", inference_mode=True).eval()
    assert load_checkpoint(direct, path).fused_on_load
    torch.testing.assert_close(_out(direct, m.x), _out(m.train, m.x), rtol=1e-4, atol=1e-5)
    already_fused = reparameterize_model(create_model("sa12")).eval()
    assert load_checkpoint(already_fused, path).fused_on_load


def test_fused_checkpoint_into_train_time_model_is_refused(get_models, tmp_path):
    path = tmp_path / "fused.safetensors"
    save_file(get_models("fastvit_t8").fused.state_dict(), str(path))
    with pytest.raises(CheckpointError, match="inference_mode=True") as e:
        load_checkpoint(create_model("t8"), path)
    assert str(path) in str(e.value)


def test_checkpoint_of_another_variant_names_tensor_and_shapes(get_models, tmp_path):
    path = tmp_path / "s12.safetensors"
    save_file(create_model("s12").state_dict(), str(path))
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(create_model("t8"), path)
    msg = str(e.value)
    assert "'stem.0.conv_kxk.0.conv.weight'" in msg
    assert "(64, 3, 3, 3)" in msg and "(48, 3, 3, 3)" in msg
    assert "fastvit_s12" in msg and str(path) in msg


def test_checkpoint_of_same_widths_other_depth_names_keys(tmp_path):
    path = tmp_path / "sa12.safetensors"
    save_file(create_model("sa12").state_dict(), str(path))
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(create_model("sa24"), path)
    msg = str(e.value)
    assert "missing key(s)" in msg and "stages.0.blocks.2." in msg
    assert "looks like fastvit_sa12" in msg


def test_missing_and_unexpected_keys_are_named(get_models, tmp_path):
    sd = dict(get_models("fastvit_t8").train.state_dict())
    del sd["stages.2.blocks.1.mlp.fc2.bias"]
    sd["stages.9.extra.weight"] = torch.zeros(3)
    path = tmp_path / "w.pth"
    torch.save(sd, path)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(create_model("t8"), path)
    msg = str(e.value)
    assert "1 missing key(s): stages.2.blocks.1.mlp.fc2.bias" in msg
    assert "1 unexpected key(s): stages.9.extra.weight" in msg
    result = load_checkpoint(create_model("t8"), path, strict=False)
    assert result.missing_keys == ["stages.2.blocks.1.mlp.fc2.bias"]
    assert result.unexpected_keys == ["stages.9.extra.weight"]


def test_head_is_skipped_for_a_model_without_classifier(get_models, tmp_path):
    m = get_models("fastvit_t8")
    path = tmp_path / "w.safetensors"
    save_file(m.train.state_dict(), str(path))
    backbone = create_model("t8", num_classes=0).eval()
    result = load_checkpoint(backbone, path)
    assert sorted(result.skipped_keys) == ["head.fc.bias", "head.fc.weight"]
    with torch.no_grad():
        torch.testing.assert_close(backbone(m.x), m.train.forward_features(m.x).pooled, rtol=0, atol=0)


def test_other_classifier_size_needs_skip_head(get_models, tmp_path):
    path = tmp_path / "w.safetensors"
    save_file(get_models("fastvit_t8").train.state_dict(), str(path))
    model = create_model("t8", num_classes=5)
    with pytest.raises(CheckpointError, match="skip_head=True") as e:
        load_checkpoint(model, path)
    assert "(1000, 768)" in str(e.value) and "(5, 768)" in str(e.value)
    before = model.head.fc.weight.clone()
    load_checkpoint(model, path, skip_head=True)
    assert torch.equal(model.head.fc.weight, before)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize(
    "content,name",
    [
        (b"", "empty.pth"),
        (b"PK\x03\x04 this is not a zip archive", "garbage.pth.tar"),
        (b"\x80\x04\x95 truncated pickle", "legacy.pt"),
        (b'\x10\x00\x00\x00\x00\x00\x00\x00{"x": 1} broken', "bad.safetensors"),
        (b"hello world", "text.bin"),
    ],
)
def test_corrupt_file_error_names_the_file(content, name, tmp_path):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(create_model("t8"), path)
    assert str(path) in str(e.value)


def test_truncated_real_checkpoint(get_models, tmp_path):
    path = tmp_path / "w.pth"
    torch.save(get_models("fastvit_t8").train.state_dict(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cannot read checkpoint") as e:
        load_checkpoint(create_model("t8"), path)
    assert str(path) in str(e.value)


class _NotWeights:
    pass


def test_pickle_with_code_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {"x": torch.zeros(1)}, "payload": _NotWeights()}, path)
    with pytest.raises(CheckpointError, match="weights_only=True") as e:
        read_state_dict(path)
    assert str(path) in str(e.value)


def test_missing_file_and_non_tensor_entries(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        read_state_dict(tmp_path / "nope.pth")
    path = tmp_path / "w.pth"
    torch.save({"weights": {"a": 1}, "b": "text"}, path)
    with pytest.raises(CheckpointError, match="expected tensors only"):
        read_state_dict(path)
