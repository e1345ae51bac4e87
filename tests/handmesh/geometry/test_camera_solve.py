"""Camera solve: a hand placed at a known translation, projected with K, cropped; the solver recovers the
translation, and projecting the result with K lands on the hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from handmesh.crop import box_from_keypoints, make_crop, mirror_points, square_box
from handmesh.geometry.camera_solve import (
    default_intrinsics,
    solve_translation,
    translation_from_crop,
    translation_from_weak_perspective,
)
from handmesh.geometry.projection import crop_pixels_to_normalized, project_points

RNG = np.random.default_rng(3)


def hand_mesh(n: int = 778) -> np.ndarray:
    """A hand-sized point cloud (palm ~9 cm, fingers to ~18 cm), root (point 0) at the origin, metres."""
    p = np.concatenate(
        [
            RNG.uniform(-0.045, 0.045, (n // 2, 3)) * (1, 1, 0.4),
            RNG.uniform(-0.04, 0.04, (n - n // 2, 3)) * (1, 0, 0.3) + (0, -0.06, 0),
        ]
    )
    p[:, 1] += RNG.uniform(-0.05, 0.0, n) * (np.arange(n) >= n // 2)
    return p - p[:1]


def project(points: np.ndarray, K: np.ndarray) -> np.ndarray:
    uvw = points @ K.T
    return uvw[:, :2] / uvw[:, 2:]


def test_default_intrinsics_have_60_degree_fov_on_the_longer_side() -> None:
    K = default_intrinsics(640, 480)
    assert 2 * math.degrees(math.atan((640 / 2) / K[0, 0])) == pytest.approx(60.0)
    assert K[0, 0] == K[1, 1] == pytest.approx(554.2563, abs=1e-4)
    np.testing.assert_allclose(K[:2, 2], [319.5, 239.5])
    portrait = default_intrinsics(480, 640)
    assert portrait[0, 0] == K[0, 0] and tuple(portrait[:2, 2]) == (239.5, 319.5)
    with pytest.raises(ValueError, match="fov_deg"):
        default_intrinsics(640, 480, fov_deg=180)
    with pytest.raises(ValueError, match="positive"):
        default_intrinsics(0, 480)


@pytest.mark.parametrize("mirror", [False, True])
@pytest.mark.parametrize("t", [(0.0, 0.0, 0.5), (0.21, -0.12, 0.6), (-0.3, 0.2, 1.2)])
def test_solver_recovers_translation_through_a_crop(t: tuple[float, float, float], mirror: bool) -> None:
    K = default_intrinsics(640, 480)
    verts = hand_mesh()
    t = np.array(t)
    uv = project(verts + t, K)
    crop = make_crop(square_box(box_from_keypoints(uv), 1.5), 224, mirror=mirror)
    # What the network gives for this crop: root-relative points (mirrored for a left hand) and crop pixels.
    pred = mirror_points(verts) if mirror else verts
    t_hat = translation_from_crop(pred[None], crop.to_crop(uv)[None], [crop], K)[0]
    assert np.abs(t_hat - t).max() < 1e-3 * 1e-3  # far below 1 mm: exact up to rounding
    np.testing.assert_allclose(project(verts + t_hat, K), uv, atol=1e-6)  # lands on the hand


def test_solver_is_batched_weighted_differentiable_and_accepts_numpy() -> None:
    K = torch.tensor(default_intrinsics(640, 480))
    pts = torch.tensor(np.stack([hand_mesh(21) for _ in range(3)]))
    t = torch.tensor([[0.0, 0.0, 0.5], [0.1, 0.1, 0.8], [-0.2, 0.05, 0.4]], dtype=torch.float64)
    uv = project_points(pts + t[:, None], K)
    torch.testing.assert_close(solve_translation(pts, uv, K), t, rtol=0, atol=1e-9)
    torch.testing.assert_close(solve_translation(pts, uv, K.expand(3, 3, 3)), t, rtol=0, atol=1e-9)
    # A wild outlier with weight 0 changes nothing; with weight 1 it does.
    bad = uv.clone()
    bad[:, 5] += 80.0
    w = torch.ones(3, 21, dtype=torch.float64)
    w[:, 5] = 0
    torch.testing.assert_close(solve_translation(pts, bad, K, w), t, rtol=0, atol=1e-9)
    assert (solve_translation(pts, bad, K) - t).abs().max() > 1e-3
    # float32 in, float32 out; numpy in, numpy out.
    out32 = solve_translation(pts.float(), uv.float(), K.float())
    assert out32.dtype == torch.float32
    torch.testing.assert_close(out32, t.float(), rtol=0, atol=1e-5)
    out_np = solve_translation(pts.numpy(), uv.numpy(), K.numpy())
    assert isinstance(out_np, np.ndarray)
    np.testing.assert_allclose(out_np, t.numpy(), atol=1e-9)
    # Gradients flow to the points and pixels.
    p = pts.clone().requires_grad_(True)
    solve_translation(p, uv, K).sum().backward()
    assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


def test_singular_system_gives_nan() -> None:
    K = default_intrinsics(640, 480)
    pts = hand_mesh(21)[None]
    uv = project(pts[0] + (0, 0, 0.5), K)[None]
    out = solve_translation(pts, uv, K, np.zeros((1, 21)))
    assert np.isnan(out).all()


def test_bad_shapes_are_named() -> None:
    with pytest.raises(ValueError, match="points"):
        solve_translation(np.zeros((21, 3)), np.zeros((21, 2)), np.eye(3))
    with pytest.raises(ValueError, match="uv"):
        solve_translation(np.zeros((1, 21, 3)), np.zeros((1, 20, 2)), np.eye(3))
    with pytest.raises(ValueError, match="K"):
        solve_translation(np.zeros((2, 21, 3)), np.zeros((2, 21, 2)), np.tile(np.eye(3), (3, 1, 1)))
    with pytest.raises(ValueError, match="crops"):
        one_crop = [make_crop(np.array([0, 0, 9, 9]))]
        translation_from_crop(np.zeros((2, 21, 3)), np.zeros((2, 21, 2)), one_crop, np.eye(3))


@pytest.mark.parametrize("mirror", [False, True])
def test_weak_perspective_camera_to_full_image_translation(mirror: bool) -> None:
    """Fit the network's (s, tx, ty) to a perspective crop; the solved translation is close and lands on the hand."""
    K = default_intrinsics(640, 480)
    joints = hand_mesh(21)
    t = np.array([0.15, -0.08, 0.55])
    uv = project(joints + t, K)
    crop = make_crop(square_box(box_from_keypoints(uv), 1.5), 224, mirror=mirror)
    pred = mirror_points(joints) if mirror else joints
    uv_norm = crop_pixels_to_normalized(torch.tensor(crop.to_crop(uv)), 224).numpy()
    # Least squares for uv_norm = s * xy + s * (tx, ty): unknowns (s, s tx, s ty).
    A = np.zeros((42, 3))
    A[:21, 0], A[21:, 0] = pred[:, 0], pred[:, 1]
    A[:21, 1], A[21:, 2] = 1, 1
    s, stx, sty = np.linalg.lstsq(A, np.concatenate([uv_norm[:, 0], uv_norm[:, 1]]), rcond=None)[0]
    cam = np.array([[s, stx / s, sty / s]])
    t_hat = translation_from_weak_perspective(pred[None], cam, [crop], K)[0]
    assert np.linalg.norm(t_hat - t) < 0.03 * t[2]  # within a few percent of the depth
    hand_size = np.ptp(uv, axis=0).max()
    assert np.abs(project(joints + t_hat, K) - uv).max() < 0.05 * hand_size  # overlay lands on the hand
    torch_t = translation_from_weak_perspective(torch.tensor(pred[None]), torch.tensor(cam), [crop], torch.tensor(K))
    np.testing.assert_allclose(torch_t.numpy()[0], t_hat, atol=1e-12)


