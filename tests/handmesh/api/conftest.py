"""Fixtures for the library API tests: a small untrained checkpoint made at test time, an isolated export cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..network.conftest import standin_dir  # noqa: F401 - a MANO-format stand-in, used by name
from .helpers import make_small_checkpoint


@pytest.fixture(scope="session")
def small_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained FastViT-T8 at 64 pixels with a small head, as an fp16 fused inference checkpoint."""
    return make_small_checkpoint(tmp_path_factory.mktemp("weights") / "small_t8.pt")


@pytest.fixture(autouse=True)
def _export_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Exports made by the runtime go to a per-session temporary cache, never the user's; a detector bundle already
    built in the user's cache stays findable (through ``$HANDMESH_HAND_LANDMARKER``)."""
    from handmesh.detection.bundle import ENV_BUNDLE, find_hand_landmarker
    from handmesh.errors import HandmeshError

    try:
        monkeypatch.setenv(ENV_BUNDLE, str(find_hand_landmarker()))
    except HandmeshError:
        pass
    monkeypatch.setenv("HANDMESH_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "export_cache"))
