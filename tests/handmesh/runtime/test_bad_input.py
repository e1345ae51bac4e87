"""Bad input to ``load_runtime``: files that are not ours or are damaged, backends that cannot run a source,
Core ML prediction off macOS, unknown options. Every error is a HandmeshError that names the file and the problem."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from handmesh.api import load_runtime
from handmesh.errors import BackendUnavailableError, CheckpointError, ConfigError, MissingFileError

# The tracer and the TorchScript-based ONNX exporter announce their own deprecation when these tests make foreign files.
pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match=r"nope\.pt does not exist"):
        load_runtime(tmp_path / "nope.pt")


@pytest.mark.parametrize("backend", ["auto", "torch"])
def test_truncated_checkpoint_is_named(checkpoint: Path, tmp_path: Path, backend: str) -> None:
    bad = tmp_path / "truncated.pt"
    bad.write_bytes(checkpoint.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match=r"truncated\.pt.*(corrupt|truncated)"):
        load_runtime(bad, backend=backend, device="cpu")


def test_someone_elses_torch_file_is_named(tmp_path: Path) -> None:
    other = tmp_path / "imagenet.pt"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, other)
    with pytest.raises(CheckpointError, match=r"imagenet\.pt is not a handmesh checkpoint"):
        load_runtime(other, device="cpu")


def test_checkpoint_without_weights_is_named(checkpoint: Path, tmp_path: Path) -> None:
    ckpt = torch.load(checkpoint, weights_only=True)
    del ckpt["model"]
    bad = tmp_path / "no_model.pt"
    torch.save(ckpt, bad)
    with pytest.raises(CheckpointError, match=r"no_model\.pt lacks its 'model' entry"):
        load_runtime(bad, backend="torch", device="cpu")


def test_garbage_onnx_is_named(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    bad = tmp_path / "garbage.onnx"
    bad.write_bytes(b"\x08\x07 this is not a protobuf model" * 10)
    with pytest.raises(CheckpointError, match=r"cannot load ONNX model .*garbage\.onnx"):
        load_runtime(bad)


def test_onnx_without_our_metadata_is_named(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    path = tmp_path / "plain.onnx"
    with torch.no_grad():
        torch.onnx.export(
            torch.nn.Conv2d(3, 4, 3),
            (torch.randn(1, 3, 8, 8),),
            str(path),
            dynamo=False,
            input_names=["image"],
            output_names=["out"],
            opset_version=17,
        )
    with pytest.raises(CheckpointError, match=r"plain\.onnx has no handmesh metadata.*handmesh-export"):
        load_runtime(path)


def test_onnx_with_damaged_metadata_is_named(onnx_file: Path, tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    model = onnx.load(str(onnx_file))
    for p in model.metadata_props:
        if p.key == "handmesh":
            p.value = p.value.replace('"input_size"', '"input_sise"')
    bad = tmp_path / "edited.onnx"
    onnx.save(model, str(bad))
    with pytest.raises(CheckpointError, match=r"edited\.onnx: its handmesh metadata lacks input_size"):
        load_runtime(bad)


def test_torchscript_without_our_metadata_is_named(tmp_path: Path) -> None:
    path = tmp_path / "other.ts"
    torch.jit.save(torch.jit.trace(torch.nn.Conv2d(3, 4, 3), torch.randn(1, 3, 8, 8)), str(path))
    with pytest.raises(CheckpointError, match=r"other\.ts has no handmesh metadata"):
        load_runtime(path)


def test_backend_that_cannot_run_the_source(onnx_file: Path, checkpoint: Path) -> None:
    with pytest.raises(ConfigError, match=r"backend 'torch' cannot run .*\.onnx \(an ONNX export\).*'onnxruntime'"):
        load_runtime(onnx_file, backend="torch")
    with pytest.raises(ConfigError, match="backend 'tensorrt'"):
        load_runtime(checkpoint, backend="tensorrt")


def test_unknown_option_lists_the_accepted_ones(checkpoint: Path) -> None:
    with pytest.raises(ConfigError, match=r"takes no option 'halve'.*half"):
        load_runtime(checkpoint, backend="torch", device="cpu", halve=True)


def test_unavailable_device_is_a_clear_error(checkpoint: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(BackendUnavailableError, match="CUDA is not available"):
        load_runtime(checkpoint, backend="torch", device="cuda")
    with pytest.raises(ConfigError, match="float16 inference is for CUDA"):
        load_runtime(checkpoint, backend="torch", device="cpu", half=True)


@pytest.mark.skipif(sys.platform == "darwin", reason="Core ML predicts on macOS")
def test_coreml_prediction_off_macos_says_so(tmp_path: Path) -> None:
    package = tmp_path / "hand.mlpackage"
    package.mkdir()
    (package / "Manifest.json").write_text("{}")
    with pytest.raises(BackendUnavailableError, match=r"Core ML predicts only on macOS.*onnxruntime"):
        load_runtime(package)
