"""One Euro filter: less jitter at rest, little lag when moving; rotations stay rotations."""

from __future__ import annotations

import numpy as np
import pytest

from handmesh.tracking import HandParamsFilter, OneEuroFilter, OneEuroParams, RotationFilter
from handmesh.tracking.one_euro import rotation_from_6d, rotation_to_6d

RATE = 30.0


def run(f: OneEuroFilter, xs: np.ndarray) -> np.ndarray:
    return np.stack([f(x, i / RATE) for i, x in enumerate(xs)])


def test_reduces_jitter_on_a_noisy_constant() -> None:
    noisy = 5.0 + np.random.default_rng(0).normal(0.0, 1.0, (300, 4))
    out = run(OneEuroFilter(OneEuroParams(min_cutoff=1.0, beta=0.0)), noisy)
    ratio = out[30:].std() / noisy[30:].std()
    assert ratio < 0.4, ratio
    assert abs(out[30:].mean() - 5.0) < 0.1  # no bias
    # With a speed term the cutoff rises a little on noise, but jitter is still cut by half.
    out_beta = run(OneEuroFilter(OneEuroParams(min_cutoff=1.0, beta=0.01)), noisy)
    assert out_beta[30:].std() / noisy[30:].std() < 0.5


def test_lags_little_on_a_ramp() -> None:
    t = np.arange(90) / RATE
    ramp = 100.0 * t  # 100 units per second
    slow = run(OneEuroFilter(OneEuroParams(min_cutoff=1.0, beta=0.0)), ramp)
    fast = run(OneEuroFilter(OneEuroParams(min_cutoff=1.0, beta=0.1)), ramp)
    lag_slow, lag_fast = ramp[-1] - slow[-1], ramp[-1] - fast[-1]
    assert lag_slow > 10.0  # a plain 1 Hz low-pass trails by about v * tau_eff
    assert lag_fast < 0.15 * lag_slow and lag_fast < 2.0  # the speed term removes most of it (< 1 frame of motion)


def test_first_sample_passes_and_timestamps_matter() -> None:
    f = OneEuroFilter(OneEuroParams(min_cutoff=1.0))
    np.testing.assert_array_equal(f(np.array([3.0, 4.0]), 0.0), [3.0, 4.0])
    a = f(np.array([13.0, 14.0]), 1.0)  # long gap: follows almost fully
    g = OneEuroFilter(OneEuroParams(min_cutoff=1.0))
    g(np.array([3.0, 4.0]), 0.0)
    b = g(np.array([13.0, 14.0]), 0.01)  # short gap: barely moves
    assert np.all(a - (3.0, 4.0) > 8.5) and np.all(b - (3.0, 4.0) < 1.0)
    # Without timestamps the filter assumes `rate` samples per second.
    h = OneEuroFilter(OneEuroParams(min_cutoff=1.0), rate=100.0)
    h(np.array([3.0, 4.0]))
    np.testing.assert_allclose(h(np.array([13.0, 14.0])), b)
    f.reset()
    assert f.value is None
    with pytest.raises(ValueError, match="shape"):
        g(np.zeros(3), 0.02)
    with pytest.raises(ValueError, match="min_cutoff"):
        OneEuroParams(min_cutoff=0.0)


def _rot(axis: np.ndarray, angle: float) -> np.ndarray:
    axis = axis / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def _angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    cos = (np.trace(np.swapaxes(a, -1, -2) @ b, axis1=-2, axis2=-1) - 1) / 2
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


def test_rotation_filter_keeps_rotations_and_smooths() -> None:
    rng = np.random.default_rng(1)
    base = np.stack([_rot(rng.normal(size=3), a) for a in (0.3, 3.1, np.pi)])  # includes angle pi
    noisy = [base @ np.stack([_rot(rng.normal(size=3), np.radians(3.0)) for _ in range(3)]) for _ in range(120)]
    f = RotationFilter()
    out = np.stack([f(R, i / RATE) for i, R in enumerate(noisy)])
    np.testing.assert_allclose(out @ np.swapaxes(out, -1, -2), np.broadcast_to(np.eye(3), out.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(out), 1.0, atol=1e-12)
    err_in = _angle(np.stack(noisy)[30:], np.broadcast_to(base, (90, 3, 3, 3))).mean()
    err_out = _angle(out[30:], np.broadcast_to(base, (90, 3, 3, 3))).mean()
    assert err_out < 0.6 * err_in, (err_in, err_out)


def test_rotation_filter_follows_a_turn_through_pi() -> None:
    axis = np.array([0.2, 1.0, 0.1])
    angles = np.linspace(2.5, 3.8, 40)  # crosses pi, where axis-angle would wrap
    f = RotationFilter()
    errs = [_angle(f(_rot(axis, a), i / RATE), _rot(axis, a)) for i, a in enumerate(angles)]
    assert max(errs) < 10.0  # 1.3 rad in 1.3 s: follows within a few degrees, no flip


def test_6d_round_trip() -> None:
    R = np.stack([_rot(np.random.default_rng(i).normal(size=3), i * 0.7) for i in range(5)])
    np.testing.assert_allclose(rotation_from_6d(rotation_to_6d(R)), R, atol=1e-12)


def test_hand_params_filter_smooths_each_parameter() -> None:
    f = HandParamsFilter()
    rng = np.random.default_rng(2)
    outs = []
    for i in range(60):
        outs.append(
            f(
                i / RATE,
                translation=np.array([0.0, 0.0, 0.5]) + rng.normal(0, 0.005, 3),
                betas=rng.normal(0, 0.1, 10),
                global_orient=np.eye(3),
                hand_pose=np.tile(np.eye(3), (15, 1, 1)),
                keypoints2d=np.full((21, 2), 100.0) + rng.normal(0, 2.0, (21, 2)),
            )
        )
    assert set(outs[0]) == {"translation", "betas", "global_orient", "hand_pose", "keypoints2d"}
    transl = np.stack([o["translation"] for o in outs[20:]])
    assert transl.std(axis=0).max() < 0.6 * 0.005
    assert np.stack([o["betas"] for o in outs[20:]]).std() < 0.5 * 0.1
    assert outs[-1]["hand_pose"].shape == (15, 3, 3)
    f.reset()
    assert f(0.0, translation=np.array([1.0, 2.0, 3.0]))["translation"].tolist() == [1.0, 2.0, 3.0]
