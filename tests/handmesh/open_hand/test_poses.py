"""Mean pose, named poses and the pose PCA basis of the open hand."""

from __future__ import annotations

import numpy as np

from handmesh.open_hand.poses import pose_components, sample_poses
from handmesh.open_hand.skeleton import DIGIT_JOINTS


def test_hands_mean_curls_the_fingers_slightly_towards_the_palm(asset, pose_model):
    flat, _ = pose_model(asset)
    relaxed, _ = pose_model(asset, hand_pose=asset["hands_mean"].astype(np.float64))
    tips = asset["tip_vertex_ids"]
    drop = flat[tips, 1] - relaxed[tips, 1]  # towards -y, the palm side
    assert np.all(drop[1:] > 0.01) and np.all(drop[1:] < 0.06)
    # As in MANO's mean, the finger joints turn about +z (flexion) by less than a right angle.
    mean = asset["hands_mean"].reshape(15, 3)
    fingers = [j - 1 for name in ("index", "middle", "ring", "pinky") for j in DIGIT_JOINTS[name]]
    assert np.all(mean[fingers, 2] > 0.1) and np.all(np.linalg.norm(mean, axis=1) < 1.2)


def test_components_are_orthonormal_and_sign_fixed(asset):
    comps = asset["hands_components"].astype(np.float64)
    np.testing.assert_allclose(comps @ comps.T, np.eye(45), atol=1e-5)
    largest = comps[np.arange(45), np.abs(comps).argmax(axis=1)]
    assert np.all(largest > 0)


def test_leading_components_explain_new_plausible_poses(asset, generated):
    comps = asset["hands_components"].astype(np.float64)
    mean = asset["hands_mean"].astype(np.float64)
    fresh = sample_poses(generated.surface, n=2000, seed=7) - mean  # not the poses the basis was fitted to
    total = (fresh**2).sum()
    explained = lambda k: ((fresh @ comps[:k].T) ** 2).sum() / total  # noqa: E731
    assert explained(6) > 0.75
    assert explained(12) > 0.9
    assert explained(1) > explained(45) * 0.3  # the first component (overall grip) carries much of it


def test_pca_is_reproducible(generated):
    samples = sample_poses(generated.surface, n=500, seed=3)
    again = sample_poses(generated.surface, n=500, seed=3)
    np.testing.assert_array_equal(samples, again)
    a = pose_components(samples, samples.mean(axis=0))
    np.testing.assert_array_equal(a, pose_components(again, again.mean(axis=0)))


def test_pca_basis_does_not_depend_on_rounding_noise(generated, asset):
    # Shuffling the samples changes the covariance in its last bits, as another BLAS would. The stored basis
    # (rounded to 1e-7) must not move: neither the leading components nor the completion of the null space.
    samples = sample_poses(generated.surface)
    shuffled = samples[np.random.default_rng(0).permutation(len(samples))]
    a, b = pose_components(samples, generated.poses["relaxed"]), pose_components(shuffled, generated.poses["relaxed"])
    assert np.abs(a - b).max() < 1e-9
    np.testing.assert_allclose(a, asset["hands_components"], atol=1e-6)


def test_named_poses_look_like_their_names(asset, generated, pose_model):
    poses = generated.poses
    np.testing.assert_allclose(poses["relaxed"], asset["hands_mean"], atol=1e-6)
    tips = asset["tip_vertex_ids"]
    flat, joints = pose_model(asset)
    wrist = joints[0]
    reach = lambda v: np.linalg.norm(v[tips] - wrist, axis=1)  # noqa: E731 thumb, index, middle, ring, pinky
    fist, _ = pose_model(asset, hand_pose=poses["fist"])
    point, _ = pose_model(asset, hand_pose=poses["point"])
    open_, _ = pose_model(asset, hand_pose=poses["open"])
    assert np.all(reach(fist)[1:] < 0.6 * reach(flat)[1:])
    assert reach(point)[1] > 0.95 * reach(flat)[1] and np.all(reach(point)[2:] < 0.6 * reach(flat)[2:])
    spread = lambda v: np.linalg.norm(np.diff(v[tips[1:]], axis=0), axis=1)  # noqa: E731 gaps between finger tips
    assert np.all(spread(open_) > spread(flat))
    # In the fist the thumb lies across the fingers, in front of the palm.
    assert fist[tips[0], 1] < fist[tips[2], 1] + 0.01


def test_relaxed_pose_does_not_cross_itself(asset, pose_model):
    v, _ = pose_model(asset, hand_pose=asset["hands_mean"].astype(np.float64))
    f = asset["faces"].astype(np.int64)
    t = v[f]
    n = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    points = t.mean(axis=1) + 3e-4 * n
    a, b, c = (v[f[:, i]][None] - points[:, None] for i in range(3))
    la, lb, lc = (np.linalg.norm(x, axis=-1) for x in (a, b, c))
    dot = lambda x, y: np.einsum("pfi,pfi->pf", x, y)  # noqa: E731
    det = dot(a, np.cross(b, c))
    den = la * lb * lc + dot(a, b) * lc + dot(b, c) * la + dot(c, a) * lb
    winding = (2.0 * np.arctan2(det, den)).sum(axis=1) / (4.0 * np.pi)
    np.testing.assert_allclose(winding, 0.0, atol=0.05)
