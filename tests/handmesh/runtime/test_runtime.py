"""``handmesh.runtime``: every backend gives PyTorch's outputs (reparameterized, float32) through one interface;
``auto`` exports once to the cache and reuses it; batches, resizing and normalization behave as documented."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from handmesh.api import load_runtime
from handmesh.errors import ConfigError
from handmesh.runtime import RuntimeOutput, available_backends, detect_source

SIZE = 64
SHAPES = {
    "rotmats": (16, 3, 3),
    "betas": (10,),
    "cam": (3,),
    "vertices": (778, 3),
    "joints": (21, 3),
    "joints2d": (21, 2),
}
VERTEX_TOL_M = 1e-4


def _assert_matches(out: RuntimeOutput, ref, atol: float = VERTEX_TOL_M) -> None:
    assert isinstance(out, RuntimeOutput)
    for name, shape in SHAPES.items():
        got = getattr(out, name)
        assert got.dtype == np.float32 and got.shape == (ref.vertices.shape[0], *shape), name
        np.testing.assert_allclose(got, getattr(ref, name).numpy(), atol=atol, rtol=0, err_msg=name)


def test_torch_backend_is_the_reparameterized_network(checkpoint: Path, network, crops, reference) -> None:
    rt = load_runtime(checkpoint, backend="torch", device="cpu")
    assert rt.backend == "torch" and "reparameterized" in rt.describe()
    assert (rt.input_size, rt.hand_model, rt.num_vertices) == (SIZE, "open", 778)
    assert rt.mean == tuple(network.mean) and rt.std == tuple(network.std)
    assert rt.faces.dtype == np.int32 and rt.faces.shape[1] == 3
    np.testing.assert_array_equal(rt.faces, network.hand_model.faces.numpy())
    _assert_matches(rt(crops.numpy()), reference, atol=1e-5)
    _assert_matches(rt(crops), reference, atol=1e-5)  # torch tensors too


def test_torch_backend_train_time_form_agrees(checkpoint: Path, crops, reference) -> None:
    rt = load_runtime(checkpoint, backend="torch", device="cpu", reparameterize=False)
    assert "train-time" in rt.describe()
    _assert_matches(rt(crops), reference)


@pytest.mark.parametrize("backend,artefact", [("onnxruntime", "onnx_file"), ("torchscript", "torchscript_file")])
def test_artefact_backends_match_pytorch(backend: str, artefact: str, request, crops, reference) -> None:
    if backend == "onnxruntime":
        pytest.importorskip("onnxruntime")
    path = request.getfixturevalue(artefact)
    rt = load_runtime(path, threads=1)  # auto: the one backend for the file
    assert rt.backend == backend and "auto" in rt.describe()
    assert rt.input_size == SIZE and rt.faces.shape == (1552, 3) and rt.num_vertices == 778
    _assert_matches(rt(crops.numpy()), reference)
    _assert_matches(rt(crops[:1].numpy()), _first(reference))
    empty = rt(crops[:0].numpy())
    assert empty.vertices.shape == (0, 778, 3) and empty.joints2d.shape == (0, 21, 2)


def _first(ref):
    from handmesh.network import HandMeshOutput

    return HandMeshOutput(**{k: getattr(ref, k)[:1] for k in SHAPES})


def test_auto_from_a_checkpoint_exports_once_and_reuses_the_cache(
    checkpoint: Path, cache_dir: Path, tmp_path: Path, crops, reference
) -> None:
    pytest.importorskip("onnxruntime")
    rt = load_runtime(checkpoint, device="cpu")
    assert rt.backend == "onnxruntime"
    assert rt.source == checkpoint and rt.artefact.parent == cache_dir / "exports"
    assert "exported from" in rt.describe() and "auto:" in rt.describe()
    _assert_matches(rt(crops.numpy()), reference)
    cached = rt.artefact
    stamp = cached.stat().st_mtime_ns
    # The key is the file's content: a copy under another name hits the same export, nothing is written.
    copy = tmp_path / "renamed.pt"
    shutil.copy(checkpoint, copy)
    again = load_runtime(copy, device="cpu")
    assert again.artefact == cached and cached.stat().st_mtime_ns == stamp
    assert sorted(p.name for p in (cache_dir / "exports").iterdir()) == [cached.name]  # no temporary files left


def test_damaged_cache_entry_is_exported_again(checkpoint: Path, crops, reference) -> None:
    pytest.importorskip("onnxruntime")
    cached = load_runtime(checkpoint, backend="onnxruntime").artefact
    cached.write_bytes(cached.read_bytes()[:1000])
    rt = load_runtime(checkpoint, backend="onnxruntime")
    _assert_matches(rt(crops.numpy()), reference)


def test_fixed_batch_artefacts_split_and_pad(checkpoint: Path, tmp_path: Path, crops, reference) -> None:
    pytest.importorskip("onnxruntime")
    from handmesh.export import export_onnx

    path = export_onnx(checkpoint, tmp_path / "b2.onnx", batch=2, verify=False).path
    rt = load_runtime(path)
    assert rt.fixed_batch == 2
    _assert_matches(rt(crops.numpy()), reference)  # 3 crops: one batch of 2, one padded to 2


def test_normalize_uint8_crops(checkpoint: Path) -> None:
    rt = load_runtime(checkpoint, backend="torch", device="cpu")
    rgb = np.random.default_rng(0).integers(0, 256, (2, SIZE, SIZE, 3), dtype=np.uint8)
    x = rt.normalize(rgb)
    assert x.shape == (2, 3, SIZE, SIZE) and x.dtype == np.float32
    expected = (rgb[1, 5, 9] / 255.0 - np.array(rt.mean)) / np.array(rt.std)
    np.testing.assert_allclose(x[1, :, 5, 9], expected, rtol=1e-5)
    assert rt.normalize(rgb[0]).shape == (1, 3, SIZE, SIZE)


def test_crops_of_another_size_raise_or_resize(checkpoint: Path) -> None:
    rt = load_runtime(checkpoint, backend="torch", device="cpu")
    big = torch.randn(2, 3, 2 * SIZE, 2 * SIZE, generator=torch.Generator().manual_seed(3))
    with pytest.raises(ConfigError, match=r"128x128 pixels but the model \(.*\) takes 64x64.*resize=True"):
        rt(big.numpy())
    resized = torch.nn.functional.interpolate(big, size=(SIZE, SIZE), mode="bilinear", antialias=True)
    out = rt(big.numpy(), resize=True)
    np.testing.assert_allclose(out.vertices, rt(resized).vertices, atol=1e-6)
    assert load_runtime(checkpoint, backend="torch", device="cpu", resize=True)(big).vertices.shape == (2, 778, 3)
    with pytest.raises(ConfigError, match="square"):
        rt(np.zeros((1, 3, SIZE, SIZE + 32), np.float32), resize=True)


@pytest.mark.parametrize(
    "bad,match",
    [
        (np.zeros((2, SIZE, SIZE, 3), np.uint8), r"\(B, 3, S, S\).*normalize"),
        (np.zeros((2, 3, SIZE, SIZE), np.uint8), "dtype uint8"),
        (np.zeros((SIZE, SIZE), np.float32), r"\(B, 3, S, S\)"),
    ],
)
def test_malformed_crops_are_named(checkpoint: Path, bad: np.ndarray, match: str) -> None:
    rt = load_runtime(checkpoint, backend="torch", device="cpu")
    with pytest.raises(ConfigError, match=match):
        rt(bad)


def test_output_indexing_keeps_the_batch_axis(checkpoint: Path, crops) -> None:
    out = load_runtime(checkpoint, backend="torch", device="cpu")(crops)
    assert out.batch_size == 3 and out[1].batch_size == 1 and out[-1].batch_size == 1
    np.testing.assert_array_equal(out[-1].vertices, out.vertices[2:])
    assert out[0:2].joints.shape == (2, 21, 3)


def test_available_backends_and_source_detection(
    checkpoint: Path, onnx_file: Path, torchscript_file: Path, tmp_path: Path
) -> None:
    backends = available_backends()
    assert backends[0] == "torch" and "torchscript" in backends and "onnxruntime" in backends
    assert detect_source(checkpoint) == "checkpoint"
    assert detect_source(onnx_file) == "onnx"
    assert detect_source(torchscript_file) == "torchscript"
    renamed = tmp_path / "model.pt"  # a TorchScript file is recognised by content, not name
    shutil.copy(torchscript_file, renamed)
    assert detect_source(renamed) == "torchscript"
    assert load_runtime(renamed).backend == "torchscript"


def test_in_memory_network(network, crops, reference) -> None:
    rt = load_runtime(network, device="cpu")
    assert rt.backend == "torch"
    _assert_matches(rt(crops), reference, atol=1e-5)
    assert not network.inference_mode  # the caller's network is not fused behind its back


def test_onnx_threads_sleep_between_runs_unless_asked_to_spin(onnx_file: Path, crops, reference) -> None:
    pytest.importorskip("onnxruntime")
    quiet = load_runtime(onnx_file, threads=1)
    busy = load_runtime(onnx_file, threads=1, spin=True)
    key = "session.intra_op.allow_spinning"
    assert quiet.session.get_session_options().get_session_config_entry(key) == "0"
    with pytest.raises(RuntimeError):  # not set: ONNX Runtime's default, spinning
        busy.session.get_session_options().get_session_config_entry(key)
    _assert_matches(busy(crops.numpy()), reference)
    _assert_matches(quiet(crops.numpy()), reference)
