"""Projections: pinhole against a hand computation, the weak-perspective crop camera and its perspective twin."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from handmesh.geometry.projection import (
    crop_normalized_to_pixels,
    crop_pixels_to_normalized,
    project_pinhole,
    project_points,
    weak_perspective_project,
    weak_perspective_to_translation,
)


def test_project_points_by_hand() -> None:
    K = torch.tensor([[500.0, 0.0, 320.0], [0.0, 400.0, 240.0], [0.0, 0.0, 1.0]])
    xyz = torch.tensor([[[0.1, -0.05, 0.5], [0.0, 0.0, 2.0]]])
    uv = project_points(xyz, K)
    expected = torch.tensor([[[320.0 + 500 * 0.2, 240.0 - 400 * 0.1], [320.0, 240.0]]])
    torch.testing.assert_close(uv, expected)


def test_project_points_batched_intrinsics_broadcast() -> None:
    g = torch.Generator().manual_seed(0)
    xyz = torch.rand(4, 7, 3, generator=g) + torch.tensor([0.0, 0.0, 0.5])
    K = torch.eye(3).repeat(4, 1, 1)
    K[:, 0, 0] = torch.tensor([100.0, 200.0, 300.0, 400.0])
    K[:, 1, 1] = K[:, 0, 0]
    K[:, :2, 2] = 50.0
    uv = project_points(xyz, K)
    for b in range(4):
        torch.testing.assert_close(uv[b], project_points(xyz[b], K[b]))
        manual = (K[b] @ xyz[b].T).T
        torch.testing.assert_close(uv[b], manual[:, :2] / manual[:, 2:])


def test_project_points_bad_shapes() -> None:
    with pytest.raises(ValueError, match="xyz"):
        project_points(torch.zeros(5, 2), torch.eye(3))
    with pytest.raises(ValueError, match="K"):
        project_points(torch.zeros(5, 3), torch.eye(4))


def test_project_pinhole_matches_the_matrix_form_with_skew() -> None:
    rng = np.random.default_rng(0)
    xyz = rng.uniform(-0.2, 0.2, (2, 9, 3)) + np.array([0.0, 0.0, 0.6])
    K = np.array([[480.0, 3.5, 311.0], [0.0, 470.0, 229.0], [0.0, 0.0, 1.0]])
    uv = project_pinhole(xyz, K)
    assert uv.shape == (2, 9, 2)
    expected = project_points(torch.from_numpy(xyz), torch.from_numpy(K)).numpy()
    np.testing.assert_allclose(uv, expected, rtol=0, atol=1e-9)


def test_project_pinhole_zero_skew_is_the_per_axis_formula_exactly() -> None:
    # Synthetic data is reproducible byte for byte: the zero-skew result must not change at the last bit.
    rng = np.random.default_rng(1)
    xyz = rng.uniform(-0.2, 0.2, (50, 3)) + np.array([0.0, 0.0, 0.6])
    K = np.array([[480.0, 0.0, 311.0], [0.0, 470.0, 229.0], [0.0, 0.0, 1.0]])
    by_axis = np.stack([xyz[:, 0] / xyz[:, 2] * 480.0 + 311.0, xyz[:, 1] / xyz[:, 2] * 470.0 + 229.0], axis=1)
    assert np.array_equal(project_pinhole(xyz, K), by_axis)


def test_project_pinhole_min_depth_and_bad_shapes() -> None:
    K = np.array([[100.0, 0.0, 50.0], [0.0, 100.0, 50.0], [0.0, 0.0, 1.0]])
    at_camera = np.array([[0.01, 0.0, 0.0], [0.01, 0.0, 0.5]])
    with np.errstate(divide="ignore", invalid="ignore"):
        unguarded = project_pinhole(at_camera, K)
    assert np.isinf(unguarded[0, 0]) and np.isnan(unguarded[0, 1])  # x/0 and 0/0: the formula as it is
    guarded = project_pinhole(at_camera, K, min_depth=1e-6)
    assert np.isfinite(guarded).all() and guarded[0, 0] == pytest.approx(0.01 / 1e-6 * 100.0 + 50.0)
    assert guarded[1].tolist() == [52.0, 50.0]
    with pytest.raises(ValueError, match="points"):
        project_pinhole(np.zeros((4, 2)), K)
    with pytest.raises(ValueError, match="K"):
        project_pinhole(np.zeros((4, 3)), np.eye(4))


def test_weak_perspective_project_formula() -> None:
    points = torch.tensor([[[0.01, 0.02, 0.3], [-0.05, 0.0, -0.1]]])
    cam = torch.tensor([[8.0, 0.1, -0.2]])
    uv = weak_perspective_project(points, cam)
    torch.testing.assert_close(uv, torch.tensor([[[8 * 0.11, 8 * -0.18], [8 * 0.05, 8 * -0.2]]]))
    with pytest.raises(ValueError, match="cam"):
        weak_perspective_project(points, torch.zeros(2, 3))


def test_translation_reproduces_weak_perspective_at_the_root() -> None:
    """Root-relative points projected by a centred pinhole after the translation land, at the root and to first order
    around it, where the weak-perspective camera puts them."""
    S, f = 224, 500.0
    cam = torch.tensor([[6.0, 0.02, -0.03], [9.0, -0.01, 0.0]])
    t = weak_perspective_to_translation(cam, f, S)
    torch.testing.assert_close(t[:, 2], 2 * f / (S * cam[:, 0]))
    K = torch.tensor([[f, 0.0, S / 2], [0.0, f, S / 2], [0.0, 0.0, 1.0]])
    # Points in a plane at the root depth (z = 0 root-relative): perspective == weak perspective exactly.
    pts = torch.tensor([[[0.0, 0.0, 0.0], [0.03, -0.02, 0.0]]]).repeat(2, 1, 1)
    uv_px = project_points(pts + t[:, None], K)
    uv_norm = weak_perspective_project(pts, cam)
    torch.testing.assert_close(crop_pixels_to_normalized(uv_px, S), uv_norm, atol=1e-5, rtol=0)
    torch.testing.assert_close(crop_normalized_to_pixels(uv_norm, S), uv_px, atol=1e-3, rtol=0)


def test_translation_focal_per_sample() -> None:
    cam = torch.tensor([[5.0, 0.0, 0.0], [10.0, 0.0, 0.0]])
    t = weak_perspective_to_translation(cam, torch.tensor([400.0, 800.0]), 256)
    torch.testing.assert_close(t[:, 2], torch.tensor([2 * 400 / (256 * 5.0), 2 * 800 / (256 * 10.0)]))
    with pytest.raises(ValueError, match="focal"):
        weak_perspective_to_translation(cam, torch.ones(3), 256)
