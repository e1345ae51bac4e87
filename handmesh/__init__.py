"""handmesh: real-time 3D hand mesh recovery from one camera.

A FastViT encoder (``fastvit_backbone``) feeds a head that regresses MANO parameters; a hand model turns them into
a 778-vertex mesh and 21 keypoints in metres. Importing this package does no work: submodules load on first use,
including the library API below (``handmesh.load`` imports torch and the runtime only when called).

    import handmesh
    estimator = handmesh.load()                  # handmesh.api.load: shipped weights, MediaPipe detection
    hands = estimator(frame_rgb)                 # list[handmesh.Hand], camera frame, metres
"""

from __future__ import annotations

import typing

from handmesh._version import __version__

# Public names served lazily from their modules (PEP 562), so that ``import handmesh`` stays cheap.
_LAZY: dict[str, str] = {
    "load": "handmesh.api",
    "Hand": "handmesh.pipeline.hand",
    "HandEstimator": "handmesh.pipeline.estimator",
    "DEFAULT_CHECKPOINT": "handmesh.api",
}

__all__ = ["__version__", "DEFAULT_CHECKPOINT", "Hand", "HandEstimator", "load"]  # the names of _LAZY

if typing.TYPE_CHECKING:
    from handmesh.api import DEFAULT_CHECKPOINT, load
    from handmesh.pipeline.estimator import HandEstimator
    from handmesh.pipeline.hand import Hand


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'handmesh' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(n for n in set(globals()) | set(_LAZY) if n != "typing")
