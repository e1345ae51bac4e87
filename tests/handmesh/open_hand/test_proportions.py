"""The open hand sits in MANO's canonical frame with an adult's proportions, and its regressor is exact."""

from __future__ import annotations

import numpy as np

from handmesh.open_hand.skeleton import DIGIT_JOINTS, DIGITS

# MANO's right-hand template puts the wrist joint near (0.0957, 0.0064, 0.0062) m; the fingers point along -x, the
# thumb lies towards +z and the palm faces -y.
MANO_WRIST = np.array([0.0957, 0.0064, 0.0062])


def test_joint_regressor_reproduces_the_design_joints(asset, generated):
    joints = asset["J_regressor"].astype(np.float64) @ asset["v_template"].astype(np.float64)
    np.testing.assert_allclose(joints, generated.skeleton.joints, atol=2e-6, rtol=0)


def test_joint_regressor_rows_are_convex_and_local(asset):
    reg = asset["J_regressor"].astype(np.float64)
    v = asset["v_template"].astype(np.float64)
    assert reg.min() >= 0.0
    np.testing.assert_allclose(reg.sum(axis=1), 1.0, atol=1e-5)
    joints = reg @ v
    for j in range(16):
        used = reg[j] > 0
        assert used.sum() >= 4
        assert np.linalg.norm(v[used] - joints[j], axis=1).max() < 0.035, f"joint {j} reads far-away vertices"


def test_frame_matches_mano(asset):
    v = asset["v_template"].astype(np.float64)
    joints = asset["J_regressor"].astype(np.float64) @ v
    assert np.linalg.norm(joints[0] - MANO_WRIST) < 0.002
    tips = v[asset["tip_vertex_ids"]]  # thumb, index, middle, ring, pinky
    # Fingers point along -x.
    for name, tip in zip(DIGITS[1:], tips[1:]):
        base = joints[DIGIT_JOINTS[name][0]]
        direction = (tip - base) / np.linalg.norm(tip - base)
        assert direction[0] < -0.8, name
    # Thumb on the +z side, little finger on the -z side, index between.
    assert tips[0, 2] > tips[1, 2] > tips[2, 2] > tips[3, 2] > tips[4, 2]
    # The palm faces -y: the thumb sits in front of the palm, the back of the hand is +y.
    assert joints[13, 1] < joints[0, 1] and joints[13, 1] < joints[4, 1]
    palm = (v[:, 0] > 0.03) & (v[:, 0] < 0.07) & (np.abs(v[:, 2]) < 0.015)
    assert v[palm, 1].max() > 0.012 and v[palm, 1].min() < -0.008


def test_adult_size(asset):
    v = asset["v_template"].astype(np.float64)
    wrist = asset["J_regressor"][0].astype(np.float64) @ v
    middle_tip = v[asset["tip_vertex_ids"][2]]
    length = np.linalg.norm(middle_tip - wrist)
    assert 0.17 < length < 0.20
    # Palm breadth across the knuckles (thumb excluded) and palm thickness: adult values are about 8-9 cm and 3 cm.
    w = asset["weights"]
    not_thumb = w[:, 13:16].sum(axis=1) < 0.05
    knuckles = (v[:, 0] > 0.01) & (v[:, 0] < 0.04) & (w[:, 0] > 0.5)
    assert 0.075 < np.ptp(v[knuckles, 2]) < 0.095
    palm = (v[:, 0] > 0.04) & (v[:, 0] < 0.08) & not_thumb & (w[:, 0] > 0.9)
    assert 0.022 < np.ptp(v[palm, 1]) < 0.040


def test_fingertip_vertices_are_at_the_ends_of_their_digits(asset):
    v = asset["v_template"].astype(np.float64)
    joints = asset["J_regressor"].astype(np.float64) @ v
    tips = asset["tip_vertex_ids"]
    assert len(set(tips.tolist())) == 5
    for name, tip in zip(DIGITS, tips):
        j1, j2, j3 = DIGIT_JOINTS[name]
        direction = (joints[j3] - joints[j2]) / np.linalg.norm(joints[j3] - joints[j2])
        reach = (v - joints[j3]) @ direction
        # Among the vertices near this digit's last bone, the tip vertex reaches farthest.
        near = np.linalg.norm(np.cross(v - joints[j3], direction), axis=1) < 0.012
        near &= reach > 0
        assert reach[tip] == reach[near].max(), name
        assert 0.015 < reach[tip] < 0.035, name  # the distal bone plus the pad


def test_tip_vertices_follow_the_distal_joint(asset):
    w = asset["weights"]
    for name, tip in zip(DIGITS, asset["tip_vertex_ids"]):
        assert w[tip, DIGIT_JOINTS[name][2]] > 0.99, name
