"""Skinning weights: convex, smooth, and local to each digit; bending one joint moves only its own digit."""

from __future__ import annotations

import numpy as np
import pytest

from handmesh.open_hand.skeleton import DIGIT_JOINTS, DIGITS

JOINT_DIGIT = {j: name for name, ids in DIGIT_JOINTS.items() for j in ids}


def _polyline_distance(points: np.ndarray, polyline: np.ndarray) -> np.ndarray:
    best = np.full(len(points), np.inf)
    for a, b in zip(polyline[:-1], polyline[1:]):
        seg = b - a
        t = np.clip((points - a) @ seg / (seg @ seg), 0.0, 1.0)
        best = np.minimum(best, np.linalg.norm(points - (a + t[:, None] * seg), axis=1))
    return best


def _digit_geometry(asset):
    """Rest joints, and for every vertex its distance to each digit's bone polyline (joints and tip vertex)."""
    v = asset["v_template"].astype(np.float64)
    joints = asset["J_regressor"].astype(np.float64) @ v
    tips = v[asset["tip_vertex_ids"]]
    chains = [np.vstack([joints[list(DIGIT_JOINTS[name])], tips[i]]) for i, name in enumerate(DIGITS)]
    dist = np.stack([_polyline_distance(v, chain) for chain in chains], axis=1)
    return v, joints, tips, dist


def test_weights_are_convex(asset):
    w = asset["weights"].astype(np.float64)
    assert w.min() >= 0.0
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-5)


def test_weights_change_smoothly_across_edges(asset):
    # The mesh is coarse (edges of 5-10 mm) and a joint's transition is about a centimetre wide, so one edge may
    # carry much of it; what must not happen is a weight flipping over a short distance.
    v = asset["v_template"].astype(np.float64)
    w = asset["weights"].astype(np.float64)
    f = asset["faces"].astype(np.int64)
    edges = np.unique(np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1), axis=0)
    jump = np.abs(w[edges[:, 0]] - w[edges[:, 1]]).max(axis=1)
    length = np.linalg.norm(v[edges[:, 0]] - v[edges[:, 1]], axis=1)
    assert jump.max() < 0.9
    assert (jump / length).max() < 200.0  # per metre: no weight goes from 0 to 1 in less than 5 mm


def test_palm_follows_the_wrist_and_each_digit_its_own_joints(asset):
    v, joints, tips, dist = _digit_geometry(asset)
    w = asset["weights"].astype(np.float64)
    # The middle of the palm follows the wrist, nearly all of it (the thumb's first joint pulls a little at the
    # skin towards the thumb, as the thumb's metacarpal does).
    middle = (np.abs(v[:, 0] - 0.055) < 0.012) & (np.abs(v[:, 2]) < 0.01)
    back, front = middle & (v[:, 1] > 0.005), middle & (v[:, 1] < -0.005)
    assert back.sum() > 2 and front.sum() > 2
    assert w[back, 0].min() > 0.93
    assert w[front, 0].min() > 0.9
    assert w[middle][:, 1:13].max() == 0.0  # no finger joint reaches the middle of the palm
    for i, name in enumerate(DIGITS):
        ids = list(DIGIT_JOINTS[name])
        # A centimetre past the digit's second joint, skin near the digit listens only to that digit's joints (the
        # palm keeps less than 1 %) and not at all to the digit's first joint's parent chain elsewhere.
        towards_tip = (tips[i] - joints[ids[1]]) / np.linalg.norm(tips[i] - joints[ids[1]])
        beyond = (dist[:, i] < 0.013) & ((v - joints[ids[1]]) @ towards_tip > 0.010)
        assert beyond.sum() > 20, name
        np.testing.assert_allclose(w[beyond][:, ids].sum(axis=1), 1.0, atol=0.01, err_msg=name)
        others = [j for j in range(1, 16) if j not in ids]
        assert w[beyond][:, others].max() == 0.0, name


@pytest.mark.parametrize("joint", range(1, 16), ids=lambda j: f"joint{j}")
def test_bending_one_joint_moves_only_its_digit(asset, pose_model, joint):
    v, joints, tips, dist = _digit_geometry(asset)
    digit = JOINT_DIGIT[joint]
    d = DIGITS.index(digit)
    ids = DIGIT_JOINTS[digit]
    child = joints[joint + 1] if joint != ids[-1] else tips[d]
    bone = (child - joints[joint]) / np.linalg.norm(child - joints[joint])
    axis = np.cross(bone, [0.0, 1.0, 0.0])
    axis /= np.linalg.norm(axis)
    pose = np.zeros(45)
    pose[3 * (joint - 1) : 3 * joint] = 0.9 * axis  # about 50 degrees
    posed, _ = pose_model(asset, hand_pose=pose)
    moved = np.linalg.norm(posed - v, axis=1)
    tip_moved = moved[asset["tip_vertex_ids"][d]]
    assert tip_moved > 0.01  # the digit does bend

    base_joint = joint == ids[0]
    along = (v - joints[joint]) @ bone
    others = np.delete(dist, d, axis=1).min(axis=1)
    # Skin that moves noticeably lies past the bent joint (a digit's base joint also drags the palm skin just
    # before it, and the webs beside it).
    noticeable = moved > (0.1 * tip_moved if base_joint else 0.001)
    margin = (0.022 if digit == "thumb" else 0.016) if base_joint else 0.010
    assert np.all(along[noticeable] > -margin), "skin well before the bent joint moved"
    if not base_joint:
        assert np.all(dist[noticeable, d] < others[noticeable]), "skin of another digit moved"
    # The other digits proper (past their own first joint) do not move (0.1 mm for a 50-degree bend).
    nearest = np.argmin(dist, axis=1)
    base_ids = np.array([DIGIT_JOINTS[name][0] for name in DIGITS])
    first_dir = np.array([(joints[DIGIT_JOINTS[name][1]] - joints[DIGIT_JOINTS[name][0]]) for name in DIGITS])
    first_dir /= np.linalg.norm(first_dir, axis=1, keepdims=True)
    # "Proper": past the web, i.e. beyond the middle of the digit's first bone, and clearly nearer to that digit.
    first_len = np.linalg.norm(
        np.array([joints[DIGIT_JOINTS[name][1]] - joints[DIGIT_JOINTS[name][0]] for name in DIGITS]), axis=1
    )
    past_own_base = np.einsum("vk,vk->v", v - joints[base_ids[nearest]], first_dir[nearest]) > 0.5 * first_len[nearest]
    other_digits = (nearest != d) & past_own_base & (dist[:, d] > others + 0.005)
    assert other_digits.sum() > 150
    assert moved[other_digits].max() < 1e-4
    if not base_joint:
        # A distal joint moves nothing but its own digit.
        assert moved[dist[:, d] > others + 0.001].max() < 1e-6
