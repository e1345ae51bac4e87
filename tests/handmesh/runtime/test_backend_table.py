"""The backends are one table: a runtime that only reads artefacts, and a new backend that is one file and one row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from handmesh.errors import ConfigError
from handmesh.runtime import loader
from handmesh.runtime.loader import BACKEND_TABLE, BACKENDS, Backend, available_backends, load_runtime


def test_every_row_names_a_runtime_that_says_it_is_that_backend() -> None:
    import importlib

    from handmesh.runtime.base import Runtime

    for row in BACKEND_TABLE:
        module, _, name = row.runtime.partition(":")
        runtime = getattr(importlib.import_module(module), name)
        assert issubclass(runtime, Runtime) and runtime.backend == row.name and callable(runtime.load), row
        assert row.export_to is None or row.export_to in row.runs  # it runs what a checkpoint is exported to
    assert set(available_backends()) <= set(BACKENDS)
    assert "torch" in available_backends() and "torchscript" in available_backends()


def test_without_an_exporter_a_checkpoint_runs_on_torch_only(checkpoint: Path, crops, reference) -> None:
    with pytest.raises(ConfigError, match=r"handmesh-export --format onnx.*handmesh\.api\.load_runtime"):
        load_runtime(checkpoint, backend="onnxruntime")
    rt = load_runtime(checkpoint, device="cpu")  # auto, with nothing to export with: PyTorch
    assert rt.backend == "torch" and "handmesh.api.load_runtime" in rt.note
    assert np.abs(rt(crops).vertices - reference.vertices.numpy()).max() < 1e-4


def test_the_exporter_is_called_with_the_export_settings(checkpoint: Path, onnx_file: Path) -> None:
    calls = []

    def exporter(source, fmt, **settings):
        calls.append((Path(source), fmt, settings))
        return onnx_file

    rt = load_runtime(checkpoint, backend="onnxruntime", exporter=exporter, use_ema=False, fp16=False)
    assert rt.backend == "onnxruntime" and Path(rt.artefact) == onnx_file
    assert calls == [(checkpoint, "onnx", {"fp16": False, "use_ema": False, "mano_dir": None, "root": None})]


def test_a_new_backend_is_one_row(monkeypatch: pytest.MonkeyPatch, onnx_file: Path, crops, reference) -> None:
    """A row naming a Runtime class in any module is all the loader needs: options, kinds and errors follow."""
    row = Backend(
        "ort-twin",
        "handmesh.runtime.onnx_backend:OnnxRuntime",
        runs=("onnx",),
        requires=("onnxruntime",),
        options=frozenset({"resize", "spin"}),
    )
    table = (*BACKEND_TABLE, row)
    monkeypatch.setattr(loader, "BACKEND_TABLE", table)
    monkeypatch.setattr(loader, "_BY_NAME", {b.name: b for b in table})
    monkeypatch.setattr(loader, "BACKENDS", tuple(b.name for b in table))
    assert "ort-twin" in loader.available_backends()
    rt = load_runtime(onnx_file, backend="ort-twin", threads=1)
    assert np.abs(rt(crops).vertices - reference.vertices.numpy()).max() < 1e-4
    with pytest.raises(ConfigError, match="takes no option 'providers'"):
        load_runtime(onnx_file, backend="ort-twin", providers=["CPUExecutionProvider"])
