"""The fit's skeleton and rotation helpers: forward kinematics equal to the hand model's, Jacobians equal to finite
differences, and the so(3) maps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from handmesh.fitting.skeleton import NUM_PARAMS, Skeleton
from handmesh.fitting.so3 import exp_map, kabsch, log_map, right_jacobian, rotation_between
from handmesh.hand_model import HandModel, build_hand_model
from handmesh.testing.mano_standin import standin_model_arrays


@pytest.fixture(scope="module", params=["open", "mano-standin"])
def model(request: pytest.FixtureRequest) -> HandModel:
    if request.param == "open":
        return build_hand_model("open", "right")
    return HandModel(standin_model_arrays(seed=0))


def _random_pose(sk: Skeleton, seed: int, B: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (
        exp_map(rng.normal(size=(B, 3))),
        rng.uniform(sk.lower, sk.upper, size=(B, 15, 3)),
        rng.normal(size=(B, 3)) * 0.1 + [0.0, 0.0, 0.5],
        rng.normal(size=(B, 10)) * 0.5,
    )


def test_forward_kinematics_match_the_hand_model(model: HandModel) -> None:
    sk = Skeleton(model)
    R0, phi, t, betas = _random_pose(sk, 0)
    pose = sk.forward(R0, phi, t, sk.rest(betas))
    with torch.no_grad():
        out = model(torch.as_tensor(pose.local[:, 0]), torch.as_tensor(pose.local[:, 1:]), torch.as_tensor(betas))
    # The fit models the skeleton's joints (and the fingertip vertices): the chain's, not the regressed keypoints.
    skeleton = torch.cat([out.joints16, out.vertices[:, model.tip_vertex_ids]], dim=1)[:, model.mano16_to_21]
    joints = skeleton.double().numpy()
    joints = joints - joints[:, :1] + t[:, None]
    np.testing.assert_allclose(pose.keypoints, joints, atol=1e-5)  # float32 model against float64 skeleton
    # The hand's keypoints (FreiHAND's definition, on the posed mesh) are the same points up to the mesh's
    # non-rigid deformation.
    regressed = out.joints.double().numpy()
    assert np.abs(regressed - regressed[:, :1] + t[:, None] - pose.keypoints).max() < 0.006


def test_jacobians_match_finite_differences(model: HandModel) -> None:
    sk = Skeleton(model)
    R0, phi, t, betas = _random_pose(sk, 1, B=2)
    rest = sk.rest(betas)
    pose = sk.forward(R0, phi, t, rest)
    offsets = np.random.default_rng(2).normal(size=(21, 3)) * 0.005
    points = sk.shifted(pose, offsets)
    jac, jac_shape = sk.jacobian(pose, points), sk.shape_jacobian(pose)
    eps = 1e-6
    for p in range(NUM_PARAMS):
        d = np.zeros(NUM_PARAMS)
        d[p] = eps
        moved = sk.forward(exp_map(np.broadcast_to(d[:3], (2, 3))) @ R0, phi + d[6:].reshape(15, 3), t + d[3:6], rest)
        # The fingertips' pose blend shapes are left out of the Jacobian: a few millimetres per radian there.
        np.testing.assert_allclose((sk.shifted(moved, offsets) - points) / eps, jac[..., p], atol=2e-2)
        body = [i for i in range(21) if i % 4 != 0 or i == 0]
        np.testing.assert_allclose(
            ((sk.shifted(moved, offsets) - points) / eps)[:, body], jac[..., p][:, body], atol=2e-5
        )
    for k in range(10):
        d = np.zeros(10)
        d[k] = eps
        moved = sk.forward(R0, phi, t, sk.rest(betas + d))
        np.testing.assert_allclose((moved.keypoints - pose.keypoints) / eps, jac_shape[..., k], atol=2e-6)


def test_angles_round_trip_and_clamp(model: HandModel) -> None:
    sk = Skeleton(model)
    _, phi, _, _ = _random_pose(sk, 3)
    np.testing.assert_allclose(sk.angles_from_rotations(sk.rotations_from_angles(phi)), phi, atol=1e-9)
    wild = phi * 5.0
    clamped = sk.clamp(wild)
    assert np.all(clamped >= sk.lower) and np.all(clamped <= sk.upper)


def test_so3_maps() -> None:
    rng = np.random.default_rng(4)
    w = rng.normal(size=(200, 3))
    w[0], w[1], w[2] = 0.0, [np.pi, 0.0, 0.0], [0.0, 1e-9, np.pi - 1e-7]
    R = exp_map(w)
    np.testing.assert_allclose(R @ np.swapaxes(R, 1, 2), np.broadcast_to(np.eye(3), R.shape), atol=1e-12)
    np.testing.assert_allclose(exp_map(log_map(R)), R, atol=1e-9)
    assert np.all(np.linalg.norm(log_map(R), axis=1) <= np.pi + 1e-9)
    v, dv = rng.normal(size=3), rng.normal(size=3) * 1e-6
    np.testing.assert_allclose(exp_map(v + dv), exp_map(v) @ exp_map(right_jacobian(v) @ dv), atol=1e-11)
    a, b = rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
    b[0] = -a[0]  # opposite directions
    Rab = rotation_between(a, b)
    unit = lambda x: x / np.linalg.norm(x, axis=-1, keepdims=True)  # noqa: E731
    np.testing.assert_allclose(np.einsum("nij,nj->ni", Rab, unit(a)), unit(b), atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(Rab), 1.0, atol=1e-9)
    Rt = exp_map(rng.normal(size=3))
    src = rng.normal(size=(6, 3))
    np.testing.assert_allclose(kabsch(src, src @ Rt.T), Rt, atol=1e-9)
