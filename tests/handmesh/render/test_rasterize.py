"""Rasterizer geometry: coverage, depth, perspective-correct barycentrics, occlusion, clipping, culling, winding."""

from __future__ import annotations

import numpy as np
import pytest

from handmesh.render import Mesh, rasterize, render
from handmesh.render.primitives import box, ellipsoid

K = np.array([[100.0, 0.0, 50.0], [0.0, 100.0, 40.0], [0.0, 0.0, 1.0]])
SIZE = (80, 100)  # (H, W)


def quad(x0: float, y0: float, x1: float, y1: float, z: float) -> tuple[np.ndarray, np.ndarray]:
    """A rectangle at depth z facing the camera (normal -z), as two triangles."""
    v = np.array([[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]], np.float32)
    return v, np.array([[0, 2, 1], [0, 3, 2]], np.int32)


def test_quad_covers_expected_pixels_at_expected_depth() -> None:
    v, f = quad(-0.1, -0.1, 0.1, 0.1, 1.0)
    res = render(Mesh(v, f), K, SIZE)
    # Corners project to u = 50 -+ 10, v = 40 -+ 10; pixel centres are integer points (OpenCV convention).
    expected = np.zeros(SIZE, bool)
    expected[30:51, 40:61] = True
    np.testing.assert_array_equal(res.mask, expected)
    np.testing.assert_allclose(res.depth[expected], 1.0, rtol=0, atol=1e-6)
    assert np.all(np.isinf(res.depth[~expected]))
    # Anti-aliasing tints only the one-pixel ring around the silhouette; everything further out stays black.
    ring = np.zeros(SIZE, bool)
    ring[29:52, 39:62] = True
    assert res.rgb[~ring].max() == 0
    assert res.rgb[35:45, 45:55].min() > 0


def test_window_is_tight_and_fragments_paste_back() -> None:
    v, f = quad(-0.1, -0.1, 0.1, 0.1, 1.0)
    frags = rasterize(v, f, K, SIZE)
    assert frags.window == (40, 30, 61, 51)
    assert frags.full(frags.mask, False).sum() == 21 * 21


def test_slanted_plane_depth_and_barycentrics_are_perspective_correct() -> None:
    # A plane tilted in depth: z = 1 + 2 * x. Each covered pixel's depth must be the ray-plane intersection, and
    # the barycentric mix of the corners must land on that pixel's ray (affine screen interpolation would not).
    xs = np.array([-0.2, 0.3])
    ys = np.array([-0.2, 0.2])
    v = np.array([[xs[0], ys[0], 0], [xs[1], ys[0], 0], [xs[1], ys[1], 0], [xs[0], ys[1], 0]], np.float64)
    v[:, 2] = 1.0 + 2.0 * v[:, 0]
    f = np.array([[0, 2, 1], [0, 3, 2]], np.int32)
    frags = rasterize(v, f, K, SIZE, cull_backfaces=False)
    ys_px, xs_px = np.nonzero(frags.mask)
    assert len(xs_px) > 500
    x0, y0 = frags.window[:2]
    u, w = xs_px + x0, ys_px + y0
    rx = (u - K[0, 2]) / K[0, 0]
    z_true = 1.0 / (1.0 - 2.0 * rx)  # z = 1 + 2 * rx * z
    np.testing.assert_allclose(frags.depth[ys_px, xs_px], z_true, rtol=1e-5)
    b = frags.bary[ys_px, xs_px].astype(np.float64)
    np.testing.assert_allclose(b.sum(1), 1.0, atol=1e-5)
    fid = frags.face_id[ys_px, xs_px]
    p = np.einsum("nk,nkj->nj", b, v[f[fid]])
    np.testing.assert_allclose(p[:, 0] / p[:, 2] * K[0, 0] + K[0, 2], u, atol=1e-3)
    np.testing.assert_allclose(p[:, 1] / p[:, 2] * K[1, 1] + K[1, 2], w, atol=1e-3)


