"""Round trip per format on the CPU: export, load with the runtime, compare with PyTorch (reparameterized, float32);
an untrained and a trained network; metadata survives; the graph's names and shapes are the documented ones."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from handmesh.api import load_runtime
from handmesh.artefact.metadata import OUTPUT_NAMES
from handmesh.export import export_model
from handmesh.export.api import read_metadata
from handmesh.export.graph import prepare_network

SIZE = 64
VERTEX_TOL_M = 1e-4
FORMATS = {"onnx": "onnxruntime", "torchscript": "torchscript"}


def _reference(net: torch.nn.Module, crops: torch.Tensor) -> dict[str, np.ndarray]:
    with torch.no_grad():
        out = prepare_network(net)(crops)
    return {k: getattr(out, k).numpy() for k in OUTPUT_NAMES}


def _check_against(rt, net: torch.nn.Module, crops: torch.Tensor) -> float:
    ref = _reference(net, crops)
    # The crops must change the vertices well beyond the tolerance, or agreement would prove nothing.
    assert np.abs(ref["vertices"][0] - ref["vertices"][1]).max() > 5 * VERTEX_TOL_M
    out = rt(crops.numpy())
    for name in OUTPUT_NAMES:
        assert getattr(out, name).shape == ref[name].shape, name
    err = float(np.abs(out.vertices - ref["vertices"]).max())
    assert err <= VERTEX_TOL_M
    np.testing.assert_allclose(out.joints, ref["joints"], atol=VERTEX_TOL_M, rtol=0)
    np.testing.assert_allclose(out.rotmats, ref["rotmats"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(out.joints2d, ref["joints2d"], atol=1e-3, rtol=0)
    return err


@pytest.fixture(scope="session")
def exported(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The untrained checkpoint exported (and checked) once per format."""
    pytest.importorskip("onnxruntime")
    folder = tmp_path_factory.mktemp("exports")
    return {fmt: export_model(checkpoint, fmt, folder / f"model.{fmt}") for fmt in FORMATS}


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_export_load_compare(fmt: str, exported: dict, network, make_crops) -> None:
    result = exported[fmt]
    assert result.parity.checked and result.parity.passed
    assert result.parity.max_abs["vertices"] <= VERTEX_TOL_M and result.parity.batch == 2
    assert "parity with PyTorch" in result.summary() and ": ok" in result.summary()
    rt = load_runtime(result.path, backend=FORMATS[fmt], device="cpu")
    _check_against(rt, network, make_crops(3, 21))


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_trained_network_round_trip_uses_its_ema_weights(fmt: str, trained, make_crops, tmp_path: Path) -> None:
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
    path, ema_net = trained
    result = export_model(path, fmt, tmp_path / f"trained.{fmt}")
    assert result.parity.passed
    assert result.metadata.source["step"] == 3 and result.metadata.source["ema"] is True
    _check_against(load_runtime(result.path, backend=FORMATS[fmt]), ema_net, make_crops(3, 22))


def test_metadata_round_trips(exported: dict, checkpoint: Path, network) -> None:
    from handmesh.artefact.describe import file_sha256
    from handmesh.hand_model.model import model_fingerprint

    for fmt, result in exported.items():
        meta = read_metadata(result.path)
        assert meta.artefact == fmt
        assert (meta.variant, meta.input_size, meta.hand_model, meta.side) == ("fastvit_t8", SIZE, "open", "right")
        assert meta.mean == tuple(network.mean) and meta.std == tuple(network.std)
        np.testing.assert_array_equal(meta.faces, network.hand_model.faces.numpy())
        assert meta.faces.dtype == np.int32 and meta.num_vertices == 778
        assert meta.hand_model_sha256 == model_fingerprint(network.hand_model)
        assert meta.source["sha256"] == file_sha256(checkpoint) and meta.source["checkpoint"] == checkpoint.name
        assert meta.batch is None and meta.precision == "fp32"
        assert meta.to_dict() == result.metadata.to_dict()
        assert meta.to_dict()["outputs"][3] == {"name": "vertices", "shape": ["batch", 778, 3], "dtype": "float32"}


def test_onnx_graph_names_and_shapes(exported: dict) -> None:
    onnx = pytest.importorskip("onnx")
    graph = onnx.load(str(exported["onnx"].path)).graph

    def dims(value_info) -> list:
        return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]

    assert [i.name for i in graph.input] == ["image"]
    assert dims(graph.input[0]) == ["batch", 3, SIZE, SIZE]
    assert [o.name for o in graph.output] == list(OUTPUT_NAMES)
    assert dims(graph.output[3])[0] == "batch"
    assert not any(init.name.endswith("rbr_skip.weight") or "conv_kxk" in init.name for init in graph.initializer), (
        "train-time branches left in the graph: the export must be reparameterized"
    )


def test_fixed_batch_half_precision_onnx(checkpoint: Path, network, tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    result = export_model(checkpoint, "onnx", tmp_path / "b2.fp16.onnx", batch=2, fp16=True)
    model = onnx.load(str(result.path))
    shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert shape == [2, 3, SIZE, SIZE]
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT  # float32 in and out
    assert any(i.data_type == onnx.TensorProto.FLOAT16 for i in model.graph.initializer)
    assert result.metadata.precision == "fp16" and result.metadata.batch == 2
    if result.parity.checked:  # ONNX Runtime builds without CPU float16 kernels say so instead
        assert result.parity.passed and result.parity.tolerance_m == 5e-3
    rt = load_runtime(result.path)
    assert rt.fixed_batch == 2
    assert rt(np.zeros((3, 3, SIZE, SIZE), np.float32)).vertices.shape == (3, 778, 3)


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "darwin", reason="on macOS the numerical check runs instead")
def test_coreml_converts_and_validates_off_macos(checkpoint: Path, tmp_path: Path) -> None:
    pytest.importorskip("coremltools")
    from handmesh.errors import BackendUnavailableError
    from handmesh.export import inspect_coreml

    result = export_model(checkpoint, "coreml", tmp_path / "hand.mlpackage")
    assert result.path.is_dir() and (result.path / "Manifest.json").is_file()
    assert not result.parity.checked and result.parity.passed is None
    assert "only on macOS" in result.parity.note and "validated" in result.parity.note
    meta = inspect_coreml(result.path)
    assert meta.artefact == "coreml" and meta.input_size == SIZE and meta.faces.shape == (1552, 3)
    assert read_metadata(result.path).to_dict() == result.metadata.to_dict()
    with pytest.raises(BackendUnavailableError, match="only on macOS"):
        load_runtime(result.path)
    again = export_model(checkpoint, "coreml", result.path, verify=False)  # replaces the package in place
    assert again.path == result.path and inspect_coreml(result.path).artefact == "coreml"
    assert [p.name for p in tmp_path.iterdir()] == ["hand.mlpackage"]  # no staging folders left


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "darwin", reason="Core ML predicts only on macOS")
def test_coreml_parity_on_macos(checkpoint: Path, network, make_crops, tmp_path: Path) -> None:
    pytest.importorskip("coremltools")
    result = export_model(checkpoint, "coreml", tmp_path / "hand.mlpackage")
    assert result.parity.checked and result.parity.passed
    _check_against(load_runtime(result.path, device="cpu"), network, make_crops(3, 23))
