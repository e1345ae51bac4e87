"""Both forms of T8 and SA12 (the attention stage matters) trace with TorchScript and export to ONNX."""

from __future__ import annotations

import warnings

import pytest
import torch

# Deprecation notices about the tracer and the TorchScript-based ONNX exporter are not about this code.
pytestmark = [
    pytest.mark.filterwarnings("ignore:`torch.jit.trace:FutureWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:torch.onnx"),
    pytest.mark.filterwarnings("ignore:You are using the legacy TorchScript-based ONNX export:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The feature will be removed:DeprecationWarning"),
]
TOL = dict(rtol=1e-4, atol=1e-5)
CASES = [(v, f) for v in ("fastvit_t8", "fastvit_sa12") for f in ("train", "fused")]


@pytest.mark.parametrize("variant,form", CASES)
def test_torchscript_trace(variant, form, get_models):
    m = get_models(variant)
    model = getattr(m, form)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("error", torch.jit.TracerWarning)  # a warning here means shape-specialised code
        traced = torch.jit.trace(model, m.x[:1], check_trace=False)
        torch.testing.assert_close(traced(m.x), model(m.x), **TOL)


@pytest.mark.parametrize("variant,form", CASES)
def test_onnx_export_runs_in_onnxruntime(variant, form, get_models, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    m = get_models(variant)
    model = getattr(m, form)
    path = tmp_path / f"{variant}_{form}.onnx"
    with torch.no_grad():
        torch.onnx.export(
            model,
            (m.x[:1],),
            str(path),
            dynamo=False,
            input_names=["image"],
            output_names=["logits"],
            dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=17,
        )
        expected = model(m.x).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"image": m.x.numpy()})
    torch.testing.assert_close(torch.from_numpy(got), torch.from_numpy(expected), **TOL)
