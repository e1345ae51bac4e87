"""Fixtures in MANO's real file formats, made at test time (the licensed files are never needed).

* ``mano_dir``: ``MANO_RIGHT.pkl`` and ``MANO_LEFT.pkl`` written like the official files (Python-2 protocol-2
  pickles, ``shapedirs`` a ``chumpy.ch.Ch``, ``posedirs`` a ``chumpy.reordering.Reshape``, ``J_regressor`` a
  ``scipy.sparse.csc.csc_matrix``). The left file is the exact mirror image of the right one except for
  ``shapedirs``, which, as in the official left file, is the right one unchanged.
* ``plain_mano_dir``: the same right model as a plain numpy/scipy pickle that smplx can read.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse

from handmesh.hand_model.keypoints import MANO_TIP_VERTEX_IDS
from handmesh.hand_model.mano_pickle import mano_dict_to_arrays
from handmesh.hand_model.mirror import mirror_model_arrays
from handmesh.hand_model.model_file import HandModelArrays
from handmesh.testing.mano_standin import standin_mano_dict, write_mano_style_pickle


def left_dict_with_official_bug(right: dict[str, Any]) -> dict[str, Any]:
    """The mirror image of ``right`` in MANO pickle layout, but with the right ``shapedirs`` (smplx issue #48)."""
    arrays = mano_dict_to_arrays(right, "right", is_right=True)
    mirrored = mirror_model_arrays(arrays)
    left = dict(right)
    left.update(
        v_template=mirrored.v_template.astype(np.float64),
        f=mirrored.faces.astype(np.uint32),
        posedirs=mirrored.posedirs.astype(np.float64),
        hands_components=mirrored.hands_components.astype(np.float64),
        hands_mean=mirrored.hands_mean.astype(np.float64),
        shapedirs=np.asarray(right["shapedirs"]),  # the official left file's error: not mirrored
    )
    return left


@pytest.fixture(scope="session")
def standin_dict() -> dict[str, Any]:
    return standin_mano_dict(seed=0)


@pytest.fixture(scope="session")
def mano_dir(tmp_path_factory: pytest.TempPathFactory, standin_dict: dict[str, Any]) -> Path:
    d = tmp_path_factory.mktemp("mano")
    write_mano_style_pickle(d / "MANO_RIGHT.pkl", standin_dict, reshape_keys=("posedirs",))
    write_mano_style_pickle(d / "MANO_LEFT.pkl", left_dict_with_official_bug(standin_dict))
    return d


@pytest.fixture(scope="session")
def plain_mano_dir(tmp_path_factory: pytest.TempPathFactory, standin_dict: dict[str, Any]) -> Path:
    d = tmp_path_factory.mktemp("mano_plain")
    data = dict(standin_dict)
    data["J_regressor"] = scipy.sparse.csc_matrix(data["J_regressor"])
    with open(d / "MANO_RIGHT.pkl", "wb") as f:
        pickle.dump(data, f, protocol=2)
    return d


@pytest.fixture(scope="session")
def right_arrays(standin_dict: dict[str, Any]) -> HandModelArrays:
    return mano_dict_to_arrays(standin_dict, "stand-in", is_right=True, tip_vertex_ids=MANO_TIP_VERTEX_IDS)
