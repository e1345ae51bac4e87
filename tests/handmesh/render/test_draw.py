"""Skeleton and wireframe drawing touch the expected pixels."""

from __future__ import annotations

import numpy as np
import pytest

from handmesh.render import HAND_BONES, KEYPOINT_COLORS, Mesh, draw_skeleton, draw_wireframe
from handmesh.render.primitives import box


def fan_hand() -> np.ndarray:
    """``(21, 2)`` keypoints: wrist at (100, 180), five straight fingers fanning upwards, 4 points each."""
    pts = [(100.0, 180.0)]
    for angle in np.deg2rad([-60, -25, 0, 25, 50]):
        d = np.array([np.sin(angle), -np.cos(angle)])
        for j in range(1, 5):
            pts.append(tuple(np.array([100.0, 180.0]) + d * (15 + 22 * j)))
    return np.array(pts)


def test_openpose_colours_per_finger() -> None:
    assert KEYPOINT_COLORS.shape == (21, 3)
    np.testing.assert_array_equal(KEYPOINT_COLORS[0], (100, 100, 100))
    np.testing.assert_array_equal(KEYPOINT_COLORS[4], (255, 0, 0))  # thumb tip: red
    np.testing.assert_array_equal(KEYPOINT_COLORS[8], (255, 255, 0))  # index tip: yellow
    np.testing.assert_array_equal(KEYPOINT_COLORS[12], (0, 255, 128))  # middle tip: green
    np.testing.assert_array_equal(KEYPOINT_COLORS[16], (0, 128, 255))  # ring tip: blue
    np.testing.assert_array_equal(KEYPOINT_COLORS[20], (255, 0, 255))  # pinky tip: magenta
    assert len(HAND_BONES) == 20


def test_skeleton_touches_joints_and_bones_only() -> None:
    img = np.zeros((200, 200, 3), np.uint8)
    pts = fan_hand()
    out = draw_skeleton(img, pts, thickness=2, radius=3)
    assert img.max() == 0  # drawn on a copy
    for k in range(21):
        x, y = np.round(pts[k]).astype(int)
        np.testing.assert_array_equal(out[y, x], KEYPOINT_COLORS[k])
    for p, k in HAND_BONES:
        x, y = np.round((pts[p] + pts[k]) / 2).astype(int)
        assert np.abs(out[y, x].astype(int) - KEYPOINT_COLORS[k]).max() < 60, (p, k)
    # Far from every bone nothing is drawn.
    yy, xx = np.mgrid[:200, :200]
    far = np.ones((200, 200), bool)
    for p, k in HAND_BONES:
        a, b = pts[p], pts[k]
        t = np.clip(((xx - a[0]) * (b - a)[0] + (yy - a[1]) * (b - a)[1]) / np.sum((b - a) ** 2), 0, 1)
        far &= np.hypot(xx - (a[0] + t * (b - a)[0]), yy - (a[1] + t * (b - a)[1])) > 5
    assert out[far].max() == 0


def test_skeleton_skips_hidden_and_non_finite_points() -> None:
    pts = fan_hand()
    pts[8] = np.nan
    visible = np.ones(21, bool)
    visible[4] = False
    out = draw_skeleton(np.zeros((200, 200, 3), np.uint8), pts, visible=visible, radius=3)
    x, y = np.round(pts[4]).astype(int)
    assert out[y, x].max() == 0
    x, y = np.round((pts[3] + pts[4]) / 2).astype(int)
    assert out[y, x].max() == 0
    x, y = np.round(pts[7]).astype(int)
    np.testing.assert_array_equal(out[y, x], KEYPOINT_COLORS[7])
    single = draw_skeleton(np.zeros((200, 200, 3), np.uint8), fan_hand(), color=(0, 255, 0))
    assert single[..., 0].max() == 0 and single[..., 1].max() == 255
    with pytest.raises(ValueError, match="joints2d"):
        draw_skeleton(np.zeros((20, 20, 3), np.uint8), np.zeros((20, 2)))


def test_wireframe_draws_visible_edges_only() -> None:
    K = np.array([[100.0, 0, 50], [0, 100.0, 40], [0, 0, 1]])
    v, f = box((0.5, 0.5, 0.5), center=(0.0, 0.0, 2.0))
    img = np.zeros((80, 100, 3), np.uint8)
    vis = draw_wireframe(img, Mesh(v, f), K, color=(255, 255, 255))
    every = draw_wireframe(img, Mesh(v, f), K, color=(255, 255, 255), visible_only=False)
    # The front face's outline (u = 50 -+ 14.3 at z = 1.75) is drawn in both.
    assert vis[40, 36].max() > 100 and every[40, 36].max() > 100
    # The back face's outline (u = 50 -+ 11.1 at z = 2.25) lies inside the front face: hidden unless asked for.
    assert vis[40, 39].max() == 0
    assert every[40, 39].max() > 100
    assert img.max() == 0
