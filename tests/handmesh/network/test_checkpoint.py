"""Checkpoints: weights-only loading, everything inference needs, clear errors for corrupt files and other variants,
the small float16 inference checkpoint, and the camera-frame predictor behind ``handmesh-eval --checkpoint``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from handmesh.config import load_config
from handmesh.errors import CheckpointError, ConfigError, MissingFileError
from handmesh.geometry import crop_normalized_to_pixels, project_points
from handmesh.network import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    NetworkPredictor,
    build_network,
    load_network,
    read_checkpoint,
    save_inference_checkpoint,
    save_network,
)
from handmesh.utils.atomic import atomic_torch_save


@pytest.fixture
def saved(standin_dir: Path, tmp_path: Path) -> tuple[torch.nn.Module, Path]:
    torch.manual_seed(0)
    cfg = load_config(
        None,
        [
            "model.input_size=64",
            "model.hand_model=mano",
            f"model.mano_dir={standin_dir}",
            "model.head_hidden=32",
            "model.feature_fusion=true",
        ],
    )
    net = build_network(cfg.model)
    net.train()
    with torch.no_grad():  # non-trivial BatchNorm statistics
        net(torch.randn(4, 3, 64, 64))
    from handmesh.config import config_to_dict

    return net.eval(), save_network(net, tmp_path / "net.pt", config_to_dict(cfg))


def test_round_trip_with_everything_inference_needs(saved) -> None:
    net, path = saved
    raw = torch.load(path, weights_only=True)  # plain data and tensors only
    assert raw["format"] == "handmesh-checkpoint" and not any(k.startswith("hand_model.") for k in raw["model"])
    loaded, info = load_network(path)
    assert not loaded.training
    assert (info.variant, info.input_size, info.hand_model, info.side) == ("fastvit_t8", 64, "mano", "right")
    assert info.mean == IMAGENET_MEAN and info.std == IMAGENET_STD and not info.reparameterized
    assert info.head["feature_fusion"] is True and info.head["head_hidden"] == 32
    assert info.config["model"]["input_size"] == 64
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x).vertices, net(x).vertices, atol=0, rtol=0)


def test_ema_weights_are_preferred_when_present(saved, tmp_path: Path) -> None:
    net, path = saved
    ckpt = torch.load(path, weights_only=True)
    ckpt["ema"] = {k: (v + 0.5 if k == "head.init_cam" else v) for k, v in ckpt["model"].items()}
    atomic_torch_save(tmp_path / "ema.pt", ckpt)
    ema_net, info = load_network(tmp_path / "ema.pt")
    raw_net, raw_info = load_network(tmp_path / "ema.pt", use_ema=False)
    assert info.used_ema and info.has_ema and not raw_info.used_ema
    torch.testing.assert_close(ema_net.head.init_cam, raw_net.head.init_cam + 0.5)


def test_corrupt_foreign_and_missing_files_are_named(saved, tmp_path: Path) -> None:
    _, path = saved
    cut = tmp_path / "cut.pt"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=r"cannot read checkpoint .*cut\.pt"):
        load_network(cut)
    foreign = tmp_path / "imagenet.pth"
    torch.save({"state_dict": {"w": torch.zeros(1)}}, foreign)
    with pytest.raises(CheckpointError, match=r"imagenet\.pth is not a handmesh checkpoint.*model\.pretrained"):
        read_checkpoint(foreign)
    with pytest.raises(MissingFileError, match="gone.pt"):
        load_network(tmp_path / "gone.pt")


def test_another_variant_is_refused(saved, tmp_path: Path) -> None:
    _, path = saved
    with pytest.raises(CheckpointError, match="holds a fastvit_t8 network, expected fastvit_sa12"):
        load_network(path, expected_variant="sa12")
    ckpt = torch.load(path, weights_only=True)
    ckpt["info"]["variant"] = "fastvit_s12"  # weights of one variant labelled as another
    atomic_torch_save(tmp_path / "mislabelled.pt", ckpt)
    with pytest.raises(CheckpointError, match=r"mislabelled\.pt does not fit the fastvit_s12 network"):
        load_network(tmp_path / "mislabelled.pt")


def test_small_float16_fused_inference_checkpoint(saved, tmp_path: Path) -> None:
    net, path = saved
    small = save_inference_checkpoint(path, tmp_path / "small.pt")
    assert small.stat().st_size < 0.6 * path.stat().st_size
    fused, info = load_network(small)
    assert info.reparameterized and fused.inference_mode
    assert next(fused.parameters()).dtype == torch.float32
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(fused(x).joints, net(x).joints, atol=2e-3, rtol=0)


def test_predictor_places_the_hand_where_the_network_sees_it(saved) -> None:
    _, path = saved
    predictor = NetworkPredictor.from_checkpoint(path, device="cpu")
    assert predictor.input_size == 64
    K = torch.tensor([[150.0, 0.0, 31.5], [0.0, 150.0, 31.5], [0.0, 0.0, 1.0]]).expand(2, 3, 3)
    images = torch.randn(2, 3, 64, 64)
    xyz, verts = predictor(images, K)
    with torch.no_grad():
        out = predictor.network(images)
    # Root-relative shape kept, translated as a whole, in front of the camera ...
    torch.testing.assert_close(xyz - xyz[:, :1], out.joints, atol=1e-5, rtol=0)
    torch.testing.assert_close(verts - xyz[:, :1], out.vertices, atol=1e-5, rtol=0)
    # ... at a plausible depth, with its keypoints close to where the network put them in the crop (weak
    # perspective only approximates the pinhole, so not exactly).
    assert ((xyz[:, 0, 2] > 0.1) & (xyz[:, 0, 2] < 2.0)).all()
    uv = project_points(xyz, K)
    target = crop_normalized_to_pixels(out.joints2d, 64)
    assert (uv - target).norm(dim=-1).mean() < 3.0


def test_load_predictor_in_evaluation(saved) -> None:
    from handmesh.evaluation import load_predictor

    _, path = saved
    assert isinstance(load_predictor(path, device="cpu"), NetworkPredictor)
    with pytest.raises(ConfigError, match="backend 'onnx': expected auto or one of"):
        load_predictor(path, backend="onnx")
