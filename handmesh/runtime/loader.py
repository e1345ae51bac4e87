"""``load_runtime``: any checkpoint or exported artefact, on any backend this machine has.

Sources and the backends that run them:

==============================  ==========================================================================
checkpoint (``.pt``)            ``torch``; ``onnxruntime`` and ``torchscript`` through an export, which the
                                caller's ``exporter`` makes (:func:`handmesh.api.load_runtime` passes one
                                that exports once and caches, see :mod:`handmesh.export.cache`)
ONNX (``.onnx``)                ``onnxruntime``
TorchScript (``.ts``)           ``torchscript``
Core ML (``.mlpackage``)        ``coreml`` (macOS)
==============================  ==========================================================================

The kind of a file is read from its content, not its name (a TorchScript file named ``.pt`` is recognised).

``backend="auto"`` picks, for a checkpoint: on a CPU, ONNX Runtime when onnx and onnxruntime are installed and an
``exporter`` is given (about 2x faster than eager PyTorch on FastViT), else PyTorch reparameterized; on CUDA or MPS,
PyTorch (float16 autocast and channels-last on CUDA). For an artefact it picks the one backend that runs it.
``rt.backend`` says which was chosen and ``rt.describe()`` why.

The backends are one table, :data:`BACKEND_TABLE`: a new backend is its own file (a :class:`Runtime` subclass with
a ``load`` class method) and one row here. The kinds of model file come from :mod:`handmesh.artefact.formats`.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from handmesh.artefact.formats import KINDS, detect_source
from handmesh.errors import BackendUnavailableError, CheckpointError, ConfigError
from handmesh.runtime.base import Runtime

__all__ = ["BACKENDS", "BACKEND_TABLE", "Backend", "Exporter", "available_backends", "detect_source", "load_runtime"]

Exporter = Callable[..., Path]
"""``exporter(checkpoint, fmt, *, fp16, use_ema, mano_dir, root) -> artefact path``: makes (or finds) the export of
a checkpoint that a backend runs (see :func:`handmesh.api.load_runtime`)."""


@dataclass(frozen=True)
class Backend:
    """One way to run a model.

    Attributes:
        name: what ``backend=`` says.
        runtime: ``"module:Class"`` of its :class:`Runtime`; the class's ``load(source, *, device, threads,
            origin, **options)`` opens a model.
        runs: the kinds of source it runs as they are (see :data:`handmesh.artefact.formats.KINDS`).
        export_to: the format a checkpoint is exported to for it, or None.
        requires: packages that must be installed for it to run here.
        platform: the one ``sys.platform`` it runs on, or None for any.
        options: the runtime's own options.
    """

    name: str
    runtime: str
    runs: tuple[str, ...]
    export_to: str | None = None
    requires: tuple[str, ...] = ()
    platform: str | None = None
    options: frozenset[str] = frozenset({"resize"})

    def kinds(self) -> tuple[str, ...]:
        """Every kind of source it takes: its own, and checkpoints when it runs their export."""
        return self.runs + (("checkpoint",) if self.export_to and "checkpoint" not in self.runs else ())

    def available(self) -> bool:
        return (self.platform is None or sys.platform == self.platform) and all(map(_installed, self.requires))


BACKEND_TABLE: tuple[Backend, ...] = (
    Backend(
        "torch",
        "handmesh.runtime.torch_backend:TorchRuntime",
        runs=("checkpoint", "network"),
        options=frozenset(
            {"use_ema", "mano_dir", "reparameterize", "half", "channels_last", "compile", "cuda_graphs", "resize"}
        ),
    ),
    Backend(
        "onnxruntime",
        "handmesh.runtime.onnx_backend:OnnxRuntime",
        runs=("onnx",),
        export_to="onnx",
        requires=("onnxruntime",),
        options=frozenset({"providers", "resize", "spin"}),
    ),
    Backend(
        "torchscript",
        "handmesh.runtime.torchscript_backend:TorchScriptRuntime",
        runs=("torchscript",),
        export_to="torchscript",
    ),
    Backend(
        "coreml",
        "handmesh.runtime.coreml_backend:CoreMLRuntime",
        runs=("coreml",),
        requires=("coremltools",),
        platform="darwin",
        options=frozenset({"compute_units", "resize"}),
    ),
)
_BY_NAME = {b.name: b for b in BACKEND_TABLE}
BACKENDS = tuple(_BY_NAME)
_EXPORT_OPTIONS = frozenset({"fp16", "use_ema", "mano_dir", "cache_dir"})  # for exporting a checkpoint first


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def available_backends() -> list[str]:
    """Backends that can run on this machine, in :data:`BACKENDS` order (``torch`` and ``torchscript`` always;
    ``onnxruntime`` when installed; ``coreml`` on macOS with coremltools)."""
    return [b.name for b in BACKEND_TABLE if b.available()]


def _auto_backend(kind: str, device: str, exporter: Exporter | None) -> tuple[str, str]:
    """(backend, reason) for ``backend="auto"``."""
    if kind == "network":
        return "torch", "auto: an in-memory network runs with PyTorch"
    if kind != "checkpoint":
        backend = next(b.name for b in BACKEND_TABLE if kind in b.runs)
        return backend, f"auto: the backend for {KINDS[kind]}"
    from handmesh.network.predictor import check_torch_device

    dev = check_torch_device(device)
    if dev.type != "cpu":
        return "torch", f"auto: PyTorch on {dev.type}"
    if exporter is not None and _installed("onnxruntime") and _installed("onnx"):
        return "onnxruntime", "auto: ONNX Runtime is the fastest CPU backend here (cached ONNX export)"
    if exporter is None:
        return "torch", "auto: PyTorch reparameterized on the CPU (handmesh.api.load_runtime exports to ONNX for ~2x)"
    return "torch", "auto: PyTorch reparameterized on the CPU (install onnx and onnxruntime for ~2x faster)"


def load_runtime(
    source: Any,
    backend: str = "auto",
    device: str = "auto",
    threads: int | None = None,
    *,
    exporter: Exporter | None = None,
    **options: Any,
) -> Runtime:
    """Load a model to run crops through.

    Args:
        source: a handmesh checkpoint (training or inference ``.pt``), an export (``.onnx``, TorchScript ``.ts``,
            Core ML ``.mlpackage``), or a :class:`~handmesh.network.HandMeshNet` (torch backend).
        backend: ``"auto"``, ``"torch"``, ``"onnxruntime"``, ``"torchscript"`` or ``"coreml"``. Default: auto.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``. Default: auto.
        threads: CPU threads (torch: ``torch.set_num_threads``, process-wide; ONNX Runtime: intra-op threads of
            this session). Default: None (the library's default).
        exporter: makes the export a backend runs from a checkpoint (:data:`Exporter`); without one, a checkpoint
            runs only on ``torch``. :func:`handmesh.api.load_runtime` passes the cached exporter. Default: None.
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
        backend, reason = _auto_backend(kind, device, exporter)
    spec = _BY_NAME[backend]
    if kind not in spec.kinds():
        runs = " or ".join(repr(b.name) for b in BACKEND_TABLE if kind in b.kinds())
        hint = "" if kind in ("checkpoint", "network") else ", or give the checkpoint it was exported from"
        raise ConfigError(
            f"backend {backend!r} cannot run {'this network' if kind == 'network' else source} "
            f"({KINDS[kind]}): use backend {runs}{hint}"
        )
    exporting = kind == "checkpoint" and "checkpoint" not in spec.runs
    allowed = spec.options | (_EXPORT_OPTIONS if spec.export_to else frozenset())
    unknown = set(options) - allowed
    if unknown:
        raise ConfigError(
            f"backend {backend!r} takes no option {', '.join(sorted(map(repr, unknown)))} (it takes: "
            f"{', '.join(sorted(allowed))})"
        )
    if threads is not None and int(threads) < 1:
        raise ConfigError(f"threads: expected a positive number, got {threads}")
    module, _, name = spec.runtime.partition(":")
    runtime_class = getattr(importlib.import_module(module), name)
    if exporting:
        rt = _open_export(runtime_class, spec, source, device, threads, exporter, options)
    else:
        given = sorted(set(options) & _EXPORT_OPTIONS - spec.options)
        if given:
            raise ConfigError(
                f"options {', '.join(given)} apply to exporting a checkpoint, but {source} is an export already"
            )
        rt = runtime_class.load(source, device=device, threads=threads, origin=None, **options)
    rt.note = reason
    return rt


def _open_export(
    runtime_class: Any,
    spec: Backend,
    checkpoint: Any,
    device: str,
    threads: int | None,
    exporter: Exporter | None,
    options: dict[str, Any],
) -> Runtime:
    """Export the checkpoint with ``exporter`` and open the export; a cached export that fails to load (damaged on
    disk) is made again once."""
    fmt = spec.export_to
    if exporter is None:
        raise ConfigError(
            f"backend {spec.name!r} runs {fmt} exports and {checkpoint} is a checkpoint: export it "
            f"first (handmesh-export --format {fmt}), or open it with handmesh.api.load_runtime, which "
            "exports it once and caches the export"
        )
    if fmt == "onnx" and not _installed("onnx"):
        raise BackendUnavailableError(
            "backend 'onnxruntime' from a checkpoint exports it to ONNX first, which needs "
            "the onnx package: pip install 'handmesh[export]'"
        )
    for package in spec.requires:
        if not _installed(package):
            raise BackendUnavailableError(
                f"backend {spec.name!r}: the {package} package is not installed (pip install {package})"
            )
    runtime_options = {k: v for k, v in options.items() if k not in _EXPORT_OPTIONS}

    def export() -> Path:
        return Path(
            exporter(
                checkpoint,
                fmt,
                fp16=bool(options.get("fp16", False)),
                use_ema=bool(options.get("use_ema", True)),
                mano_dir=options.get("mano_dir"),
                root=options.get("cache_dir"),
            )
        )

    artefact = export()
    try:
        return runtime_class.load(artefact, device=device, threads=threads, origin=Path(checkpoint), **runtime_options)
    except CheckpointError:
        artefact.unlink(missing_ok=True)
        return runtime_class.load(export(), device=device, threads=threads, origin=Path(checkpoint), **runtime_options)
