"""ONNX Runtime backend: an exported ``.onnx`` file on the best execution provider this machine has.

Providers for ``device``: ``"auto"`` -> CUDA when onnxruntime-gpu sees a GPU, else Core ML on a Mac, else CPU;
``"cpu"``; ``"cuda"``/``"cuda:N"``; ``"mps"``/``"coreml"`` (Core ML). The CPU provider is always last, as the
fallback for operators the others lack. ``threads`` sets the intra-op thread count (ONNX Runtime's default is one
per physical core).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from handmesh.artefact.metadata import INPUT_NAME, METADATA_KEY, OUTPUT_NAMES, ArtefactMetadata
from handmesh.errors import BackendUnavailableError, CheckpointError, ConfigError, MissingFileError
from handmesh.runtime.base import Runtime

__all__ = ["OnnxRuntime", "onnx_providers"]

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
COREML = "CoreMLExecutionProvider"


def _ort() -> Any:
    try:
        import onnxruntime
    except ImportError as e:
        raise BackendUnavailableError(
            "backend 'onnxruntime': the onnxruntime package is not installed (pip install onnxruntime, or "
            "onnxruntime-gpu for CUDA)"
        ) from e
    return onnxruntime


def onnx_providers(device: str = "auto") -> list[Any]:
    """The execution providers to ask ONNX Runtime for, best first (see the module docstring).

    Raises:
        BackendUnavailableError: the device's provider is not in this onnxruntime build.
        ConfigError: an unknown device name.
    """
    ort = _ort()
    available = ort.get_available_providers()
    dev = str(device).lower()
    if dev == "auto":
        if CUDA in available:
            return [CUDA, CPU]
        if COREML in available:
            return [COREML, CPU]
        return [CPU]
    if dev == "cpu":
        return [CPU]
    if dev == "cuda" or dev.startswith("cuda:"):
        if CUDA not in available:
            raise BackendUnavailableError(
                f"device {device!r}: this onnxruntime build has no CUDA provider (available: {', '.join(available)}); "
                "install onnxruntime-gpu, or use backend='torch' on CUDA"
            )
        index = int(dev.split(":", 1)[1]) if ":" in dev else 0
        return [(CUDA, {"device_id": index}), CPU]
    if dev in ("mps", "coreml"):
        if COREML not in available:
            raise BackendUnavailableError(
                f"device {device!r}: this onnxruntime build has no Core ML provider (available: {', '.join(available)})"
            )
        return [COREML, CPU]
    raise ConfigError(f"device {device!r}: expected auto, cpu, cuda, cuda:N, mps or coreml")


class OnnxRuntime(Runtime):
    """An exported ONNX model in an ONNX Runtime session.

    Args:
        path: the ``.onnx`` file (written by :func:`~handmesh.export.export_onnx`).
        device: see :func:`onnx_providers`. Default: ``"auto"``.
        threads: intra-op threads. Default: None (ONNX Runtime's default, one per physical core).
        providers: explicit provider list, overriding ``device``. Default: None.
        source: the checkpoint the file was exported from, for :meth:`describe`. Default: the file itself.
        resize: resize crops of another size instead of raising. Default: False.
        spin: let idle intra-op threads busy-wait between runs (a little lower latency for a model run alone,
            but they hold the cores the rest of a live pipeline needs). Default: False.

    Raises:
        BackendUnavailableError: onnxruntime (or the device's provider) is missing.
        MissingFileError: no such file.
        CheckpointError: not an ONNX model, corrupt, or not a handmesh export (no metadata, other inputs).
    """

    backend = "onnxruntime"

    @classmethod
    def load(
        cls, source: Any, *, device: str = "auto", threads: int | None = None, origin: Any = None, **options: Any
    ) -> OnnxRuntime:
        """What :func:`~handmesh.runtime.load_runtime` calls: an ONNX file (``origin``: the checkpoint it was
        exported from, if any)."""
        return cls(source, device=device, threads=threads, source=origin, **options)

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        device: str = "auto",
        threads: int | None = None,
        providers: list[Any] | None = None,
        source: str | os.PathLike | None = None,
        resize: bool = False,
        spin: bool = False,
    ) -> None:
        ort = _ort()
        path = Path(path)
        if not path.is_file():
            raise MissingFileError(f"ONNX model {path} does not exist")
        if threads is not None and int(threads) < 1:
            raise ConfigError(f"threads: expected a positive number, got {threads}")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(threads or 0)
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3  # errors only: provider fallbacks are reported by describe()
        if not spin:
            # Idle worker threads otherwise busy-wait after each run and take the cores from the stages that follow
            # (detection, hand model, drawing): in the live pipeline on 2 busy cores, end-to-end FPS went from
            # 28.6 / 23.2 to 38.1 / 41.6 (two runs each).
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        chosen = providers if providers is not None else onnx_providers(device)
        try:
            session = ort.InferenceSession(str(path), opts, providers=chosen)
        except Exception as e:  # onnxruntime raises its own exception types for bad files
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise CheckpointError(
                f"cannot load ONNX model {path}: {first} (corrupt or truncated, or not an ONNX file)"
            ) from e
        meta = ArtefactMetadata.from_json(session.get_modelmeta().custom_metadata_map.get(METADATA_KEY), str(path))
        inputs = [i.name for i in session.get_inputs()]
        outputs = [o.name for o in session.get_outputs()]
        if inputs != [INPUT_NAME] or outputs != list(OUTPUT_NAMES):
            raise CheckpointError(
                f"ONNX model {path}: inputs {inputs} and outputs {outputs}, expected [{INPUT_NAME!r}]"
                f" and {list(OUTPUT_NAMES)} (a handmesh export that was edited afterwards?)"
            )
        super().__init__(
            meta,
            source if source is not None else path,
            artefact=path,
            device=session.get_providers()[0],
            resize=resize,
        )
        self.session = session
        self.threads = threads
        self.onnxruntime_version = ort.__version__

    def _describe_extra(self) -> str:
        threads = f"{self.threads} threads" if self.threads else f"default threads ({os.cpu_count()} CPUs)"
        return f" (onnxruntime {self.onnxruntime_version}, {threads}, {self.metadata.precision})"

    def _run(self, x: Any) -> dict[str, Any]:
        outs = self.session.run(list(OUTPUT_NAMES), {INPUT_NAME: self._as_numpy(x)})
        return dict(zip(OUTPUT_NAMES, outs))
