"""The torch backend's accelerated paths: float16 autocast and channels-last on CUDA, CUDA graphs, torch.compile,
and TorchScript traced on CUDA. Marked ``gpu`` (skipped without CUDA) or ``slow`` (torch.compile builds kernels)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from handmesh.api import load_runtime

FP16_TOL_M = 5e-3  # an encoder in float16 moves vertices by millimetres at most (see handmesh.export.verify)


@pytest.mark.gpu
def test_cuda_defaults_to_fp16_channels_last_and_agrees(checkpoint: Path, crops, reference) -> None:
    rt = load_runtime(checkpoint, backend="torch", device="cuda")
    assert rt.half and rt.channels_last and "fp16 autocast" in rt.describe()
    out = rt(crops.numpy())
    assert out.vertices.dtype == np.float32
    np.testing.assert_allclose(out.vertices, reference.vertices.numpy(), atol=FP16_TOL_M, rtol=0)
    exact = load_runtime(checkpoint, backend="torch", device="cuda", half=False, channels_last=False)
    np.testing.assert_allclose(exact(crops).vertices, reference.vertices.numpy(), atol=1e-4, rtol=0)


@pytest.mark.gpu
def test_cuda_graphs_replay_with_new_inputs(checkpoint: Path, crops) -> None:
    plain = load_runtime(checkpoint, backend="torch", device="cuda", half=False)
    graphs = load_runtime(checkpoint, backend="torch", device="cuda", half=False, cuda_graphs=True)
    for batch in (crops[:1], crops[1:3], crops[2:3]):  # batch 1 captured, batch 2 captured, batch 1 replayed
        np.testing.assert_allclose(graphs(batch).vertices, plain(batch).vertices, atol=1e-5, rtol=0)
    assert sorted(graphs._graphs) == [1, 2]


@pytest.mark.gpu
def test_torchscript_traced_on_cuda(checkpoint: Path, tmp_path: Path, crops, reference) -> None:
    from handmesh.export import export_torchscript

    result = export_torchscript(checkpoint, tmp_path / "cuda.ts", device="cuda")
    assert result.parity.passed
    rt = load_runtime(result.path)  # auto: the device it was traced on
    assert rt.device.startswith("cuda")
    np.testing.assert_allclose(rt(crops).vertices, reference.vertices.numpy(), atol=1e-4, rtol=0)


@pytest.mark.slow
def test_torch_compile_agrees(checkpoint: Path, crops, reference) -> None:
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("torch.compile on the CPU needs a C compiler")
    rt = load_runtime(checkpoint, backend="torch", device="cpu", compile=True)
    assert "torch.compile" in rt.describe()
    np.testing.assert_allclose(rt(crops).vertices, reference.vertices.numpy(), atol=1e-4, rtol=0)
