"""Nearest-neighbour distances and F-scores: exact against brute force, and hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from handmesh.metrics.fscore import fscore, nearest_distances


def brute_nearest(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    return np.array([[np.sqrt(((dst[n] - p) ** 2).sum(-1)).min() for p in src[n]] for n in range(len(src))])


def reference_fscore(gt: np.ndarray, pred: np.ndarray, th: float) -> float:
    """One sample from the definition: nearest distances both ways, strict threshold, harmonic mean."""
    d_gt = np.sqrt(((gt[:, None] - pred[None]) ** 2).sum(-1)).min(1)
    d_pred = np.sqrt(((pred[:, None] - gt[None]) ** 2).sum(-1)).min(1)
    p, r = float((d_pred < th).mean()), float((d_gt < th).mean())
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


@pytest.mark.parametrize("limit", [np.inf, 0.015])
@pytest.mark.parametrize("stretch", [(1, 1, 1), (1, 3, 1), (0.5, 1, 4)])  # the sweep runs along the longest axis
def test_nearest_exact(limit: float, stretch: tuple[float, float, float]) -> None:
    rng = np.random.default_rng(0)
    src = rng.normal(size=(6, 300, 3)) * 0.03 * np.array(stretch)
    dst = src[:, rng.permutation(300)[:250]] + rng.normal(size=(6, 250, 3)) * 0.01
    ref = brute_nearest(src, dst)
    got = nearest_distances(src, dst, limit)
    within = ref <= limit
    np.testing.assert_array_equal(got[within], ref[within])  # bit-identical distances
    assert np.isinf(got[~within]).all()
    assert within.mean() > 0.3


def test_fscore_equals_reference_on_random_sets() -> None:
    rng = np.random.default_rng(1)
    gt = rng.normal(size=(20, 778, 3)) * [0.04, 0.03, 0.015] + [0, 0, 0.5]
    pred = gt + rng.normal(size=gt.shape) * rng.uniform(0.001, 0.02, size=(20, 1, 1))
    res = fscore(gt, pred, (0.005, 0.015))
    for n in range(20):
        for k, th in enumerate((0.005, 0.015)):
            assert res.fscore[n, k] == pytest.approx(reference_fscore(gt[n], pred[n], th), abs=1e-12)


def test_hand_computed_one_to_one() -> None:
    gt = np.eye(3)[None].repeat(1, 0)  # three points 1 m apart: each point's nearest neighbour is its own copy
    gt = np.concatenate([gt, [[[0.0, 0.0, 0.0]]]], axis=1)  # (1, 4, 3)
    pred = gt + np.array([0.003, 0.010, 0.020, 0.001])[None, :, None] * [1, 0, 0]
    res = fscore(gt, pred, (0.005, 0.015))
    np.testing.assert_allclose(res.precision, [[0.5, 0.75]])
    np.testing.assert_allclose(res.recall, [[0.5, 0.75]])
    np.testing.assert_allclose(res.fscore, [[0.5, 0.75]])


def test_hand_computed_asymmetric() -> None:
    gt = np.array([[[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]]], dtype=float)
    pred = np.array([[[0.001, 0, 0], [1.002, 0, 0]]])
    res = fscore(gt, pred, (0.005,))
    assert res.precision[0, 0] == 1.0  # both predicted points are near the ground truth
    assert res.recall[0, 0] == 0.5  # half of the ground truth is covered
    assert res.fscore[0, 0] == pytest.approx(2 * 1.0 * 0.5 / 1.5)


def test_threshold_is_strict_and_far_is_zero() -> None:
    gt = np.zeros((1, 1, 3))
    pred = np.array([[[0.25, 0.0, 0.0]]])  # exactly representable distance
    assert fscore(gt, pred, (0.25,)).fscore[0, 0] == 0.0  # d < t, not <=
    assert fscore(gt, pred, (0.2500001,)).fscore[0, 0] == 1.0
    assert fscore(gt, pred + 10, (0.015,)).fscore[0, 0] == 0.0
