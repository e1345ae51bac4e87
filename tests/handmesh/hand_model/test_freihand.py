"""FreiHAND's 61-number annotation: placement as the toolbox does it, and the round trip used by synthetic data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from handmesh.geometry.projection import project_points
from handmesh.geometry.rotations import axis_angle_to_matrix
from handmesh.hand_model.freihand import freihand_mano_to_mesh, mesh_to_freihand_mano
from handmesh.hand_model.keypoints import MANO_TIP_VERTEX_IDS
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


def _toolbox_keypoints(mano: dict, mano61: np.ndarray, K: np.ndarray, tips: tuple[int, ...]) -> np.ndarray:
    """FreiHAND's keypoints as its toolbox computes them (``utils/model.py``, ``_calc_coords``), in plain numpy
    float64 from the MANO file's own arrays: the posed mesh by linear blend skinning with the pose blend shapes
    (fingers offset by ``hands_mean``), ``J_regressor`` applied to that posed mesh, the fingertip vertices
    appended, the 21-keypoint order, and keypoint 9 placed at ``[uv_root - pp, focal] / scale``."""
    import cv2

    pose, betas, uv_root, scale = mano61[:48], mano61[48:58], mano61[58:60], mano61[60]
    pose = np.concatenate([pose[:3], pose[3:] + mano["hands_mean"]]).reshape(16, 3)
    v_shaped = mano["v_template"] + mano["shapedirs"] @ betas
    J = mano["J_regressor"] @ v_shaped
    R = np.stack([cv2.Rodrigues(p)[0] for p in pose])
    v_posed = v_shaped + mano["posedirs"] @ (R[1:] - np.eye(3)).reshape(-1)
    parents = mano["kintree_table"][0].astype(np.int64)
    G = np.zeros((16, 4, 4))
    for k in range(16):
        local = np.eye(4)
        local[:3, :3] = R[k]
        local[:3, 3] = J[k] - (J[parents[k]] if k else 0)
        G[k] = local if k == 0 else G[parents[k]] @ local
    A = G.copy()
    A[:, :3, 3] -= np.einsum("kij,kj->ki", G[:, :3, :3], J)  # transforms of the rest pose's offsets
    T = np.einsum("vk,kij->vij", mano["weights"], A)
    V = np.einsum("vij,vj->vi", T[:, :3, :3], v_posed) + T[:, :3, 3]
    xyz16 = mano["J_regressor"] @ V  # the regressor on the posed mesh
    xyz = np.concatenate([xyz16, V[list(tips)]])  # tips: thumb, index, middle, ring, pinky
    order = [0, 13, 14, 15, 16, 1, 2, 3, 17, 4, 5, 6, 18, 10, 11, 12, 19, 7, 8, 9, 20]
    xyz = xyz[order]
    focal = 0.5 * (K[0, 0] + K[1, 1])
    root = np.array([uv_root[0] - K[0, 2], uv_root[1] - K[1, 2], focal]) / scale
    return xyz - xyz[9] + root


def test_keypoints_are_freihands_calc_coords(standin_dict: dict, right_arrays: HandModelArrays) -> None:
    """The 21 keypoints of a 61-number annotation equal an independent implementation of the toolbox's
    ``_calc_coords`` (the regressor on the posed mesh, not the skeleton's joints) to 1e-6 m."""
    model = HandModel(right_arrays)
    pose, betas, _, K = _sample(4, seed=3)
    uv_root, scale = np.array([[100.0, 130.0], [90.0, 120.0], [130.0, 100.0], [110.0, 110.0]]), np.array([700.0] * 4)
    mano61 = np.concatenate([pose, betas, uv_root, scale[:, None]], 1)
    _, joints = freihand_mano_to_mesh(mano61, K, model)
    for i in range(4):
        expected = _toolbox_keypoints(standin_dict, mano61[i], K[i], MANO_TIP_VERTEX_IDS)
        np.testing.assert_allclose(joints[i], expected, atol=1e-6)
    # The skeleton's joints, what the keypoints were before, are millimetres away on these bent hands.
    out = model(*[torch.as_tensor(x, dtype=torch.float32) for x in (pose[:, :3], pose[:, 3:], betas)])
    skeleton = out.joints16 - out.joints[:, 9:10]
    regressed = torch.einsum("jv,bvc->bjc", model.J_regressor, out.vertices) - out.joints[:, 9:10]
    assert float((skeleton - regressed).norm(dim=-1).max()) > 1e-4
