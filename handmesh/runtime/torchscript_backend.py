"""TorchScript backend: a file written by :func:`~handmesh.export.export_torchscript`, run with ``torch.jit``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from handmesh.errors import CheckpointError, MissingFileError
from handmesh.export.metadata import OUTPUT_NAMES, TORCHSCRIPT_EXTRA_FILE, ArtefactMetadata
from handmesh.runtime.base import Runtime

__all__ = ["TorchScriptRuntime", "load_torchscript", "read_torchscript_metadata"]


def load_torchscript(path: str | os.PathLike) -> tuple[torch.jit.ScriptModule, ArtefactMetadata]:
    """Load a TorchScript export on the CPU with its metadata.

    Raises:
        MissingFileError: no such file.
        CheckpointError: not a TorchScript file, corrupt, or without handmesh metadata.
    """
    from handmesh.export.common import quiet_tracing

    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"TorchScript file {path} does not exist")
    extra = {TORCHSCRIPT_EXTRA_FILE: ""}
    try:
        with quiet_tracing():  # torch.jit.load announces its own deprecation
            module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    except Exception as e:  # torch raises RuntimeError/ValueError variants for bad archives
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CheckpointError(f"cannot load TorchScript file {path}: {first} (corrupt, truncated, or not a "
                              "TorchScript file)") from e
    return module, ArtefactMetadata.from_json(extra[TORCHSCRIPT_EXTRA_FILE] or None, str(path))


def read_torchscript_metadata(path: str | os.PathLike) -> ArtefactMetadata:
    """The metadata of a TorchScript export (see :func:`load_torchscript`)."""
    return load_torchscript(path)[1]


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

    def __init__(self, path: str | os.PathLike, *, device: str = "auto", source: str | os.PathLike | None = None,
                 resize: bool = False) -> None:
        from handmesh.runtime.torch_backend import check_torch_device

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
