"""``load_runtime``: any checkpoint or exported artefact, on any backend this machine has.

Sources and the backends that run them:

==============================  ==========================================================================
checkpoint (``.pt``)            ``torch``; ``onnxruntime`` and ``torchscript`` through an export made once
                                and cached (see :mod:`handmesh.export.cache`)
ONNX (``.onnx``)                ``onnxruntime``
TorchScript (``.ts``)           ``torchscript``
Core ML (``.mlpackage``)        ``coreml`` (macOS)
==============================  ==========================================================================

The kind of a file is read from its content, not its name (a TorchScript file named ``.pt`` is recognised).

``backend="auto"`` picks, for a checkpoint: on a CPU, ONNX Runtime when onnx and onnxruntime are installed (about
2x faster than eager PyTorch on FastViT), else PyTorch reparameterized; on CUDA or MPS, PyTorch (float16 autocast
and channels-last on CUDA). For an artefact it picks the one backend that runs it. ``rt.backend`` says which was
chosen and ``rt.describe()`` why.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import zipfile
from pathlib import Path
from typing import Any

from handmesh.errors import BackendUnavailableError, CheckpointError, ConfigError, MissingFileError
from handmesh.runtime.base import Runtime

__all__ = ["BACKENDS", "available_backends", "detect_source", "load_runtime"]

BACKENDS = ("torch", "onnxruntime", "torchscript", "coreml")
_RUNS = {"checkpoint": ("torch", "onnxruntime", "torchscript"), "onnx": ("onnxruntime",),
         "torchscript": ("torchscript",), "coreml": ("coreml",), "network": ("torch",)}
_KIND = {"checkpoint": "a handmesh checkpoint", "onnx": "an ONNX export", "torchscript": "a TorchScript export",
         "coreml": "a Core ML package", "network": "an in-memory network"}
_OPTIONS = {
    "torch": {"use_ema", "mano_dir", "reparameterize", "half", "channels_last", "compile", "cuda_graphs", "resize"},
    "onnxruntime": {"providers", "resize", "use_ema", "mano_dir", "fp16", "cache_dir", "spin"},
    "torchscript": {"resize", "use_ema", "mano_dir", "fp16", "cache_dir"},
    "coreml": {"compute_units", "resize"},
}


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def available_backends() -> list[str]:
    """Backends that can run on this machine, in :data:`BACKENDS` order (``torch`` and ``torchscript`` always;
    ``onnxruntime`` when installed; ``coreml`` on macOS with coremltools)."""
    out = ["torch"]
    if _installed("onnxruntime"):
        out.append("onnxruntime")
    out.append("torchscript")
    if sys.platform == "darwin" and _installed("coremltools"):
        out.append("coreml")
    return out


def detect_source(path: str | os.PathLike) -> str:
    """What ``path`` holds: ``"checkpoint"``, ``"onnx"``, ``"torchscript"`` or ``"coreml"``.

    Raises:
        MissingFileError: no such file or folder.
        CheckpointError: none of these (the message names the file and what is accepted).
    """
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"model {path} does not exist (expected a handmesh checkpoint .pt, or an export: "
                               ".onnx, .ts, .mlpackage)")
    if path.is_dir():
        if path.suffix == ".mlpackage" or (path / "Manifest.json").is_file():
            return "coreml"
        raise CheckpointError(f"{path} is a folder but not a Core ML package (no Manifest.json)")
    if path.suffix.lower() == ".onnx":
        return "onnx"
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, OSError) as e:
            raise CheckpointError(f"{path}: unreadable archive ({e})") from e
        if any(n.endswith("/constants.pkl") or n.endswith("/code/__torch__.py") or "/code/__torch__/" in n
               for n in names):
            return "torchscript"
        return "checkpoint"  # read_checkpoint says whether it is ours
    if path.suffix.lower() in (".pt", ".pth", ".ckpt", ".bin", ".ts", ".pt2"):
        return "checkpoint"  # not a zip: read_checkpoint reports it as corrupt or not ours, naming the file
    head = path.read_bytes()[:64]
    if head[:1] == b"\x08":  # protobuf field 1 varint: how every ONNX ModelProto starts (ir_version)
        return "onnx"
    raise CheckpointError(f"{path}: not a handmesh checkpoint or export (expected a .pt checkpoint written by "
                          "handmesh-train, or .onnx / .ts / .mlpackage written by handmesh-export)")


def _auto_backend(kind: str, device: str) -> tuple[str, str]:
    """(backend, reason) for ``backend="auto"``."""
    if kind != "checkpoint":
        backend = _RUNS[kind][0]
        return backend, f"auto: the backend for {_KIND[kind]}"
    from handmesh.runtime.torch_backend import check_torch_device

    dev = check_torch_device(device)
    if dev.type != "cpu":
        return "torch", f"auto: PyTorch on {dev.type}"
    if _installed("onnxruntime") and _installed("onnx"):
        return "onnxruntime", "auto: ONNX Runtime is the fastest CPU backend here (cached ONNX export)"
    return "torch", "auto: PyTorch reparameterized on the CPU (install onnx and onnxruntime for ~2x faster)"


def load_runtime(source: Any, backend: str = "auto", device: str = "auto", threads: int | None = None,
                 **options: Any) -> Runtime:
    """Load a model to run crops through.

    Args:
        source: a handmesh checkpoint (training or inference ``.pt``), an export (``.onnx``, TorchScript ``.ts``,
            Core ML ``.mlpackage``), or a :class:`~handmesh.network.HandMeshNet` (torch backend).
        backend: ``"auto"``, ``"torch"``, ``"onnxruntime"``, ``"torchscript"`` or ``"coreml"``. Default: auto.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``. Default: auto.
        threads: CPU threads (torch: ``torch.set_num_threads``, process-wide; ONNX Runtime: intra-op threads of
            this session). Default: None (the library's default).
        **options: per backend:
            torch: ``use_ema``, ``mano_dir``, ``reparameterize`` (True), ``half`` (CUDA default), ``channels_last``
            (CUDA default), ``compile`` (False or a torch.compile mode), ``cuda_graphs`` (False), ``resize``;
            onnxruntime: ``providers`` (explicit list), ``resize``, ``spin`` (False: idle threads sleep instead of
            busy-waiting, which leaves the cores to the rest of a live pipeline; True for a model alone); from a
            checkpoint also ``fp16``, ``use_ema``, ``mano_dir``, ``cache_dir``; torchscript: ``resize``, from a
            checkpoint as onnxruntime;
            coreml: ``compute_units`` (``"all"``, ``"cpu_and_gpu"``, ``"cpu_and_ne"``, ``"cpu_only"``), ``resize``.

    Returns:
        A :class:`~handmesh.runtime.Runtime`; ``rt.backend`` names the backend and ``rt.describe()`` how it runs.

    Raises:
        MissingFileError: ``source`` does not exist.
        CheckpointError: ``source`` is corrupt or not a handmesh checkpoint or export (the message names the file
            and what is missing).
        BackendUnavailableError: the backend or device is not available here (e.g. Core ML on Linux).
        ConfigError: a backend that cannot run this kind of source, or an option it does not take.
    """
    import torch

    if backend not in ("auto", *BACKENDS):
        raise ConfigError(f"backend {backend!r}: expected auto or one of {', '.join(BACKENDS)}")
    kind = "network" if isinstance(source, torch.nn.Module) else detect_source(source)
    reason = ""
    if backend == "auto":
        backend, reason = ("torch", "auto: an in-memory network runs with PyTorch") if kind == "network" else \
            _auto_backend(kind, device)
    if backend not in _RUNS[kind]:
        runs = " or ".join(repr(b) for b in _RUNS[kind])
        hint = "" if kind in ("checkpoint", "network") else ", or give the checkpoint it was exported from"
        raise ConfigError(f"backend {backend!r} cannot run {'this network' if kind == 'network' else source} "
                          f"({_KIND[kind]}): use backend {runs}{hint}")
    unknown = set(options) - _OPTIONS[backend]
    if unknown:
        raise ConfigError(f"backend {backend!r} takes no option {', '.join(sorted(map(repr, unknown)))} (it takes: "
                          f"{', '.join(sorted(_OPTIONS[backend]))})")
    if threads is not None and int(threads) < 1:
        raise ConfigError(f"threads: expected a positive number, got {threads}")
    if threads is not None and backend in ("torch", "torchscript"):
        torch.set_num_threads(int(threads))

    rt: Runtime
    if backend == "torch":
        from handmesh.runtime.torch_backend import TorchRuntime, check_torch_device

        if kind == "network":
            import copy

            # The runtime fuses and moves its network: leave the caller's (perhaps still training) one alone.
            rt = TorchRuntime(copy.deepcopy(source), device=check_torch_device(device), **options)
        else:
            rt = TorchRuntime.from_checkpoint(source, device, **options)
    elif backend == "onnxruntime":
        from handmesh.runtime.onnx_backend import OnnxRuntime

        rt = _open(lambda path, origin, extra: OnnxRuntime(path, device=device, threads=threads, source=origin,
                                                           **extra), kind, source, "onnx", options)
    elif backend == "torchscript":
        from handmesh.runtime.torchscript_backend import TorchScriptRuntime

        rt = _open(lambda path, origin, extra: TorchScriptRuntime(path, device=device, source=origin, **extra),
                   kind, source, "torchscript", options)
    else:
        from handmesh.runtime.coreml_backend import CoreMLRuntime

        rt = CoreMLRuntime(source, device=device, **options)
    rt.note = reason
    return rt


def _open(make: Any, kind: str, source: Any, fmt: str, options: dict[str, Any]) -> Runtime:
    """``make(artefact, origin, runtime_options)``; a cached export that fails to load (damaged on disk) is made
    again once."""
    artefact, origin, extra = _artefact(kind, source, fmt, options)
    try:
        return make(artefact, origin, extra)
    except CheckpointError:
        if kind != "checkpoint":
            raise
        artefact.unlink(missing_ok=True)
        artefact, origin, extra = _artefact(kind, source, fmt, options)
        return make(artefact, origin, extra)


def _artefact(kind: str, source: Any, fmt: str, options: dict[str, Any]) -> tuple[Path, Path, dict[str, Any]]:
    """(file to run, file it came from, the runtime's own options): exports a checkpoint to the cache first."""
    export_keys = {"fp16", "use_ema", "mano_dir", "cache_dir"}
    runtime_options = {k: v for k, v in options.items() if k not in export_keys}
    if kind != "checkpoint":
        given = sorted(set(options) & export_keys)
        if given:
            raise ConfigError(f"options {', '.join(given)} apply to exporting a checkpoint, but {source} is an "
                              "export already")
        return Path(source), Path(source), runtime_options
    from handmesh.export.cache import cached_export

    if fmt == "onnx" and not _installed("onnx"):
        raise BackendUnavailableError("backend 'onnxruntime' from a checkpoint exports it to ONNX first, which needs "
                                      "the onnx package: pip install 'handmesh[export]'")
    if fmt == "onnx" and not _installed("onnxruntime"):
        raise BackendUnavailableError("backend 'onnxruntime': the onnxruntime package is not installed "
                                      "(pip install onnxruntime)")
    path, _ = cached_export(source, fmt, fp16=bool(options.get("fp16", False)),
                            use_ema=bool(options.get("use_ema", True)), mano_dir=options.get("mano_dir"),
                            root=options.get("cache_dir"))
    return path, Path(source), runtime_options