def test_numpy_and_torch_solves_agree() -> None:
    """Numpy inputs are solved in numpy (the fit and the estimator call it per frame): the same answer as torch,
    with skew, per-point weights and per-sample K, and NaN for a system with no solution."""
    rng = np.random.default_rng(3)
    B, N = 4, 21
    pts = rng.normal(0.0, 0.05, (B, N, 3))
    K = np.tile(np.array([[600.0, 4.0, 320.0], [0.0, 610.0, 240.0], [0.0, 0.0, 1.0]]), (B, 1, 1))
    K[1, 0, 0] = 900.0
    t_true = np.column_stack([rng.normal(0.0, 0.1, B), rng.normal(0.0, 0.1, B), rng.uniform(0.4, 1.0, B)])
    cam = pts + t_true[:, None]
    uv = np.einsum("bij,bnj->bni", K, cam)
    uv = uv[..., :2] / uv[..., 2:] + rng.normal(0.0, 0.5, (B, N, 2))
    w = rng.uniform(0.0, 1.0, (B, N))
    w[3] = 0.0  # no weight at all: no solution
    got = solve_translation(pts, uv, K, w)
    ref = solve_translation(torch.as_tensor(pts), torch.as_tensor(uv), torch.as_tensor(K), torch.as_tensor(w))
    assert isinstance(got, np.ndarray) and got.dtype == np.float64
    np.testing.assert_allclose(got[:3], ref.numpy()[:3], rtol=0, atol=1e-10)
    assert np.isnan(got[3]).all() and np.isnan(ref.numpy()[3]).all()
    np.testing.assert_allclose(got[:3], t_true[:3], atol=5e-3)  # and it is the translation, up to the noise
