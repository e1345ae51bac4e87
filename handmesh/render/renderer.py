"""Shaded rendering of hand meshes: :func:`render` (image, mask, depth) and :func:`overlay` (blend onto a frame).

Several meshes share one z-buffer, so two hands (or a hand and an occluder) occlude each other correctly. Shading is
smooth (per-vertex normals, Blinn-Phong, :class:`~handmesh.render.mesh.Light`); silhouettes are anti-aliased with
a one-pixel coverage ramp.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from handmesh.render.mesh import Light, Mesh
from handmesh.render.rasterize import DEFAULT_NEAR, SCRATCH, Fragments, check_camera, pack_meshes, rasterize_window


@dataclass
class RenderResult:
    """A rendered frame.

    Attributes:
        rgb: ``(H, W, 3)`` uint8 shaded meshes over the background (black unless one was given).
        mask: ``(H, W)`` bool, pixels whose centre a mesh covers (hard, not anti-aliased).
        depth: ``(H, W)`` float32 camera z in metres of the nearest surface, inf where empty.
        mesh_id: ``(H, W)`` int16 index (into the ``meshes`` argument) of the visible mesh, -1 where empty.
        face_id: ``(H, W)`` int32 index of the visible face within the packed scene (mesh after mesh, in order),
            -1 where empty.
    """

    rgb: np.ndarray
    mask: np.ndarray
    depth: np.ndarray
    mesh_id: np.ndarray
    face_id: np.ndarray


def _shade_window(frags: Fragments, scene, K: np.ndarray, light: Light) -> np.ndarray:
    """``(h, w, 3)`` float32 shaded colours of the covered window pixels (undefined elsewhere), in this thread's
    scratch buffer."""
    from handmesh.render import _kernels

    x0, y0, _, _ = frags.window
    normals = _kernels.vertex_normals(scene.vertices, scene.faces)
    shaded = SCRATCH.get("shaded", frags.face_id.shape + (3,), np.float32)
    _kernels.shade(
        frags.face_id,
        frags.bary,
        scene.faces,
        normals,
        scene.face_color,
        K[0, 0],
        K[1, 1],
        K[0, 2] - x0,
        K[1, 2] - y0,
        light.unit_direction(),
        light.color,
        float(light.ambient),
        float(light.diffuse),
        float(light.specular),
        float(light.shininess),
        shaded,
    )
    return shaded


def render(
    meshes: Mesh | Sequence[Mesh],
    K: np.ndarray,
    size: tuple[int, int],
    light: Light | None = None,
    *,
    background: np.ndarray | None = None,
    antialias: bool = True,
    cull_backfaces: bool = True,
    near: float = DEFAULT_NEAR,
) -> RenderResult:
    """Render meshes with a pinhole camera.

    Args:
        meshes: one :class:`Mesh` or several (sharing one z-buffer).
        K: ``(3, 3)`` pinhole intrinsics (pixels).
        size: ``(H, W)`` output size in pixels.
        light: shading. Default: ``Light()``.
        background: ``(H, W, 3)`` uint8 RGB image to render over. Default: black.
        antialias: soften the silhouette with a one-pixel coverage ramp (``rgb`` only; ``mask`` stays hard).
            Default: ``True``.
        cull_backfaces: skip faces seen from behind (meshes must be wound outward, see :class:`Mesh`).
            Default: ``True``.
        near: near-plane depth in metres. Default: 0.01.

    Returns:
        :class:`RenderResult`. Meshes behind the camera or off-screen give an empty mask and the background.
    """
    from handmesh.render import _kernels

    K, h, w = check_camera(K, size)
    light = light or Light()
    if background is None:
        rgb = np.zeros((h, w, 3), np.uint8)
    else:
        rgb = np.array(background, dtype=np.uint8, copy=True)
        if rgb.shape != (h, w, 3):
            raise ValueError(f"background must be (H, W, 3) = {(h, w, 3)} uint8 RGB, got {rgb.shape}")
    scene = pack_meshes(meshes)
    frags = rasterize_window(
        scene.vertices,
        scene.faces,
        K,
        (h, w),
        near=near,
        cull_backfaces=cull_backfaces,
        margin=1 if antialias else 0,
        scratch=SCRATCH,
    )
    if frags.face_id.size:
        shaded = _shade_window(frags, scene, K, light)
        x0, y0, _, _ = frags.window
        _kernels.composite(rgb, x0, y0, frags.face_id, shaded, 1.0, bool(antialias))
    x0, y0, x1, y1 = frags.window
    face_id = np.full((h, w), -1, np.int32)
    depth = np.full((h, w), np.inf, np.float32)
    mesh_id = np.full((h, w), -1, np.int16)
    fid = frags.face_id
    face_id[y0:y1, x0:x1] = fid
    depth[y0:y1, x0:x1] = frags.depth
    if len(scene.face_mesh):
        mesh_id[y0:y1, x0:x1] = np.where(fid >= 0, scene.face_mesh[np.maximum(fid, 0)], -1)
    return RenderResult(rgb=rgb, mask=face_id >= 0, depth=depth, mesh_id=mesh_id, face_id=face_id)


def overlay(
    frame_rgb: np.ndarray,
    meshes: Mesh | Sequence[Mesh],
    K: np.ndarray,
    alpha: float = 0.8,
    light: Light | None = None,
    *,
    antialias: bool = True,
    cull_backfaces: bool = True,
    near: float = DEFAULT_NEAR,
    inplace: bool = False,
) -> np.ndarray:
    """Draw shaded meshes onto a frame, alpha-blended: ``out = frame * (1 - a) + mesh * a`` on covered pixels,
    with ``a = alpha`` inside the silhouette and a one-pixel ramp down to 0 across its edge (``antialias``).

    Only the pixel window the meshes can reach is touched, so the cost follows the hand's size, not the frame's.

    Args:
        frame_rgb: ``(H, W, 3)`` uint8 RGB frame.
        meshes: one :class:`Mesh` or several.
        K: ``(3, 3)`` intrinsics of the frame (pixels).
        alpha: mesh opacity in 0-1. Default: 0.8.
        light: shading. Default: ``Light()``.
        antialias: anti-aliased silhouette. Default: ``True``.
        cull_backfaces: skip faces seen from behind. Default: ``True``.
        near: near-plane depth in metres. Default: 0.01.
        inplace: draw into ``frame_rgb`` itself (must be a C-contiguous uint8 array) instead of a copy.
            Default: ``False``.

    Returns:
        ``(H, W, 3)`` uint8 RGB: the blended frame (``frame_rgb`` itself when ``inplace``).
    """
    from handmesh.render import _kernels

    frame = np.asarray(frame_rgb)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"frame_rgb must be an (H, W, 3) uint8 RGB image, got {frame.dtype} {frame.shape}")
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    if inplace:
        if not frame.flags.c_contiguous or not frame.flags.writeable:
            raise ValueError("overlay(inplace=True) needs a writeable C-contiguous frame")
        out = frame
    else:
        out = frame.copy()
    K, h, w = check_camera(K, frame.shape[:2])
    scene = pack_meshes(meshes)
    frags = rasterize_window(
        scene.vertices,
        scene.faces,
        K,
        (h, w),
        near=near,
        cull_backfaces=cull_backfaces,
        margin=1 if antialias else 0,
        scratch=SCRATCH,
    )
    if frags.face_id.size and alpha > 0:
        shaded = _shade_window(frags, scene, K, light or Light())
        x0, y0, _, _ = frags.window
        _kernels.composite(out, x0, y0, frags.face_id, shaded, float(alpha), bool(antialias))
    return out
