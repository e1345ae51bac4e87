"""Test-suite options and markers.

Markers (see pyproject.toml): ``slow`` runs only with ``--runslow`` or ``HANDMESH_RUN_SLOW=1``; ``gpu`` skips without
CUDA; ``needs_mano`` skips without the licensed MANO files; ``needs_camera`` runs only with ``HANDMESH_TEST_CAMERA=1``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
REAL_HANDS = REPO_ROOT.parent / "shared" / "real_hands"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", default=False, help="also run tests marked slow")


def _mano_available() -> bool:
    roots = [os.environ.get("HANDMESH_MANO_DIR", ""), str(REPO_ROOT / "data" / "mano")]
    names = ("MANO_RIGHT.pkl", "MANO_RIGHT.npz")
    return any(r and (Path(r) / n).is_file() for r in roots for n in names)


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    run_slow = config.getoption("--runslow") or os.environ.get("HANDMESH_RUN_SLOW") == "1"
    skips = {
        "slow": (not run_slow, "slow: run with --runslow or HANDMESH_RUN_SLOW=1"),
        "needs_camera": (os.environ.get("HANDMESH_TEST_CAMERA") != "1", "needs a camera: set HANDMESH_TEST_CAMERA=1"),
    }
    lazy = {
        "gpu": (_cuda_available, "needs a CUDA device"),
        "needs_mano": (_mano_available, "needs MANO_RIGHT.pkl or .npz"),
    }
    cache: dict[str, bool] = {}
    for item in items:
        for name, (skip, reason) in skips.items():
            if skip and item.get_closest_marker(name):
                item.add_marker(pytest.mark.skip(reason=reason))
        for name, (check, reason) in lazy.items():
            if item.get_closest_marker(name):
                if name not in cache:
                    cache[name] = check()
                if not cache[name]:
                    item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def real_hands_dir() -> Path:
    """``../shared/real_hands`` beside the checkout; tests using it skip where it is absent (users' machines)."""
    if not REAL_HANDS.is_dir():
        pytest.skip(f"real hand images not found at {REAL_HANDS}")
    return REAL_HANDS
