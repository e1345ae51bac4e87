"""Fixtures for detection tests: the MediaPipe hand-landmarker bundle, never fetched from the network.

The bundle is taken from (1) an already built one (``$HANDMESH_HAND_LANDMARKER`` or the cache folder, see
``handmesh.detection.bundle``), else (2) built into a temporary folder from a mediapipe 0.10.21 wheel found at
``$HANDMESH_MEDIAPIPE_WHEEL``, in the cache folder or in pip's wheel cache; otherwise tests that need it skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from handmesh.detection.bundle import (
    MEDIAPIPE_WHEEL_VERSION,
    bundle_from_wheel,
    default_cache_dir,
    find_hand_landmarker,
)
from handmesh.errors import HandmeshError


def _find_wheel() -> Path | None:
    pattern = f"mediapipe-{MEDIAPIPE_WHEEL_VERSION}-*.whl"
    env = os.environ.get("HANDMESH_MEDIAPIPE_WHEEL")
    if env and Path(env).is_file():
        return Path(env)
    for root in (default_cache_dir(), Path.home() / ".cache" / "pip" / "wheels"):
        if root.is_dir():
            hits = sorted(root.rglob(pattern))
            if hits:
                return hits[0]
    return None


@pytest.fixture(scope="session")
def hand_landmarker_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of a usable hand_landmarker.task, or skip with the set-up command."""
    try:
        return find_hand_landmarker()
    except HandmeshError:
        pass
    wheel = _find_wheel()
    if wheel is None:
        pytest.skip(
            "no MediaPipe hand landmarker bundle (run `handmesh-demo --setup-detector` once, or set "
            "HANDMESH_MEDIAPIPE_WHEEL to a mediapipe 0.10.21 wheel)"
        )
    return bundle_from_wheel(wheel, tmp_path_factory.mktemp("bundle") / "hand_landmarker.task")


def read_rgb(path: Path) -> np.ndarray:
    """An image file as (H, W, 3) uint8 RGB."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert bgr is not None, f"cannot read {path}"
    return np.ascontiguousarray(bgr[..., ::-1])