@pytest.mark.parametrize("near_first", [True, False])
def test_nearer_surface_wins_where_two_overlap(near_first: bool) -> None:
    far = Mesh(*quad(-0.2, -0.2, 0.1, 0.1, 2.0), color=(1, 0, 0))
    near = Mesh(*quad(-0.05, -0.05, 0.2, 0.2, 1.0), color=(0, 0, 1))
    meshes = [near, far] if near_first else [far, near]
    res = render(meshes, K, SIZE)
    near_id = 0 if near_first else 1
    # The overlap: the near quad spans u in [45, 70], v in [35, 60]; the far one u in [40, 55], v in [30, 45].
    overlap = (slice(36, 45), slice(46, 55))
    assert np.all(res.mesh_id[overlap] == near_id)
    np.testing.assert_allclose(res.depth[overlap], 1.0, atol=1e-6)
    far_only = (slice(31, 34), slice(41, 44))
    assert np.all(res.mesh_id[far_only] == 1 - near_id)
    np.testing.assert_allclose(res.depth[far_only], 2.0, atol=1e-6)
    assert res.rgb[40, 50, 2] > res.rgb[40, 50, 0]  # blue (near) over red (far)


def test_cube_front_face_hides_back_face_even_without_culling() -> None:
    v, f = box((0.5, 0.5, 0.5), center=(0.0, 0.0, 2.0))
    for cull in (True, False):
        frags = rasterize(v, f, K, SIZE, cull_backfaces=cull)
        # The front face (z = 1.75) projects to u in 50 -+ 14.3; its interior must show depth 1.75.
        x0, y0 = frags.window[:2]
        inner = frags.depth[40 - 13 - y0 : 40 + 14 - y0, 50 - 13 - x0 : 50 + 14 - x0]
        np.testing.assert_allclose(inner, 1.75, atol=1e-6)
        assert frags.mask.sum() == rasterize(v, f, K, SIZE, cull_backfaces=not cull).mask.sum()


def test_self_occluding_fold_shows_the_top_layer() -> None:
    # One strip folded over itself like a bent finger over the palm: the lower layer at z = 1.0 runs from
    # x = -0.2 to 0.2, the fold turns it back at x = 0.2 and the upper layer (z = 0.9) reaches back to x = -0.1.
    v = np.array(
        [
            [-0.2, -0.05, 1.0],
            [0.2, -0.05, 1.0],
            [0.2, 0.05, 1.0],
            [-0.2, 0.05, 1.0],  # lower layer 0-3
            [-0.1, -0.05, 0.9],
            [-0.1, 0.05, 0.9],  # upper layer end 4-5
        ],
        np.float32,
    )
    f = np.array([[0, 1, 2], [0, 2, 3], [1, 4, 5], [1, 5, 2]], np.int32)  # faces 2, 3: the folded-back layer
    frags = rasterize(v, f, K, SIZE, cull_backfaces=False)
    x0, y0 = frags.window[:2]
    # Pixel u = 50 (x = 0 at z ~ 0.95) is under the upper layer, which must win; u = 35 sees only the lower one.
    top = frags.face_id[40 - y0, 50 - x0]
    assert top in (2, 3)
    assert frags.depth[40 - y0, 50 - x0] < 1.0
    assert frags.face_id[40 - y0, 32 - x0] in (0, 1)
    np.testing.assert_allclose(frags.depth[40 - y0, 32 - x0], 1.0, atol=1e-6)


@pytest.mark.parametrize("where", ["behind", "left", "right", "above", "below", "far_behind"])
def test_mesh_behind_camera_or_off_screen_renders_nothing(where: str) -> None:
    offsets = {
        "behind": (0, 0, -2.0),
        "left": (-50, 0, 1.0),
        "right": (50, 0, 1.0),
        "above": (0, -50, 1.0),
        "below": (0, 50, 1.0),
        "far_behind": (0, 0, -1e6),
    }
    v, f = ellipsoid((0.1, 0.1, 0.1), center=offsets[where])
    res = render(Mesh(v, f), K, SIZE)
    assert not res.mask.any()
    assert res.rgb.max() == 0
    assert np.all(np.isinf(res.depth))


def test_plane_crossing_the_near_plane_is_clipped() -> None:
    # A floor y = 0.5 running from behind the camera (z = -1) to z = 5: only the part in front of the near plane
    # is drawn, below the horizon, each pixel at the floor's depth along its ray.
    v = np.array([[-1, 0.5, -1], [1, 0.5, -1], [1, 0.5, 5], [-1, 0.5, 5]], np.float32)
    f = np.array([[0, 1, 2], [0, 2, 3]], np.int32)
    near = 0.05
    res = render(Mesh(v, f), K, SIZE, cull_backfaces=False, near=near)
    ys, xs = np.nonzero(res.mask)
    assert len(ys) > 1000
    assert ys.min() > K[1, 2]
    z_true = 0.5 * K[1, 1] / (ys - K[1, 2])
    np.testing.assert_allclose(res.depth[ys, xs], z_true, rtol=1e-5)
    assert res.depth[ys, xs].min() >= near
    assert res.mask[-1].all()  # the floor reaches the bottom edge across the whole width


