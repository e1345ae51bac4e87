"""2D drawing on RGB frames: the 21-keypoint hand skeleton and mesh wireframes.

Keypoints are in the FreiHAND/OpenPose order (0 wrist, 1-4 thumb, 5-8 index, 9-12 middle, 13-16 ring, 17-20 pinky,
each finger from its base to its tip). Colours follow OpenPose's hand rendering: grey wrist, then red (thumb),
yellow (index), green (middle), blue (ring) and magenta (pinky), brighter towards the tip.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from handmesh.render.mesh import Mesh
from handmesh.render.rasterize import DEFAULT_NEAR, check_camera, pack_meshes, rasterize

#: Parent of each of the 21 keypoints (-1 for the wrist): each finger chains wrist -> base -> ... -> tip.
HAND_PARENTS: tuple[int, ...] = (-1, 0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11, 0, 13, 14, 15, 0, 17, 18, 19)

#: The 20 bones as (parent, child) keypoint pairs.
HAND_BONES: tuple[tuple[int, int], ...] = tuple((p, k) for k, p in enumerate(HAND_PARENTS) if p >= 0)


def _finger_colors() -> np.ndarray:
    """``(21, 3)`` uint8 RGB keypoint colours (OpenPose's hand scheme); a bone takes its child's colour."""
    base = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0.5], [0, 0.5, 1], [1, 0, 1]], np.float64)  # thumb .. pinky
    colors = [(100, 100, 100)]
    for finger in base:
        for level in (100, 150, 200, 255):
            colors.append(tuple(int(round(c * level)) for c in finger))
    return np.array(colors, np.uint8)


#: ``(21, 3)`` uint8 RGB colour of each keypoint and of the bone ending at it.
KEYPOINT_COLORS: np.ndarray = _finger_colors()

_SHIFT = 4  # cv2 fixed-point bits: sub-pixel accurate lines and circles


def _target(frame: np.ndarray, inplace: bool) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"frame must be an (H, W, 3) uint8 RGB image, got {frame.dtype} {frame.shape}")
    if inplace:
        if not frame.flags.c_contiguous or not frame.flags.writeable:
            raise ValueError("inplace drawing needs a writeable C-contiguous frame")
        return frame
    return frame.copy()


def _fixed(p: np.ndarray) -> tuple[int, int]:
    return int(round(float(p[0]) * (1 << _SHIFT))), int(round(float(p[1]) * (1 << _SHIFT)))


def draw_skeleton(
    frame: np.ndarray,
    joints2d: np.ndarray,
    *,
    visible: np.ndarray | None = None,
    color: tuple[int, int, int] | None = None,
    thickness: int = 2,
    radius: int = 3,
    inplace: bool = False,
) -> np.ndarray:
    """Draw the 21-keypoint hand skeleton: 20 bones as anti-aliased lines and a dot per keypoint.

    Args:
        frame: ``(H, W, 3)`` uint8 RGB.
        joints2d: ``(21, 2)`` pixel coordinates (x, y), FreiHAND/OpenPose order. Non-finite points are skipped,
            with their bones.
        visible: ``(21,)`` bool; hidden keypoints and their bones are not drawn. Default: all visible.
        color: one RGB colour for everything instead of the per-finger colours. Default: per finger.
        thickness: line width in pixels. Default: 2.
        radius: keypoint dot radius in pixels (0 draws no dots). Default: 3.
        inplace: draw into ``frame`` instead of a copy. Default: ``False``.

    Returns:
        ``(H, W, 3)`` uint8 RGB with the skeleton drawn.
    """
    import cv2

    out = _target(frame, inplace)
    pts = np.asarray(joints2d, dtype=np.float64)
    if pts.shape != (21, 2):
        raise ValueError(f"joints2d must have shape (21, 2), got {pts.shape}")
    # Non-finite or absurdly distant points (a failed projection) would overflow cv2's fixed-point coordinates.
    with np.errstate(invalid="ignore"):
        show = np.all(np.isfinite(pts), axis=1) & np.all(np.abs(pts) < 1e6, axis=1)
    if visible is not None:
        visible = np.asarray(visible, dtype=bool)
        if visible.shape != (21,):
            raise ValueError(f"visible must have shape (21,), got {visible.shape}")
        show &= visible
    colors = KEYPOINT_COLORS if color is None else np.tile(np.asarray(color, np.uint8), (21, 1))
    for p, k in HAND_BONES:
        if show[p] and show[k]:
            cv2.line(
                out,
                _fixed(pts[p]),
                _fixed(pts[k]),
                tuple(int(c) for c in colors[k]),
                int(thickness),
                cv2.LINE_AA,
                _SHIFT,
            )
    if radius > 0:
        for k in range(21):
            if show[k]:
                cv2.circle(
                    out,
                    _fixed(pts[k]),
                    int(radius) << _SHIFT,
                    tuple(int(c) for c in colors[k]),
                    -1,
                    cv2.LINE_AA,
                    _SHIFT,
                )
    return out


def draw_wireframe(
    frame: np.ndarray,
    meshes: Mesh | Sequence[Mesh],
    K: np.ndarray,
    *,
    color: tuple[int, int, int] = (255, 255, 255),
    thickness: int = 1,
    visible_only: bool = True,
    near: float = DEFAULT_NEAR,
    inplace: bool = False,
) -> np.ndarray:
    """Draw mesh edges projected with ``K``.

    Args:
        frame: ``(H, W, 3)`` uint8 RGB.
        meshes: one :class:`Mesh` or several.
        K: ``(3, 3)`` intrinsics (pixels).
        color: RGB line colour, 0-255. Default: white.
        thickness: line width in pixels. Default: 1.
        visible_only: draw only faces that are visible somewhere in the image (z-buffer test; hides the back of
            the hand and occluded fingers); ``False`` draws every face in front of the near plane.
            Default: ``True``.
        near: near-plane depth in metres; faces with a vertex closer than this are not drawn. Default: 0.01.
        inplace: draw into ``frame`` instead of a copy. Default: ``False``.

    Returns:
        ``(H, W, 3)`` uint8 RGB with the wireframe drawn.
    """
    import cv2

    out = _target(frame, inplace)
    K, h, w = check_camera(K, out.shape[:2])
    scene = pack_meshes(meshes)
    if not len(scene.faces):
        return out
    keep = np.all(scene.vertices[scene.faces, 2] > near, axis=1) & np.all(
        np.isfinite(scene.vertices[scene.faces]), axis=(1, 2)
    )
    if visible_only:
        frags = rasterize(scene.vertices, scene.faces, K, (h, w), near=near)
        seen = np.bincount(frags.face_id.ravel() + 1, minlength=len(scene.faces) + 1)[1:] > 0
        keep &= seen
    if not keep.any():
        return out
    v = scene.vertices
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = (v[:, :2] / v[:, 2:]) * np.array([K[0, 0], K[1, 1]]) + K[:2, 2]
    tris = uv[scene.faces[keep]]  # (F', 3, 2)
    # Faces far off-screen would overflow cv2's fixed-point coordinates: draw only those near the image.
    lim = 4.0 * max(h, w)
    near_image = np.all((tris > -lim) & (tris < lim), axis=(1, 2))
    tris = np.round(tris[near_image] * (1 << _SHIFT)).astype(np.int32)
    cv2.polylines(out, list(tris), True, tuple(int(c) for c in color), int(thickness), cv2.LINE_AA, _SHIFT)
    return out
