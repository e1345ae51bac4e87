"""Fixtures for the open-hand tests: the committed asset (read with numpy only) and one fresh generation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from smplx.lbs import lbs

from handmesh.open_hand.generate import ASSET_PATH, OpenHand, generate_open_hand


@pytest.fixture(scope="session")
def asset() -> dict[str, np.ndarray]:
    """The shipped ``open_hand_right.npz`` as a dict of arrays."""
    with np.load(ASSET_PATH, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="session")
def generated() -> OpenHand:
    """A fresh run of the generator (a few seconds)."""
    return generate_open_hand()


def _pose_model(
    asset: dict[str, np.ndarray],
    hand_pose: np.ndarray | None = None,
    betas: np.ndarray | None = None,
    global_orient: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Pose the asset with smplx's linear blend skinning, straight from the file's arrays.

    Args:
        asset: the model arrays.
        hand_pose: (45,) absolute axis-angle finger pose. Default: flat hand.
        betas: (10,). Default: zeros.
        global_orient: (3,). Default: zeros.

    Returns:
        ``(vertices (V, 3), joints (16, 3))`` float64 metres.
    """
    v = torch.tensor(asset["v_template"], dtype=torch.float64)
    n = v.shape[0]
    pose = np.concatenate(
        [np.zeros(3) if global_orient is None else global_orient, np.zeros(45) if hand_pose is None else hand_pose]
    )
    verts, joints = lbs(
        torch.tensor(np.zeros(10) if betas is None else betas, dtype=torch.float64)[None],
        torch.tensor(pose, dtype=torch.float64)[None],
        v,
        torch.tensor(asset["shapedirs"], dtype=torch.float64),
        torch.tensor(asset["posedirs"], dtype=torch.float64).reshape(n * 3, -1).T,
        torch.tensor(asset["J_regressor"], dtype=torch.float64),
        torch.tensor(asset["parents"], dtype=torch.long),
        torch.tensor(asset["weights"], dtype=torch.float64),
    )
    return verts[0].numpy(), joints[0].numpy()


@pytest.fixture(scope="session")
def pose_model():
    """``pose_model(asset, hand_pose=None, betas=None, global_orient=None) -> (vertices, joints16)`` via smplx LBS."""
    return _pose_model
