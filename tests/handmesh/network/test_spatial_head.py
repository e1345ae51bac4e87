"""The spatial head: keypoints by soft-argmax, tokens sampled where they are, the mean hand at the start, and a
network that saves, reloads and exports like the pooled one."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from handmesh.config import config_to_dict, load_config
from handmesh.errors import ConfigError
from handmesh.network import build_network, load_network, save_network
from handmesh.network.spatial_head import NUM_KEYPOINTS, SpatialHead

SIZE = 64


def _config(*extra: str):
    return load_config(None, [f"model.input_size={SIZE}", "model.head=spatial", "model.head_hidden=64", *extra])


def test_keypoints_are_the_soft_argmax_of_the_heatmaps() -> None:
    net = build_network(_config().model).eval()
    head: SpatialHead = net.head
    n = SIZE // 16
    cell = (1, 2)  # row, column of the stride-16 map every keypoint looks at
    logits = torch.full((1, NUM_KEYPOINTS, n, n), -1e4)
    logits[..., cell[0], cell[1]] = 0.0
    head.heat.forward = lambda x: logits.expand(x.shape[0], -1, -1, -1)  # a one-hot attention map
    c16, c32 = net.backbone.stage_channels[2:]
    maps16, maps32 = torch.randn(2, c16, n, n), torch.randn(2, c32, n // 2, n // 2)
    with torch.no_grad():
        _, _, _, keypoints = head.predict(maps16, maps32)
    expected = torch.tensor([(cell[1] + 0.5) * 2 / n - 1, (cell[0] + 0.5) * 2 / n - 1])
    torch.testing.assert_close(keypoints, expected.expand(2, NUM_KEYPOINTS, 2))
    assert head.grid.shape == (n * n, 2) and float(head.grid.abs().max()) < 1


def test_a_new_head_predicts_the_mean_hand_and_learns() -> None:
    net = build_network(_config().model)
    images = torch.randn(3, 3, SIZE, SIZE)
    pose, betas, cam = net.head(*net.features(images))
    torch.testing.assert_close(pose, net.head.init_pose.expand(3, -1))
    torch.testing.assert_close(cam, net.head.init_cam.expand(3, -1))
    out = net(images)
    out.joints.square().sum().backward()
    assert float(net.head.regress[-1].weight.grad.abs().sum()) > 0  # gradients reach the head's output layer
    with pytest.raises(ConfigError, match="model.head = 'fancy'"):
        build_network(_config("model.head=fancy").model)


def test_checkpoint_round_trip_and_exports(tmp_path: Path) -> None:
    from handmesh.export import export_model

    cfg = _config()
    net = build_network(cfg.model).eval()
    with torch.no_grad():
        for p in net.head.regress[-1].parameters():
            p.normal_(0.0, 0.01)  # away from the mean hand, so that parity means something
    path = save_network(net, tmp_path / "spatial.pt", config_to_dict(cfg))
    again, _ = load_network(path)
    assert again.head_kind == "spatial"
    images = torch.randn(2, 3, SIZE, SIZE)
    with torch.no_grad():
        torch.testing.assert_close(again(images).vertices, net(images).vertices)
    for fmt in ("onnx", "torchscript"):
        result = export_model(path, fmt, tmp_path / f"spatial.{fmt}")
        assert result.parity.passed, result.parity.summary()
