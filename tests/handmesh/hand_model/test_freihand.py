"""FreiHAND's 61-number annotation: placement as the toolbox does it, and the round trip used by synthetic data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from handmesh.geometry.projection import project_points
from handmesh.geometry.rotations import axis_angle_to_matrix
from handmesh.hand_model.freihand import freihand_mano_to_mesh, mesh_to_freihand_mano
from handmesh.hand_model.mirror import mirror_model_arrays
from handmesh.hand_model.model import HandModel
from handmesh.hand_model.model_file import HandModelArrays


def _sample(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    pose = rng.normal(scale=0.4, size=(n, 48))
    betas = rng.normal(size=(n, 10))
    transl = np.stack([rng.uniform(-0.05, 0.05, n), rng.uniform(-0.05, 0.05, n), rng.uniform(0.4, 0.8, n)], 1)
    K = np.tile(np.array([[480.0, 0, 112.0], [0, 470.0, 115.0], [0, 0, 1]]), (n, 1, 1))
    K[:, 0, 0] += rng.uniform(-20, 20, n)
    return pose, betas, transl, K


def test_toolbox_placement_by_hand(right_arrays: HandModelArrays) -> None:
    """Recompute the toolbox's steps explicitly for one sample."""
    model = HandModel(right_arrays, flat_hand_mean=True, use_pca=True)  # settings must not matter
    pose, betas, _, K = _sample(1)
    uv_root, scale = np.array([100.0, 130.0]), 700.0
    mano = np.concatenate([pose[0], betas[0], uv_root, [scale]])[None]
    verts, joints = freihand_mano_to_mesh(mano, K, model)
    focal = 0.5 * (K[0, 0, 0] + K[0, 1, 1])
    xyz_root = np.array([uv_root[0] - K[0, 0, 2], uv_root[1] - K[0, 1, 2], focal]) / scale
    np.testing.assert_allclose(joints[0, 9], xyz_root, atol=1e-6)  # keypoint 9 (middle MCP) at the root
    # Shape of the hand: the model posed with hands_mean added to the finger numbers, then translated.
    plain = HandModel(right_arrays, flat_hand_mean=True)
    full = torch.from_numpy(pose).float()
    R = axis_angle_to_matrix(torch.cat([full[:, :3], full[:, 3:] + plain.hands_mean], 1).reshape(1, 16, 3))
    ref = plain(R[:, 0], R[:, 1:], torch.from_numpy(betas).float())
    shift = torch.from_numpy(xyz_root).float() - ref.joints[0, 9]
    np.testing.assert_allclose(verts[0], (ref.vertices[0] + shift).numpy(), atol=1e-6)
    assert verts.dtype == np.float32 and verts.shape == (1, 778, 3) and joints.shape == (1, 21, 3)


@pytest.mark.parametrize("placement", ["transl", "joints", "vertices"])
def test_round_trip(right_arrays: HandModelArrays, placement: str) -> None:
    model = HandModel(right_arrays)
    pose, betas, transl, K = _sample(5)
    out = model(
        torch.from_numpy(pose[:, :3]).float(),
        torch.from_numpy(pose[:, 3:]).float(),
        torch.from_numpy(betas).float(),
        torch.from_numpy(transl).float(),
    )
    given = {"transl": transl, "joints": out.joints.detach().numpy(), "vertices": out.vertices.detach().numpy()}
    mano61 = mesh_to_freihand_mano(pose, betas, K, model, **{placement: given[placement]})
    assert mano61.shape == (5, 61)
    np.testing.assert_array_equal(mano61[:, :58], np.concatenate([pose, betas], 1))
    verts, joints = freihand_mano_to_mesh(mano61, K, model)
    np.testing.assert_allclose(verts, out.vertices.detach().numpy(), atol=2e-6)
    np.testing.assert_allclose(joints, out.joints.detach().numpy(), atol=2e-6)


def test_root_projects_to_uv_root_when_focal_lengths_agree(right_arrays: HandModelArrays) -> None:
    model = HandModel(right_arrays)
    pose, betas, transl, K = _sample(4, seed=3)
    K[:, 1, 1] = K[:, 0, 0]
    mano61 = mesh_to_freihand_mano(pose, betas, K, model, transl=transl)
    _, joints = freihand_mano_to_mesh(mano61, K, model)
    uv = project_points(torch.from_numpy(joints[:, 9:10]).double(), torch.from_numpy(K))[:, 0]
    np.testing.assert_allclose(uv.numpy(), mano61[:, 58:60], atol=1e-3)


def test_torch_input_is_differentiable_and_json_nesting_accepted(right_arrays: HandModelArrays) -> None:
    model = HandModel(right_arrays)
    pose, betas, transl, K = _sample(3, seed=4)
    mano61 = mesh_to_freihand_mano(pose, betas, K, model, transl=transl)
    t = torch.from_numpy(mano61).float().requires_grad_(True)
    verts, joints = freihand_mano_to_mesh(t, torch.from_numpy(K).float(), model)
    joints.sum().backward()
    assert t.grad is not None and torch.isfinite(t.grad).all()
    nested_v, _ = freihand_mano_to_mesh(mano61[:, None, :], K[0], model)  # (N, 1, 61) as the json stores it, one K
    K0 = np.broadcast_to(K[0], K.shape)
    np.testing.assert_allclose(nested_v, freihand_mano_to_mesh(mano61, K0, model)[0], atol=0)


def test_bad_input(right_arrays: HandModelArrays) -> None:
    model = HandModel(right_arrays)
    pose, betas, transl, K = _sample(2)
    with pytest.raises(ValueError, match=r"mano61: expected shape \(N, 61\)"):
        freihand_mano_to_mesh(np.zeros((2, 60)), K, model)
    with pytest.raises(ValueError, match=r"K: expected shape"):
        freihand_mano_to_mesh(np.zeros((2, 61)), np.zeros((3, 3, 3)), model)
    with pytest.raises(ValueError, match="exactly one of"):
        mesh_to_freihand_mano(pose, betas, K, model)
    with pytest.raises(ValueError, match="not in front of the camera"):
        mesh_to_freihand_mano(pose, betas, K, model, transl=transl * np.array([1, 1, -1]))
    with pytest.raises(ValueError, match="right hands"):
        freihand_mano_to_mesh(np.zeros((1, 61)), K[:1], HandModel(mirror_model_arrays(right_arrays)))
