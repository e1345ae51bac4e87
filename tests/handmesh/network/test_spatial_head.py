"""The spatial head: keypoints by soft-argmax, tokens sampled where they are, the mean hand at the start, and a
network that saves, reloads and exports like the pooled one."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from handmesh.config import config_to_dict, load_config
from handmesh.errors import ConfigError
from handmesh.geometry.projection import crop_pixels_to_normalized
from handmesh.losses import build_loss, heatmap_log_targets
from handmesh.network import build_network, load_network, save_network
from handmesh.network.spatial_head import NUM_KEYPOINTS, SpatialHead

SIZE = 64


def _config(*extra: str):
    return load_config(None, [f"model.input_size={SIZE}", "model.head=spatial", "model.head_hidden=64", *extra])


def test_keypoints_are_the_soft_argmax_of_the_heatmaps() -> None:
    net = build_network(_config().model).eval()
    head: SpatialHead = net.head
    n = SIZE // 8
    cell = (1, 6)  # row, column of the stride-8 map every keypoint looks at
    logits = torch.full((1, NUM_KEYPOINTS, n, n), -1e4)
    logits[..., cell[0], cell[1]] = 0.0
    head.heat.forward = lambda x: logits.expand(x.shape[0], -1, -1, -1)  # a one-hot attention map
    c8, c16, c32 = net.backbone.stage_channels[1:]
    maps = torch.randn(2, c8, n, n), torch.randn(2, c16, n // 2, n // 2), torch.randn(2, c32, n // 4, n // 4)
    with torch.no_grad():
        _, _, _, keypoints, heatmaps = head.predict(*maps)
    # The cell's centre pixel, in the coordinates of HandMeshOutput.joints2d: cell 6 covers pixels 48..55.
    centre_px = torch.tensor([cell[1] * 8 + 3.5, cell[0] * 8 + 3.5])
    expected = crop_pixels_to_normalized(centre_px, SIZE)
    torch.testing.assert_close(keypoints, expected.expand(2, NUM_KEYPOINTS, 2))
    assert head.grid.shape == (n * n, 2) and float(head.grid.abs().max()) < 1
    assert heatmaps.shape == (2, NUM_KEYPOINTS, n * n) and int(heatmaps[0, 0].argmax()) == cell[0] * n + cell[1]


def test_heatmap_targets_are_laid_out_like_the_heads_grid() -> None:
    """The heatmap term's Gaussian, weighed over the head's own cell centres, lands on its keypoint: the loss and the
    head agree on the map's layout (row-major, rows are y) and on where each cell's centre is."""
    net = build_network(_config().model)
    uv = torch.tensor([[[28.3, 35.7], [33.0, 26.5], [37.9, 30.2]]])  # crop pixels, 2.5 sigma from the edges
    target = heatmap_log_targets(uv, (SIZE // 8) ** 2, SIZE).exp()
    torch.testing.assert_close(target.sum(-1), torch.ones(1, 3))
    expected = crop_pixels_to_normalized(uv, SIZE)
    torch.testing.assert_close(target @ net.head.grid, expected, atol=2e-3, rtol=0)
    assert int(target[0, 0].argmax()) == (35 // 8) * (SIZE // 8) + 28 // 8  # row 4, column 3


def test_the_heatmap_loss_reaches_the_heatmaps() -> None:
    net = build_network(_config().model)
    out = net(torch.randn(2, 3, SIZE, SIZE))
    loss = build_loss(
        load_config(None, ["loss.heatmap=1", "loss.head2d=0", *_ONLY_HEAD2D]).loss,
        net.hand_model,
        SIZE,
        use_head_keypoints=True,
    )
    batch = {
        "xyz": torch.zeros(2, NUM_KEYPOINTS, 3),
        "uv": torch.full((2, NUM_KEYPOINTS, 2), 40.0),
        "has_xyz": torch.tensor([True, True]),
        "K": torch.eye(3).expand(2, 3, 3),
    }
    terms = loss(out, batch)
    assert list(terms.terms) == ["heatmap"] and float(terms.total) > 0
    terms.total.backward()
    assert float(net.head.heat.weight.grad.abs().sum()) > 0


def test_the_head_keypoints_come_out_and_the_head2d_loss_reaches_them() -> None:
    """The soft-argmax keypoints leave the network beside the hand, and the head2d term pulls them to the targets."""
    net = build_network(_config().model)
    images = torch.randn(2, 3, SIZE, SIZE)
    out = net(images)
    assert out.head_keypoints2d is not None and out.head_keypoints2d.shape == (2, NUM_KEYPOINTS, 2)
    weights = load_config(None, ["loss.head2d=1", *_ONLY_HEAD2D]).loss
    loss = build_loss(weights, net.hand_model, SIZE, use_head_keypoints=True)
    target_px = torch.full((2, NUM_KEYPOINTS, 2), 40.0)
    batch = {
        "xyz": torch.zeros(2, NUM_KEYPOINTS, 3),
        "uv": target_px,
        "has_xyz": torch.tensor([True, True]),
        "K": torch.eye(3).expand(2, 3, 3),
    }
    terms = loss(out, batch)
    expected = (out.head_keypoints2d - crop_pixels_to_normalized(target_px, SIZE)).abs().mean()
    torch.testing.assert_close(terms.terms["head2d"], expected)
    terms.total.backward()
    assert float(net.head.heat.weight.grad.abs().sum()) > 0
    pooled = build_network(load_config(None, [f"model.input_size={SIZE}", "model.head_hidden=64"]).model)
    assert pooled(images).head_keypoints2d is None
    with pytest.raises(ValueError, match="use_head_keypoints=False"):
        loss(pooled(images), batch)
    assert build_loss(weights, pooled.hand_model, SIZE).active_terms == []  # nothing to supervise on the pooled head


_ONLY_HEAD2D = [f"loss.{t}=0" for t in ("joints3d", "verts3d", "joints2d", "pose", "betas", "betas_prior")]


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
