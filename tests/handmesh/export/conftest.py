"""Networks to export (T8, 64 px, the shipped open hand): one as initialised and one trained for a few optimizer
steps, each saved as a checkpoint once per session; exports made on demand go to a per-test cache folder."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from handmesh.export.verify import verification_crops

SIZE = 64


def structured_crops(batch: int, seed: int) -> torch.Tensor:
    """Normalized crops with image-like structure at the test size (the export check's own crops)."""
    return verification_crops(SIZE, batch, seed)


def make_network(seed: int = 0) -> torch.nn.Module:
    """T8 at 64 px, small head; decoders at the scale of a trained head so that outputs depend on the crop."""
    from handmesh.config import load_config
    from handmesh.network import build_network

    torch.manual_seed(seed)
    cfg = load_config(None, [f"model.input_size={SIZE}", "model.hand_model=open", "model.head_hidden=64"])
    net = build_network(cfg.model)
    with torch.no_grad():
        for dec in (net.head.dec_pose, net.head.dec_betas, net.head.dec_cam):
            torch.nn.init.xavier_uniform_(dec.weight, gain=3.0)
    return net


@pytest.fixture(scope="session")
def network() -> torch.nn.Module:
    net = make_network()
    net.train()
    with torch.no_grad():  # BatchNorm statistics away from their initial values
        for seed in range(2):
            net(structured_crops(4, seed))
    return net.eval()


@pytest.fixture(scope="session")
def checkpoint(network: torch.nn.Module, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from handmesh.network import save_network

    return save_network(network, tmp_path_factory.mktemp("ckpt") / "t8_64.pt")


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.nn.Module]:
    """A network trained for 3 AdamW steps (vertices and 2D keypoints towards fixed targets), saved with EMA
    weights; returns the checkpoint and the EMA network that export must reproduce."""
    import copy

    from handmesh.network import make_checkpoint
    from handmesh.utils.atomic import atomic_torch_save

    net = make_network(seed=1)
    initial = copy.deepcopy(net.state_dict())
    ema = copy.deepcopy(net).eval()
    opt = torch.optim.AdamW(net.parameters(), lr=2e-4)
    net.train()
    x = structured_crops(2, seed=11)
    target_v = 0.05 * torch.randn(2, 778, 3, generator=torch.Generator().manual_seed(2))
    for _ in range(3):
        out = net(x)
        loss = (out.vertices - target_v).pow(2).mean() + out.joints2d.pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            for e, p in zip(ema.state_dict().values(), net.state_dict().values()):
                if e.is_floating_point():
                    e.mul_(0.5).add_(0.5 * p)
                else:
                    e.copy_(p)
    net.eval()
    moved = max(float((net.state_dict()[k] - v).abs().max()) for k, v in initial.items() if v.is_floating_point())
    assert moved > 1e-4, "training did not change the weights"
    path = tmp_path_factory.mktemp("trained") / "trained.pt"
    atomic_torch_save(path, make_checkpoint(net, ema_state=ema.state_dict(), step=3, epoch=0))
    return path, ema


@pytest.fixture(scope="session")
def make_crops():
    """``make_crops(batch, seed)``: structured normalized crops (see :func:`structured_crops`)."""
    return structured_crops


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv("HANDMESH_CACHE_DIR", str(d))
    return d
