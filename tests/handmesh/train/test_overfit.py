"""The network can learn: on 4 images, a few dozen steps drive the 3D keypoint error far below where it started."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from handmesh.datasets import FreiHANDDataset
from handmesh.network import load_network
from handmesh.train import read_csv_log, train


@pytest.fixture(scope="module")
def four_images(tmp_path_factory: pytest.TempPathFactory, mano_dir: Path) -> Path:
    from handmesh.synth.dataset import SynthConfig, generate_dataset

    root = tmp_path_factory.mktemp("four") / "data"
    generate_dataset(
        root,
        SynthConfig(
            num_train=4, num_eval=1, image_size=64, hand_model="mano", mano_dir=str(mano_dir), occluder_prob=0.0, seed=7
        ),
        workers=1,
        progress=False,
    )
    return root


def _joint_error_mm(net: torch.nn.Module, root: Path) -> float:
    """Mean root-relative 3D keypoint error over the four training images as one batch, mm.

    BatchNorm normalizes with the batch's statistics, as in training: a few dozen steps are too few for the running
    statistics that eval mode uses to settle, and this test is about learning, not about those statistics.
    """
    ds = FreiHANDDataset(root, "training", versions=["gs"], input_size=64)
    batch = torch.utils.data.default_collate([ds[i] for i in range(len(ds))])
    with torch.no_grad():
        out = net.train()(batch["image"])
    gt = batch["xyz"] - batch["xyz"][:, :1]
    return float((out.joints - gt).norm(dim=-1).mean()) * 1000.0


def test_overfits_four_images(make_config, four_images: Path) -> None:
    cfg = make_config(
        f"data.root={four_images}",
        "data.val_fraction=0",
        "optim.max_steps=40",
        "optim.lr=2e-3",
        "optim.warmup_steps=3",
        "optim.weight_decay=0",
        "train.log_every=5",
    )
    result = train(cfg, progress=False)
    log = read_csv_log(Path(result.output_dir) / "train_log.csv")
    first, last = log["joints3d"][0], log["joints3d"][-1]
    assert last < 0.3 * first, f"joints3d L1 went from {first:.4f} to {last:.4f} m"

    torch.manual_seed(cfg.train.seed)
    from handmesh.network import build_network

    before = _joint_error_mm(build_network(cfg.model), four_images)
    net, info = load_network(result.last_checkpoint)
    after = _joint_error_mm(net, four_images)
    assert info.step == 40
    assert np.isfinite(after) and after < 0.4 * before, f"3D keypoint error {before:.1f} mm -> {after:.1f} mm"
