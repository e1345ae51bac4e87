"""A MANO-format stand-in hand model for network tests (the licensed files are never needed)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def standin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from handmesh.hand_model.model_file import write_model_file
    from handmesh.testing.mano_standin import standin_model_arrays

    d = tmp_path_factory.mktemp("mano_standin")
    write_model_file(d / "MANO_RIGHT.npz", standin_model_arrays())
    return d


@pytest.fixture
def hand_model(standin_dir: Path):
    from handmesh.hand_model import build_hand_model

    return build_hand_model("mano", "right", standin_dir)
