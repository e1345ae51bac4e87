"""HandMeshNet: output contract, mean-parameter start, reparameterization parity, state dicts without the hand
model, mixed precision, and initialisation from local checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fastvit_backbone import create_model, is_reparameterized, reparameterize_model
from handmesh.config import load_config
from handmesh.errors import CheckpointError, ConfigError, MissingFileError
from handmesh.geometry import axis_angle_to_matrix, weak_perspective_project
from handmesh.network import HandMeshNet, HandMeshOutput, build_network, mean_parameters, save_network
from handmesh.network.head import DEFAULT_FILL


def _images(n: int = 2, size: int = 64, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, size, size, generator=g)


def test_output_contract(hand_model) -> None:
    torch.manual_seed(0)
    net = HandMeshNet(hand_model, input_size=64, head_hidden=64)
    out = net(_images(3))
    assert isinstance(out, HandMeshOutput)
    assert out.rotmats.shape == (3, 16, 3, 3) and out.betas.shape == (3, 10) and out.cam.shape == (3, 3)
    assert out.vertices.shape == (3, 778, 3) and out.joints.shape == (3, 21, 3) and out.joints2d.shape == (3, 21, 2)
    torch.testing.assert_close(out.joints[:, 0], torch.zeros(3, 3), atol=1e-7, rtol=0)  # wrist at the origin
    assert (out.cam[:, 0] > 0).all()
    torch.testing.assert_close(out.joints2d, weak_perspective_project(out.joints, out.cam), atol=1e-6, rtol=0)
    eye = torch.eye(3).expand(3, 16, 3, 3)
    torch.testing.assert_close(out.rotmats @ out.rotmats.transpose(-1, -2), eye, atol=1e-5, rtol=0)
    assert not any(k.startswith("hand_model.") for k in net.state_dict())


def test_untrained_network_starts_at_the_mean_hand(hand_model) -> None:
    net = HandMeshNet(hand_model, input_size=64, head_hidden=64).eval()
    with torch.no_grad():
        out = net(_images(2))
    fingers = axis_angle_to_matrix(hand_model.hands_mean.reshape(15, 3))
    torch.testing.assert_close(out.rotmats[:, 1:], fingers.expand(2, 15, 3, 3), atol=0.05, rtol=0)
    assert out.betas.abs().max() < 0.05
    # The mean hand fills about DEFAULT_FILL of the crop, centred.
    uv = weak_perspective_project(out.vertices, out.cam)
    span = (uv.amax(dim=1) - uv.amin(dim=1)).amax(dim=-1) / 2
    torch.testing.assert_close(span, torch.full((2,), DEFAULT_FILL), atol=0.05, rtol=0)
    assert uv.abs().max() < 1.0


def test_mean_parameters_show_the_palm_with_fingers_up(hand_model) -> None:
    mp = mean_parameters(hand_model)
    from handmesh.geometry import rot6d_to_matrix

    R = rot6d_to_matrix(mp.pose6d)
    out = hand_model(R[:1], R[None, 1:], mp.betas[None])
    j = out.joints[0] - out.joints[0, :1]
    assert j[9, 1] < -0.02 and abs(j[9, 0]) < abs(j[9, 1])  # middle MCP above the wrist in the image (y down)
    v = out.vertices[0] - out.joints[0, :1]
    uv = torch.exp(mp.cam[0]) * (v[:, :2] + mp.cam[1:])
    torch.testing.assert_close((uv.amax(0) - uv.amin(0)).amax() / 2, torch.tensor(DEFAULT_FILL), atol=1e-4, rtol=0)


@pytest.mark.parametrize("variant", ["fastvit_t8", "fastvit_sa12"])
def test_reparameterize_keeps_the_outputs(hand_model, variant: str) -> None:
    torch.manual_seed(0)
    net = HandMeshNet(hand_model, variant=variant, input_size=64, head_hidden=64, feature_fusion=True)
    net.train()
    with torch.no_grad():  # a few training-mode passes give the BatchNorms non-trivial statistics
        for s in range(3):
            net(_images(4, seed=s))
    net.eval()
    x = _images(2, seed=9)
    with torch.no_grad():
        before = net(x)
        fused = reparameterize_model(net)  # a copy; the original stays train-time
        assert not net.inference_mode and fused.inference_mode and is_reparameterized(fused)
        after = fused(x)
        head_before = {k: v.clone() for k, v in net.head.state_dict().items()}
        net.reparameterize()
        net.reparameterize()  # idempotent
        again = net(x)
    for name in ("vertices", "joints", "joints2d", "cam", "betas", "rotmats"):
        torch.testing.assert_close(getattr(after, name), getattr(before, name), atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(getattr(again, name), getattr(before, name), atol=1e-4, rtol=1e-4)
    for k, v in net.head.state_dict().items():
        assert torch.equal(v, head_before[k]), f"the head changed: {k}"


def test_feature_fusion_widens_the_head_input(hand_model) -> None:
    plain = HandMeshNet(hand_model, input_size=64, head_hidden=32)
    fused = HandMeshNet(hand_model, input_size=64, head_hidden=32, feature_fusion=True)
    extra = fused.head.fc1.in_features - plain.head.fc1.in_features
    assert extra == plain.backbone.stage_channels[2]
    assert fused(_images(1)).joints.shape == (1, 21, 3)


def test_state_dict_round_trip_without_hand_model_arrays(hand_model) -> None:
    torch.manual_seed(1)
    a = HandMeshNet(hand_model, input_size=64, head_hidden=32).eval()
    torch.manual_seed(2)
    b = HandMeshNet(hand_model, input_size=64, head_hidden=32).eval()
    b.load_state_dict(a.state_dict())  # strict: the hand model's missing buffers are expected
    x = _images(1)
    with torch.no_grad():
        torch.testing.assert_close(b(x).vertices, a(x).vertices, atol=0, rtol=0)


def test_bf16_autocast_keeps_the_head_and_hand_model_in_float32(hand_model) -> None:
    net = HandMeshNet(hand_model, input_size=64, head_hidden=32).eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = net(_images(1))
    assert out.vertices.dtype == torch.float32 and out.cam.dtype == torch.float32
    with torch.no_grad():
        ref = net(_images(1))
    torch.testing.assert_close(out.joints, ref.joints, atol=5e-3, rtol=0)


def test_bad_construction_is_named(hand_model, standin_dir: Path) -> None:
    with pytest.raises(ConfigError, match="multiple of 32"):
        HandMeshNet(hand_model, input_size=100)
    from handmesh.hand_model import HandModel, load_model_arrays, mirror_model_arrays

    left = HandModel(mirror_model_arrays(load_model_arrays("mano", "right", standin_dir)))
    with pytest.raises(ConfigError, match="right-hand model"):
        HandMeshNet(left, input_size=64)


# ---------------------------------------------------------------------------------------------------------------
def _cfg(standin_dir: Path, *overrides: str):
    return load_config(
        None,
        [
            "model.input_size=64",
            "model.hand_model=mano",
            f"model.mano_dir={standin_dir}",
            "model.head_hidden=32",
            *overrides,
        ],
    )


def test_imagenet_checkpoint_initialises_the_encoder(standin_dir: Path, tmp_path: Path) -> None:
    torch.manual_seed(5)
    imagenet = create_model("fastvit_t8")  # with its 1000-class classifier, as released checkpoints are
    path = tmp_path / "fastvit_t8_in1k.pth"
    torch.save({"state_dict": imagenet.state_dict()}, path)
    net = build_network(_cfg(standin_dir, f"model.pretrained={path}").model)
    ours = net.backbone.state_dict()
    for k, v in ours.items():
        assert torch.equal(v, imagenet.state_dict()[k]), k


def test_pretrained_of_another_variant_or_missing_is_named(standin_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "sa12.pth"
    torch.save(create_model("fastvit_sa12").state_dict(), path)
    with pytest.raises(CheckpointError, match="model.pretrained.*fastvit_t8"):
        build_network(_cfg(standin_dir, f"model.pretrained={path}").model)
    with pytest.raises(MissingFileError, match="nothing_here.pth.*ImageNet checkpoint"):
        build_network(_cfg(standin_dir, f"model.pretrained={tmp_path / 'nothing_here.pth'}").model)


def test_handmesh_checkpoint_initialises_the_whole_network(standin_dir: Path, tmp_path: Path) -> None:
    torch.manual_seed(3)
    src = build_network(_cfg(standin_dir).model)
    path = save_network(src, tmp_path / "synthetic.pt")
    torch.manual_seed(4)
    dst = build_network(_cfg(standin_dir, f"model.pretrained={path}").model)
    for k, v in src.state_dict().items():
        assert torch.equal(v, dst.state_dict()[k]), k
    with pytest.raises(CheckpointError, match="fastvit_t8.*model.variant is fastvit_sa12"):
        build_network(_cfg(standin_dir, "model.variant=fastvit_sa12", f"model.pretrained={path}").model)


def test_missing_mano_file_names_where_it_belongs(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HANDMESH_MANO_DIR", str(tmp_path / "empty"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MissingFileError, match=r"MANO_RIGHT\.pkl not found.*data/mano"):
        build_network(load_config(None, ["model.hand_model=mano", f"model.mano_dir={tmp_path / 'nope'}"]).model)
