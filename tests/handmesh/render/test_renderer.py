"""Shading, overlay alpha maths, anti-aliasing and multi-mesh outputs of render() and overlay()."""

from __future__ import annotations

import numpy as np
import pytest

from handmesh.render import Light, Mesh, overlay, render
from handmesh.render.primitives import ellipsoid

K = np.array([[100.0, 0.0, 50.0], [0.0, 100.0, 40.0], [0.0, 0.0, 1.0]])
SIZE = (80, 100)
FLAT = Light(ambient=1.0, diffuse=0.0, specular=0.0)  # shaded colour == mesh colour: exact arithmetic to test


def square(z: float = 1.0, half: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    v = np.array([[-half, -half, z], [half, -half, z], [half, half, z], [-half, half, z]], np.float32)
    return v, np.array([[0, 2, 1], [0, 3, 2]], np.int32)


def frame(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, SIZE + (3,), dtype=np.uint8)


@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.8, 1.0])
def test_overlay_alpha_blend_inside_the_silhouette(alpha: float) -> None:
    color = np.array([0.2, 0.6, 1.0])
    img = frame()
    out = overlay(img, Mesh(*square(), color=color), K, alpha=alpha, light=FLAT)
    inner = (slice(32, 49), slice(42, 59))  # two pixels inside the 21x21 square's edge
    expected = img[inner] * (1 - alpha) + 255 * color.astype(np.float32) * alpha
    np.testing.assert_allclose(out[inner].astype(float), expected, atol=0.51)
    outside = np.ones(SIZE, bool)
    outside[29:52, 39:62] = False
    np.testing.assert_array_equal(out[outside], img[outside])


def test_overlay_antialiasing_ramps_the_edge_and_keeps_the_area() -> None:
    img = np.zeros(SIZE + (3,), np.uint8)
    mesh = Mesh(*square(), color=(1.0, 1.0, 1.0))
    hard = overlay(img, mesh, K, alpha=1.0, light=FLAT, antialias=False)[..., 0].astype(float)
    soft = overlay(img, mesh, K, alpha=1.0, light=FLAT, antialias=True)[..., 0].astype(float)
    assert set(np.unique(hard)) == {0.0, 255.0}
    ramp = (soft > 0) & (soft < 255)
    assert ramp.sum() > 80  # both sides of the silhouette, all around
    # The tent filter conserves coverage: the total "ink" differs by far less than one pixel row.
    assert abs(soft.sum() - hard.sum()) / 255 < 3
    assert soft[40, 38] == 0 and soft[40, 39] > 0 and soft[40, 40] < 255 and soft[40, 42] == 255


def test_overlay_copies_unless_inplace() -> None:
    img = frame(1)
    before = img.copy()
    out = overlay(img, Mesh(*square()), K)
    np.testing.assert_array_equal(img, before)
    assert not np.array_equal(out, before)
    same = overlay(img, Mesh(*square()), K, inplace=True)
    assert same is img
    np.testing.assert_array_equal(img, out)


def test_overlay_rejects_bad_frames_and_alpha() -> None:
    with pytest.raises(ValueError, match="frame_rgb"):
        overlay(np.zeros((10, 10), np.uint8), Mesh(*square()), K)
    with pytest.raises(ValueError, match="alpha"):
        overlay(frame(), Mesh(*square()), K, alpha=1.5)


def test_lambert_shading_is_brightest_where_the_surface_faces_the_light() -> None:
    v, f = ellipsoid((0.2, 0.2, 0.2), center=(0.0, 0.0, 1.0))
    light = Light(direction=(0.0, 0.0, -1.0), ambient=0.1, diffuse=0.9, specular=0.0)
    res = render(Mesh(v, f, color=(1.0, 1.0, 1.0)), K, SIZE, light)
    centre = res.rgb[40, 50].astype(int)
    limb = res.rgb[40, 50 + 19].astype(int)
    assert centre[0] > 240 and limb[0] < centre[0] - 60
    # Light from the left (-x) brightens the left half.
    left_lit = render(Mesh(v, f, color=(1.0, 1.0, 1.0)), K, SIZE, Light(direction=(-1.0, 0.0, -0.3), specular=0))
    assert left_lit.rgb[40, 40, 0] > left_lit.rgb[40, 60, 0] + 40


def test_specular_highlight_adds_light() -> None:
    v, f = ellipsoid((0.2, 0.2, 0.2), center=(0.0, 0.0, 1.0))
    mesh = Mesh(v, f, color=(0.5, 0.3, 0.2))
    dull = render(mesh, K, SIZE, Light(specular=0.0)).rgb.astype(int)
    shiny = render(mesh, K, SIZE, Light(specular=0.5)).rgb.astype(int)
    assert np.all(shiny >= dull)
    assert (shiny - dull).max() > 50


def test_render_outputs_for_two_meshes_and_background() -> None:
    a = Mesh(*square(1.0, 0.1), color=(1, 0, 0))
    b = Mesh(*square(1.5, 0.05), color=(0, 1, 0))  # smaller, behind: hidden by a
    bg = frame(2)
    res = render([b, a], K, SIZE, FLAT, background=bg)
    assert res.rgb.shape == SIZE + (3,) and res.rgb.dtype == np.uint8
    assert res.mask.dtype == bool and res.depth.dtype == np.float32
    assert set(np.unique(res.mesh_id)) == {-1, 1}
    np.testing.assert_array_equal(res.mask, res.mesh_id >= 0)
    np.testing.assert_array_equal(res.mask, res.face_id >= 0)
    assert np.all(res.face_id[res.mask] >= 2)  # faces of the second mesh follow the first mesh's two
    np.testing.assert_array_equal(res.rgb[40, 50], (255, 0, 0))
    np.testing.assert_array_equal(res.rgb[5, 5], bg[5, 5])
    with pytest.raises(ValueError, match="background"):
        render(a, K, SIZE, background=np.zeros((3, 3, 3), np.uint8))


def test_repeated_calls_do_not_leak_state() -> None:
    # Work buffers are reused between calls: a big render followed by a small one must not show leftovers.
    big = Mesh(*square(1.0, 0.3))
    small = Mesh(*square(1.0, 0.05))
    overlay(frame(), big, K)
    out = overlay(np.zeros(SIZE + (3,), np.uint8), small, K, antialias=False)
    assert (out.sum(-1) > 0).sum() == 11 * 11
    np.testing.assert_array_equal(render(small, K, SIZE).mask, render(small, K, SIZE).mask)
