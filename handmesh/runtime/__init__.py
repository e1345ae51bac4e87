"""One way to run a trained hand mesh network, whatever it was saved as and wherever it runs.

    from handmesh.api import load_runtime                # exports a checkpoint on demand (cached)
    rt = load_runtime("runs/t8/best.pt")                 # backend="auto": the fastest this machine has
    print(rt.describe())                                  # which backend, device, threads, and why
    out = rt(rt.normalize(crops_uint8))                   # (B, S, S, 3) uint8 RGB -> RuntimeOutput (numpy, float32)
    out.vertices, out.joints, rt.faces                    # (B, V, 3) metres, (B, 21, 3) metres, (F, 3) int32

Backends: ``torch`` (CPU, CUDA, MPS; float16 and channels-last on CUDA; optional torch.compile and CUDA graphs),
``onnxruntime`` (CUDA / Core ML / CPU providers), ``torchscript``, ``coreml`` (macOS), declared as one table
(``BACKEND_TABLE`` in loader.py). From a checkpoint, the ONNX and TorchScript backends run an export that the caller's
``exporter`` makes: :func:`handmesh.api.load_runtime` exports once and caches (``$HANDMESH_CACHE_DIR`` or
``~/.cache/handmesh``); this package itself only reads artefacts (:mod:`handmesh.artefact`) and never writes them.

Where things are:
    loader.py               BACKEND_TABLE, load_runtime, available_backends, the "auto" choice
    base.py                 Runtime (the interface: checks, normalize, resize, batch splitting), RuntimeOutput
    torch_backend.py        TorchRuntime
    onnx_backend.py         OnnxRuntime, onnx_providers
    torchscript_backend.py  TorchScriptRuntime
    coreml_backend.py       CoreMLRuntime
"""

from handmesh.runtime.base import Runtime, RuntimeOutput
from handmesh.runtime.loader import BACKEND_TABLE, BACKENDS, available_backends, detect_source, load_runtime

__all__ = [
    "BACKENDS",
    "BACKEND_TABLE",
    "Runtime",
    "RuntimeOutput",
    "available_backends",
    "detect_source",
    "load_runtime",
]
