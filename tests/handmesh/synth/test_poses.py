"""Pose sampling: anatomical axes of the open hand, flexion towards the palm, limits, self-intersection."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from handmesh.geometry.rotations import axis_angle_to_matrix
from handmesh.hand_model import build_hand_model
from handmesh.synth.poses import (
    FINGER_LIMITS,
    INTERSECTION_TOLERANCE,
    HandFrame,
    _segment_distance,
    curl_pose,
    rotation_matrix,
    sample_finger_pose,
    sample_global_rotation,
    self_penetration,
)


@pytest.fixture(scope="module")
def right():
    return build_hand_model("open", side="right")


@pytest.fixture(scope="module")
def left():
    return build_hand_model("open", side="left")


def pose(model, finger_aa: np.ndarray, R: np.ndarray | None = None):
    n = len(finger_aa)
    R = np.repeat(np.eye(3)[None], n, 0) if R is None else R
    with torch.no_grad():
        return model(
            torch.as_tensor(R, dtype=torch.float32),
            axis_angle_to_matrix(torch.as_tensor(finger_aa, dtype=torch.float32)),
            torch.zeros(n, 10),
        )


@pytest.mark.parametrize("side", ["right", "left"])
def test_canonical_rotation_shows_the_palm_fingers_up(side: str, right, left) -> None:
    model = right if side == "right" else left
    frame = HandFrame.from_model(model)
    np.testing.assert_allclose(
        np.stack([frame.thumbward, frame.up, frame.palm]) @ np.stack([frame.thumbward, frame.up, frame.palm]).T,
        np.eye(3),
        atol=1e-9,
    )
    R = frame.canonical_rotation()
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-9)
    assert np.linalg.det(R) > 0
    j = pose(model, np.zeros((1, 15, 3)), R[None]).joints[0].numpy()
    assert j[12, 1] < j[0, 1] - 0.1  # middle fingertip above the wrist (image y points down)
    # Palm towards the camera: a right thumb appears on the image's right, a left thumb on its left.
    thumb_x = j[4, 0] - j[0, 0]
    assert thumb_x > 0.02 if side == "right" else thumb_x < -0.02


@pytest.mark.parametrize("side", ["right", "left"])
def test_positive_flexion_curls_towards_the_palm(side: str, right, left) -> None:
    model = right if side == "right" else left
    frame = HandFrame.from_model(model)
    flat_out = pose(model, np.zeros((1, 15, 3)))
    flat, flat16 = flat_out.joints[0].numpy(), flat_out.joints16[0].numpy()
    for finger, (mcp, tip) in enumerate([(5, 8), (9, 12), (13, 16), (17, 20)]):
        aa = np.zeros((1, 15, 3))
        jid = (1, 4, 10, 7)[finger]  # MANO MCP joints of index, middle, ring, pinky
        aa[0, jid - 1] = 1.0 * frame.flex_axes[jid - 1]
        bent_out = pose(model, aa)
        bent = bent_out.joints[0].numpy()
        assert np.dot(bent[tip] - flat[tip], frame.palm) > 0.02, finger
        assert np.linalg.norm(bent_out.joints16[0, jid].numpy() - flat16[jid]) < 1e-5  # the bend is about the MCP
        assert np.linalg.norm(bent[mcp] - flat[mcp]) < 3e-3  # whose keypoint, on the bent mesh, barely moves


def test_sampled_poses_respect_limits_and_rarely_intersect(right) -> None:
    frame = HandFrame.from_model(right)
    rng = np.random.default_rng(0)
    aa = np.stack([sample_finger_pose(rng, frame) for _ in range(200)])
    flex = np.einsum("nkc,kc->nk", aa, frame.flex_axes)
    long_fingers = [j - 1 for j in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)]
    levels = np.array([(j - 1) % 3 for j in range(1, 13)])
    lo = np.array([FINGER_LIMITS[lv][0] for lv in levels])
    hi = np.array([FINGER_LIMITS[lv][1] for lv in levels])
    assert np.all(flex[:, long_fingers] >= lo - 1e-9) and np.all(flex[:, long_fingers] <= hi + 1e-9)
    assert flex[:, long_fingers].std() > 0.3  # open hands and fists both occur
    depth = self_penetration(pose(right, aa).joints.numpy(), frame)
    assert 0.3 < np.mean(depth <= INTERSECTION_TOLERANCE) <= 1.0
    assert self_penetration(pose(right, np.zeros((1, 15, 3))).joints.numpy(), frame)[0] == 0.0


def test_crossed_fingers_are_detected(right) -> None:
    frame = HandFrame.from_model(right)
    aa = np.zeros((1, 15, 3))
    aa[0, 0] = -0.9 * frame.spread_axes[0]  # index MCP swung hard towards the middle finger
    aa[0, 3] = 0.9 * frame.spread_axes[3]  # middle MCP swung towards the index
    assert self_penetration(pose(right, aa).joints.numpy(), frame)[0] > INTERSECTION_TOLERANCE
    fist = curl_pose(frame, np.ones(5) * 0.9)
    assert self_penetration(pose(right, fist[None]).joints.numpy(), frame)[0] <= INTERSECTION_TOLERANCE


def test_segment_distance_matches_dense_sampling() -> None:
    rng = np.random.default_rng(1)
    p0, p1, q0, q1 = rng.normal(size=(4, 50, 3))
    t = np.linspace(0, 1, 401)
    P = p0[:, None] + (p1 - p0)[:, None] * t[None, :, None]
    Q = q0[:, None] + (q1 - q0)[:, None] * t[None, :, None]
    brute = np.linalg.norm(P[:, :, None] - Q[:, None, :], axis=-1).min(axis=(1, 2))
    np.testing.assert_allclose(_segment_distance(p0, p1, q0, q1), brute, atol=5e-3)


def test_global_rotations_are_rotations_and_mostly_frontal(right) -> None:
    frame = HandFrame.from_model(right)
    rng = np.random.default_rng(2)
    Rs = np.stack([sample_global_rotation(rng, frame) for _ in range(300)])
    np.testing.assert_allclose(Rs @ Rs.transpose(0, 2, 1), np.broadcast_to(np.eye(3), Rs.shape), atol=1e-9)
    palm_z = (Rs @ frame.palm)[:, 2]
    assert np.mean(np.abs(palm_z) > 0.3) > 0.6  # the palm or the back mostly faces the camera
    assert 0.3 < np.mean(palm_z < 0) < 0.7
    np.testing.assert_allclose(rotation_matrix(np.array([0, 0, np.pi / 2])) @ [1, 0, 0], [0, 1, 0], atol=1e-12)


def winding_numbers(verts: np.ndarray, faces: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Generalized winding number of a closed mesh at each point (1 inside, 0 outside, 1/2 on the surface);
    Van Oosterom & Strackee's solid angle per triangle."""
    a, b, c = (verts[faces[:, k]][None] - points[:, None] for k in range(3))
    la, lb, lc = (np.linalg.norm(x, axis=-1) for x in (a, b, c))
    num = np.einsum("pfi,pfi->pf", a, np.cross(b, c))
    den = (
        la * lb * lc
        + np.einsum("pfi,pfi->pf", a, b) * lc
        + np.einsum("pfi,pfi->pf", b, c) * la
        + np.einsum("pfi,pfi->pf", c, a) * lb
    )
    return (2 * np.arctan2(num, den)).sum(1) / (4 * np.pi)


@pytest.mark.slow
def test_accepted_poses_rarely_intersect_the_mesh(right) -> None:
    # Exact check of the capsule proxy: a vertex inside the hand (winding number ~1.5: its own surface plus
    # another part around it) means the skin passes through itself.
    from handmesh.synth.sampler import HandSampler, rng_for

    sampler = HandSampler(right)
    faces = right.faces.numpy()
    n = 100
    aa, betas = sampler._poses([rng_for(1, "training", i, 0) for i in range(n)])
    rng = np.random.default_rng(5)
    raw = np.stack([sample_finger_pose(rng, sampler.frame) for _ in range(n)])

    def bad_fraction(finger_aa: np.ndarray) -> float:
        verts = pose(right, finger_aa).vertices.double().numpy()
        inside = [int((winding_numbers(v, faces, v) > 0.9).sum()) for v in verts]
        return float(np.mean(np.array(inside) > 10))

    accepted, unfiltered = bad_fraction(aa), bad_fraction(raw)
    assert accepted <= 0.04
    assert accepted < unfiltered
