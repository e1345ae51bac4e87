"""A small network (T8, 64 px, the shipped open hand) saved as a checkpoint, and its exports, made once per session;
every test gets its own export cache folder."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from handmesh.export.verify import verification_crops

SIZE = 64


def make_network(seed: int = 0) -> torch.nn.Module:
    """T8 at 64 px with a small head, BatchNorm statistics away from their initial values, and the head's decoders at
    the scale of a trained head (their 0.01-gain initialisation makes the output nearly independent of the crop,
    which would make every parity check pass trivially)."""
    from handmesh.config import load_config
    from handmesh.network import build_network

    torch.manual_seed(seed)
    cfg = load_config(None, [f"model.input_size={SIZE}", "model.hand_model=open", "model.head_hidden=64"])
    net = build_network(cfg.model)
    net.train()
    with torch.no_grad():
        for _ in range(2):
            net(torch.randn(4, 3, SIZE, SIZE))
        for dec in (net.head.dec_pose, net.head.dec_betas, net.head.dec_cam):
            torch.nn.init.xavier_uniform_(dec.weight, gain=3.0)
    return net.eval()


@pytest.fixture(scope="session")
def network() -> torch.nn.Module:
    return make_network()


@pytest.fixture(scope="session")
def checkpoint(network: torch.nn.Module, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from handmesh.network import save_network

    return save_network(network, tmp_path_factory.mktemp("ckpt") / "t8_64.pt")


@pytest.fixture(scope="session")
def onnx_file(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("onnxruntime")
    from handmesh.export import export_onnx

    return export_onnx(checkpoint, tmp_path_factory.mktemp("onnx") / "t8_64.onnx", verify=False).path


@pytest.fixture(scope="session")
def torchscript_file(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from handmesh.export import export_torchscript

    return export_torchscript(checkpoint, tmp_path_factory.mktemp("ts") / "t8_64.ts", verify=False).path


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Exports made on demand go to a fresh folder, never to the user's ~/.cache."""
    d = tmp_path / "cache"
    monkeypatch.setenv("HANDMESH_CACHE_DIR", str(d))
    return d


def structured_crops(batch: int, seed: int) -> torch.Tensor:
    """Normalized crops with image-like structure at the test size (the export check's own crops)."""
    return verification_crops(SIZE, batch, seed)


@pytest.fixture(scope="session")
def crops() -> torch.Tensor:
    return structured_crops(3, seed=7)


@pytest.fixture(scope="session")
def reference(network: torch.nn.Module, crops: torch.Tensor):
    """PyTorch reparameterized outputs on ``crops``."""
    from handmesh.export.graph import prepare_network

    with torch.no_grad():
        out = prepare_network(network)(crops)
    # The crops must matter far more than the parity tolerance, or matching PyTorch would prove nothing.
    assert float((out.vertices[0] - out.vertices[1]).abs().max()) > 1e-3
    return out
