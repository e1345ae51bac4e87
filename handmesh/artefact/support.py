"""What reading and writing artefacts share: importing an optional package with a clear error, and a tracer that
keeps the libraries' notices about their own deprecation to themselves."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

from handmesh.errors import BackendUnavailableError

__all__ = ["quiet_tracing", "require"]


@contextlib.contextmanager
def quiet_tracing() -> Iterator[None]:
    """Silence the tracer's and exporters' notices about their own deprecation (not about this network)."""
    import torch

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
        warnings.filterwarnings("ignore", message="Constant folding - Only steps=1.*")
        warnings.filterwarnings("ignore", message=".*has not been tested with coremltools.*")
        warnings.filterwarnings("ignore", category=UserWarning, module="coremltools.*")
        yield


def require(module: str, what: str) -> Any:
    """Import ``module`` or raise a :class:`BackendUnavailableError` saying how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise BackendUnavailableError(
            f"{what} needs the {module.split('.')[0]} package, which is not installed: pip install 'handmesh[export]'"
        ) from e
