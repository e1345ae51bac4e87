"""TorchScript backend: a file written by :func:`~handmesh.export.export_torchscript`, run with ``torch.jit``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from handmesh.artefact.metadata import OUTPUT_NAMES
from handmesh.artefact.torchscript import load_torchscript, read_torchscript_metadata
from handmesh.network.predictor import check_torch_device
from handmesh.runtime.base import Runtime

__all__ = ["TorchScriptRuntime", "load_torchscript", "read_torchscript_metadata"]


class TorchScriptRuntime(Runtime):
    """A traced handmesh graph behind the :class:`~handmesh.runtime.Runtime` interface.

    Args:
        path: the TorchScript file.
        device: ``"auto"`` (the device it was traced on when this machine has it, else CPU), ``"cpu"``,
            ``"cuda"``, ... Default: ``"auto"``.
        source: the checkpoint it was exported from, for :meth:`describe`. Default: the file itself.
        resize: resize crops of another size instead of raising. Default: False.

    Raises:
        MissingFileError: no such file.
        CheckpointError: not a TorchScript file, corrupt, or not a handmesh export (no metadata).
    """

    backend = "torchscript"

    @classmethod
    def load(
        cls, source: Any, *, device: str = "auto", threads: int | None = None, origin: Any = None, **options: Any
    ) -> TorchScriptRuntime:
        """What :func:`~handmesh.runtime.load_runtime` calls: a TorchScript file (``origin``: the checkpoint it was
        exported from, if any)."""
        if threads is not None:
            torch.set_num_threads(int(threads))
        return cls(source, device=device, source=origin, **options)

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        device: str = "auto",
        source: str | os.PathLike | None = None,
        resize: bool = False,
    ) -> None:
        module, meta = load_torchscript(path)
        path = Path(path)
        traced_on = str(meta.source.get("traced_on", "cpu"))
        if device == "auto":
            dev = torch.device(traced_on if traced_on == "cpu" or _has(traced_on) else "cpu")
        else:
            dev = check_torch_device(device)
        super().__init__(meta, source if source is not None else path, artefact=path, device=str(dev), resize=resize)
        self.module = module.to(dev).eval()
        self.torch_device = dev
        self.traced_on = traced_on

    def _describe_extra(self) -> str:
        threads = f", {torch.get_num_threads()} threads" if self.torch_device.type == "cpu" else ""
        return f" (traced on {self.traced_on}, {self.metadata.precision}{threads})"

    @torch.inference_mode()
    def _run(self, x: Any) -> dict[str, Any]:
        t = x if isinstance(x, torch.Tensor) else torch.from_numpy(self._as_numpy(x))
        outs = self.module(t.to(self.torch_device, torch.float32))
        return {k: v.float().cpu().numpy() for k, v in zip(OUTPUT_NAMES, outs)}


def _has(device_type: str) -> bool:
    if device_type == "cuda":
        return torch.cuda.is_available()
    if device_type == "mps":
        return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    return device_type == "cpu"
