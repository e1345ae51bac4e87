"""align_w_scale equals the per-sample official definition and undoes similarity transforms."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import orthogonal_procrustes
from scipy.spatial.transform import Rotation

from handmesh.metrics.alignment import align_by_trafo, align_w_scale


def reference_align(gt: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, tuple]:
    """One sample, step by step from the protocol: centre, divide by (Frobenius norm + 1e-8), orthogonal
    Procrustes (scipy), apply to the prediction, rescale by the ground truth's norm, add its centroid."""
    t1, t2 = gt.mean(0), pred.mean(0)
    a, b = gt - t1, pred - t2
    s1, s2 = np.linalg.norm(a) + 1e-8, np.linalg.norm(b) + 1e-8
    a, b = a / s1, b / s2
    R, s = orthogonal_procrustes(a, b)
    return b @ R.T * s * s1 + t1, (R, s, s1, t1 - t2)


def _random_sets(rng: np.random.Generator, n: int, p: int) -> tuple[np.ndarray, np.ndarray]:
    gt = rng.normal(size=(n, p, 3)) * 0.05 + rng.normal(size=(n, 1, 3)) * [0.1, 0.1, 0.3] + [0, 0, 0.6]
    pred = gt + rng.normal(size=gt.shape) * rng.uniform(0.001, 0.05, size=(n, 1, 1))
    pred[::4] = pred[::4] * [-1, 1, 1]  # mirrored predictions: the alignment may become a reflection
    pred[1::5] = rng.normal(size=pred[1::5].shape)  # unrelated predictions
    return gt, pred


@pytest.mark.parametrize("points", [21, 778])
def test_equals_reference(points: int) -> None:
    rng = np.random.default_rng(points)
    gt, pred = _random_sets(rng, 40, points)
    got, trafo = align_w_scale(gt, pred, return_trafo=True)
    for i in range(len(gt)):
        ref, (R, s, s1, t) = reference_align(gt[i], pred[i])
        np.testing.assert_allclose(got[i], ref, rtol=0, atol=1e-12)
        np.testing.assert_allclose(trafo.rotation[i], R, atol=1e-9)
        np.testing.assert_allclose([trafo.scale[i], trafo.gt_norm[i]], [s, s1], rtol=1e-12)
        np.testing.assert_allclose(trafo.translation[i], t, atol=1e-15)
    assert (np.linalg.det(trafo.rotation[::4]) < 0).any()  # no reflection fix, as officially


def test_single_sample_shape() -> None:
    rng = np.random.default_rng(1)
    gt, pred = rng.normal(size=(21, 3)), rng.normal(size=(21, 3))
    np.testing.assert_allclose(align_w_scale(gt, pred), reference_align(gt, pred)[0], atol=1e-12)


def test_similarity_copy_aligns_exactly() -> None:
    rng = np.random.default_rng(2)
    gt = rng.normal(size=(10, 778, 3)) * 0.05
    R = Rotation.random(10, random_state=3).as_matrix()
    pred = np.einsum("nij,npj->npi", R, gt) * rng.uniform(0.5, 2, (10, 1, 1)) + rng.normal(size=(10, 1, 3))
    np.testing.assert_allclose(align_w_scale(gt, pred), gt, atol=1e-9)


def test_without_reflection_a_mirror_image_stays_wrong() -> None:
    """allow_reflection=False is Kabsch's best rotation (with scale): it equals the official alignment where that is
    a rotation, never returns a reflection, and leaves a mirror-image hand far from the truth."""
    rng = np.random.default_rng(5)
    gt, pred = _random_sets(rng, 40, 21)
    official, off = align_w_scale(gt, pred, return_trafo=True)
    proper, trafo = align_w_scale(gt, pred, return_trafo=True, allow_reflection=False)
    assert (np.linalg.det(trafo.rotation) > 0).all()
    rotation = np.linalg.det(off.rotation) > 0
    np.testing.assert_allclose(proper[rotation], official[rotation], atol=1e-12)
    err = lambda a: np.square(a - gt).sum(axis=(-2, -1))  # noqa: E731  (the least-squares objective)
    assert (err(proper) >= err(official) - 1e-12).all() and (err(proper) > err(official) + 1e-3).any()
    # A rotated, scaled and mirrored copy: a perfect fit only with the reflection.
    hand = rng.normal(size=(21, 3)) * [0.05, 0.03, 0.01]
    mirrored = hand * [-1, 1, 1] @ Rotation.random(random_state=6).as_matrix().T * 1.3
    near = lambda a: np.linalg.norm(a - hand, axis=-1).mean()  # noqa: E731
    assert near(align_w_scale(hand, mirrored)) < 1e-6
    assert near(align_w_scale(hand, mirrored, allow_reflection=False)) > 0.005
    # Kabsch: no rotation does better than the one it returns.
    best = np.square(proper[0] - gt[0]).sum()
    for R in Rotation.random(200, random_state=7).as_matrix():
        b = (pred[0] - pred[0].mean(0)) @ R.T
        scale = max((b * (gt[0] - gt[0].mean(0))).sum() / (b * b).sum(), 0.0)
        assert np.square(b * scale + gt[0].mean(0) - gt[0]).sum() >= best - 1e-9


def test_zero_prediction_collapses_to_centroid() -> None:
    gt = np.random.default_rng(4).normal(size=(3, 21, 3))
    np.testing.assert_allclose(
        align_w_scale(gt, np.zeros_like(gt)), np.repeat(gt.mean(1, keepdims=True), 21, 1), atol=1e-12
    )


def test_align_by_trafo_official_formula() -> None:
    rng = np.random.default_rng(5)
    gt, pred = _random_sets(rng, 8, 21)
    verts = rng.normal(size=(8, 500, 3)) * 0.05 + pred.mean(1, keepdims=True)
    _, trafo = align_w_scale(gt, pred, return_trafo=True)
    got = align_by_trafo(verts, trafo)
    for i in range(8):
        _, (R, s, s1, t) = reference_align(gt[i], pred[i])
        t2 = verts[i].mean(0)
        np.testing.assert_allclose(got[i], (verts[i] - t2) @ R.T * s * s1 + t + t2, atol=1e-12)


def test_shape_mismatch() -> None:
    with pytest.raises(ValueError, match="align_w_scale"):
        align_w_scale(np.zeros((2, 21, 3)), np.zeros((2, 20, 3)))