def test_degenerate_and_non_finite_triangles_cover_nothing() -> None:
    v = np.array(
        [[0, 0, 1], [0.1, 0, 1], [0.2, 0, 1], [0, 0, 1], [np.nan, 0, 1], [0.1, 0.1, 1], [np.inf, 0, 1]], np.float32
    )
    f = np.array(
        [
            [0, 1, 2],  # collinear
            [0, 0, 1],  # repeated vertex
            [0, 3, 1],  # two coincident vertices
            [4, 1, 5],  # NaN vertex
            [6, 1, 5],
        ],  # inf vertex
        np.int32,
    )
    res = render(Mesh(v, f), K, SIZE, cull_backfaces=False)
    assert not res.mask.any()
    # A valid face added to the same mesh still renders.
    f2 = np.concatenate([f, [[0, 5, 1]]]).astype(np.int32)
    assert render(Mesh(v, f2), K, SIZE, cull_backfaces=False).mask.sum() > 0


def test_empty_scene_and_empty_face_list() -> None:
    assert not render([], K, SIZE).mask.any()
    v = np.zeros((3, 3), np.float32)
    assert not render(Mesh(v, np.zeros((0, 3), np.int32)), K, SIZE).mask.any()


def test_backface_culling_and_flip_winding() -> None:
    v, f = quad(-0.1, -0.1, 0.1, 0.1, 1.0)
    inward = f[:, ::-1].copy()
    assert not render(Mesh(v, inward), K, SIZE).mask.any()
    assert render(Mesh(v, inward), K, SIZE, cull_backfaces=False).mask.sum() == 21 * 21
    assert render(Mesh(v, inward, flip_winding=True), K, SIZE).mask.sum() == 21 * 21


def test_mirrored_left_hand_winding_renders_the_mirror_image() -> None:
    # A left hand is a right hand mirrored in x with its faces re-wound (so they stay outward). An asymmetric
    # closed mesh mirrored that way must render exactly the mirrored silhouette with culling on.
    v, f = ellipsoid((0.12, 0.06, 0.03), center=(0.0, 0.0, 0.0), rings=12, segments=16)
    rot = np.array([[0.8, -0.6, 0], [0.6, 0.8, 0], [0, 0, 1]]) @ np.array([[1, 0, 0], [0, 0.8, -0.6], [0, 0.6, 0.8]])
    v = v @ rot.T + np.array([0.03, 0.0, 0.6])
    Kc = np.array([[120.0, 0, 49.5], [0, 120.0, 39.5], [0, 0, 1]])  # principal point on the image centre
    right = render(Mesh(v, f), Kc, SIZE, cull_backfaces=True)
    mirrored = v * np.array([-1.0, 1.0, 1.0])
    left = render(Mesh(mirrored, f[:, [0, 2, 1]]), Kc, SIZE, cull_backfaces=True)
    assert right.mask.sum() > 300
    np.testing.assert_array_equal(left.mask, right.mask[:, ::-1])
    np.testing.assert_allclose(left.depth[left.mask], right.depth[:, ::-1][left.mask], rtol=1e-5)
    # Without re-winding, culling removes the faces that look at the camera: the far side shows through.
    wrong = render(Mesh(mirrored, f), Kc, SIZE, cull_backfaces=True)
    both = wrong.mask & left.mask
    assert np.mean(wrong.depth[both] - left.depth[both]) > 0.02


@pytest.mark.parametrize(
    "bad", [np.eye(2), np.array([[0.0, 0, 1], [0, 1, 1], [0, 0, 1]]), np.array([[1.0, 0, 1], [0, 1, 1], [0, 1, 1]])]
)
def test_bad_intrinsics_raise(bad: np.ndarray) -> None:
    v, f = quad(-0.1, -0.1, 0.1, 0.1, 1.0)
    with pytest.raises(ValueError, match="K"):
        rasterize(v, f, bad, SIZE)


def test_bad_size_and_faces_raise() -> None:
    v, f = quad(-0.1, -0.1, 0.1, 0.1, 1.0)
    with pytest.raises(ValueError, match="size"):
        rasterize(v, f, K, (0, 10))
    with pytest.raises(ValueError, match="faces"):
        Mesh(v, np.array([[0, 1, 7]]))
    with pytest.raises(ValueError, match="vertices"):
        Mesh(np.zeros((4, 2)), f)
