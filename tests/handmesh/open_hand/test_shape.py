"""Each shape direction changes what it says it changes, and little else."""

from __future__ import annotations

import numpy as np
import pytest

from handmesh.open_hand.shape_space import SHAPE_DIRECTIONS
from handmesh.open_hand.skeleton import DIGIT_JOINTS, DIGITS


def _measures(asset, v: np.ndarray, joints: np.ndarray) -> dict[str, float]:
    """Hand measurements (metres) of a shaped rest mesh and its regressed joints."""
    tips = v[asset["tip_vertex_ids"]]
    w = asset["weights"]
    out = {"hand length": np.linalg.norm(tips[2] - joints[0])}
    for i, name in enumerate(DIGITS):
        out[f"{name} length"] = np.linalg.norm(tips[i] - joints[DIGIT_JOINTS[name][0]])
    out["knuckle span"] = np.linalg.norm(joints[1] - joints[7])
    out["palm length"] = np.linalg.norm(joints[4] - joints[0])
    palm = (v[:, 0] > 0.04) & (v[:, 0] < 0.07) & (w[:, 0] > 0.9) & (np.abs(v[:, 2]) < 0.015)
    out["palm thickness"] = np.ptp(v[palm, 1])
    mid = 0.5 * (joints[5] + joints[6])  # middle finger, middle phalanx
    axis = (joints[6] - joints[5]) / np.linalg.norm(joints[6] - joints[5])
    ring = (np.abs((v - mid) @ axis) < 0.004) & (np.linalg.norm(v - mid, axis=1) < 0.02)
    out["finger girth"] = float(np.mean(np.linalg.norm(np.cross(v[ring] - mid, axis), axis=1)))
    return out


@pytest.fixture(scope="module")
def rest_measures(asset, pose_model):
    return _measures(asset, *pose_model(asset))


def _relative_change(asset, pose_model, rest_measures, index: int, amount: float = 1.0) -> dict[str, float]:
    betas = np.zeros(10)
    betas[index] = amount
    shaped = _measures(asset, *pose_model(asset, betas=betas))
    return {k: shaped[k] / rest_measures[k] - 1.0 for k in rest_measures}


# (beta index, measurements that must change by about the given fraction, measurements that must stay within 1 %)
CASES = [
    (0, {k: 0.05 for k in ("hand length", "middle length", "knuckle span", "palm length", "palm thickness")}, []),
    (
        1,
        {"index length": 0.06, "middle length": 0.06, "ring length": 0.06, "pinky length": 0.06, "thumb length": 0.06},
        ["knuckle span", "palm length", "palm thickness", "finger girth"],
    ),
    (2, {"knuckle span": 0.045}, ["middle length", "index length", "palm length", "palm thickness", "finger girth"]),
    (3, {"palm thickness": 0.075, "finger girth": 0.08}, ["knuckle span", "palm length"]),
    (4, {"palm length": 0.05}, ["middle length", "knuckle span", "palm thickness", "finger girth"]),
    (5, {"thumb length": 0.06}, ["index length", "middle length", "ring length", "pinky length", "knuckle span"]),
    (6, {"finger girth": 0.08}, ["palm thickness", "knuckle span", "palm length"]),
    (7, {"index length": 0.04, "ring length": -0.04}, ["middle length", "pinky length", "thumb length"]),
    (8, {"pinky length": 0.06}, ["index length", "middle length", "ring length", "thumb length"]),
]


@pytest.mark.parametrize("index,changes,unchanged", CASES, ids=[SHAPE_DIRECTIONS[c[0]][0] for c in CASES])
def test_shape_direction_does_what_it_says(asset, pose_model, rest_measures, index, changes, unchanged):
    rel = _relative_change(asset, pose_model, rest_measures, index)
    for key, expected in changes.items():
        assert rel[key] == pytest.approx(expected, abs=0.015), key
    for key in unchanged:
        assert abs(rel[key]) < 0.01, key


def test_size_direction_is_a_uniform_scale_about_the_wrist(asset):
    v = asset["v_template"].astype(np.float64)
    wrist = asset["J_regressor"][0].astype(np.float64) @ v
    np.testing.assert_allclose(asset["shapedirs"][:, :, 0], 0.05 * (v - wrist), atol=1e-6)


def test_negative_betas_shrink_and_last_direction_is_empty(asset, pose_model, rest_measures):
    rel = _relative_change(asset, pose_model, rest_measures, 0, amount=-2.0)
    assert rel["hand length"] == pytest.approx(-0.10, abs=0.01)
    assert not asset["shapedirs"][:, :, 9].any()


def test_shape_directions_are_smooth(asset):
    # Neighbouring vertices move alike: no tearing where the palm meets the digits.
    f = asset["faces"].astype(np.int64)
    v = asset["v_template"].astype(np.float64)
    edges = np.unique(np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1), axis=0)
    length = np.linalg.norm(v[edges[:, 0]] - v[edges[:, 1]], axis=1)
    for i in range(9):
        d = asset["shapedirs"][:, :, i].astype(np.float64)
        stretch = np.linalg.norm(d[edges[:, 0]] - d[edges[:, 1]], axis=1) / length
        assert stretch.max() < 0.35, SHAPE_DIRECTIONS[i][0]  # an edge changes length by at most 35 % per unit
