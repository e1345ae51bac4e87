"""Core ML backend (macOS): a ``.mlpackage`` written by :func:`~handmesh.export.export_coreml`.

On other systems loading raises :class:`~handmesh.errors.BackendUnavailableError` with what to use instead;
:func:`~handmesh.artefact.coreml.inspect_coreml` still validates a package anywhere.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from handmesh.artefact.coreml import MAX_DYNAMIC_BATCH, inspect_coreml, predict_coreml, require_predict
from handmesh.errors import ConfigError
from handmesh.runtime.base import Runtime

__all__ = ["COMPUTE_UNITS", "CoreMLRuntime"]

COMPUTE_UNITS = {"all": "ALL", "cpu_and_gpu": "CPU_AND_GPU", "cpu_and_ne": "CPU_AND_NE", "cpu_only": "CPU_ONLY"}


class CoreMLRuntime(Runtime):
    """A Core ML package behind the :class:`~handmesh.runtime.Runtime` interface.

    Args:
        path: the ``.mlpackage`` folder.
        device: ``"auto"`` (all compute units), ``"cpu"`` (CPU only), ``"mps"`` (CPU and GPU). Default: auto.
        compute_units: overrides ``device``: ``"all"``, ``"cpu_and_gpu"``, ``"cpu_and_ne"``, ``"cpu_only"``.
        resize: resize crops of another size instead of raising. Default: False.

    Raises:
        BackendUnavailableError: not macOS, or coremltools missing (checked first, whatever the package).
        MissingFileError, CheckpointError: the package is missing, damaged or not a handmesh export.
    """

    backend = "coreml"

    @classmethod
    def load(
        cls, source: Any, *, device: str = "auto", threads: int | None = None, origin: Any = None, **options: Any
    ) -> CoreMLRuntime:
        """What :func:`~handmesh.runtime.load_runtime` calls: a ``.mlpackage`` (Core ML chooses its threads)."""
        return cls(source, device=device, **options)

    def __init__(
        self, path: str | os.PathLike, *, device: str = "auto", compute_units: str | None = None, resize: bool = False
    ) -> None:
        require_predict()
        import coremltools as ct

        if compute_units is None:
            by_device = {"auto": "all", "cpu": "cpu_only", "mps": "cpu_and_gpu", "gpu": "cpu_and_gpu"}
            if str(device) not in by_device:
                raise ConfigError(f"device {device!r}: Core ML takes auto, cpu or mps (or compute_units=...)")
            compute_units = by_device[str(device)]
        if compute_units not in COMPUTE_UNITS:
            raise ConfigError(f"compute_units {compute_units!r}: expected one of {', '.join(COMPUTE_UNITS)}")
        path = Path(path)
        meta = inspect_coreml(path)
        super().__init__(meta, path, device=compute_units, resize=resize)
        self.model = ct.models.MLModel(str(path), compute_units=getattr(ct.ComputeUnit, COMPUTE_UNITS[compute_units]))
        self.max_batch = meta.batch or MAX_DYNAMIC_BATCH

    def _describe_extra(self) -> str:
        return f" ({self.metadata.precision})"

    def _run(self, x: Any) -> dict[str, Any]:
        a = self._as_numpy(x)
        parts = [predict_coreml(self.model, a[i : i + self.max_batch]) for i in range(0, a.shape[0], self.max_batch)]
        return {k: np.concatenate([p[k] for p in parts], axis=0) for k in parts[0]}
