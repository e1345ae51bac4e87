"""Camera projections: full perspective with intrinsics K, and the weak-perspective crop camera of the network.

Frames and units (see the project's contracts): camera frame x right, y down, z forward, metres; pixel
coordinates ``(u, v)`` with the origin at the top-left corner of the image.

Crop camera (HMR convention, Kanazawa et al., CVPR 2018): the network predicts ``cam = (s, tx, ty)`` and a
root-relative hand ``points (B, N, 3)``; its projection in normalized crop coordinates is
``uv_norm = s * (points[..., :2] + [tx, ty])`` where ``uv_norm = (uv_px - S/2) / (S/2)`` for a crop of side S
pixels. Under a pinhole of focal length f pixels centred in the crop, the same picture results from translating the
points by ``t = (tx, ty, 2 f / (S s))``.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = [
    "project_points",
    "project_pinhole",
    "weak_perspective_project",
    "weak_perspective_to_translation",
    "crop_normalized_to_pixels",
    "crop_pixels_to_normalized",
    "map_cell_centres",
]


def project_points(xyz: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """Pinhole projection ``uv = (K @ xyz.T).T; uv = uv[:, :2] / uv[:, 2:]``.

    Points at ``z = 0`` give inf/NaN and points behind the camera (``z < 0``) project mirrored, as the formula
    says; callers that can meet them filter by depth first.

    Args:
        xyz: points in the camera frame, ``(..., N, 3)``, metres.
        K: intrinsics ``(..., 3, 3)`` (pixels), broadcast against the leading dimensions of ``xyz``
            (a single ``(3, 3)`` works for any batch).

    Returns:
        Pixel coordinates ``(..., N, 2)``.
    """
    if xyz.shape[-1:] != (3,) or xyz.dim() < 2:
        raise ValueError(f"project_points: xyz: expected shape (..., N, 3), got {tuple(xyz.shape)}")
    if K.shape[-2:] != (3, 3):
        raise ValueError(f"project_points: K: expected shape (..., 3, 3), got {tuple(K.shape)}")
    K = K.to(xyz.dtype)
    uvw = (K[..., None, :, :] @ xyz[..., :, :, None])[..., 0]  # (..., N, 3)
    return uvw[..., :2] / uvw[..., 2:3]


def project_pinhole(points: np.ndarray, K: np.ndarray, min_depth: float | None = None) -> np.ndarray:
    """Pinhole projection in numpy (data, synthesis and the live pipeline): ``uv = f * xy / z + c (+ skew)``.

    The same picture as :func:`project_points`, written per axis so that no 3x3 product rounds the result: with a
    zero skew it is ``points[..., :2] / z * (fx, fy) + (cx, cy)`` exactly.

    Args:
        points: ``(..., 3)`` camera-frame points, metres.
        K: ``(3, 3)`` intrinsics, pixels.
        min_depth: if given, depths with ``|z| < min_depth`` are replaced by ``min_depth`` (a point at the camera
            then projects far away instead of to inf/NaN). Default: None (the formula as it is).

    Returns:
        ``(..., 2)`` pixel coordinates (float64 for float64 inputs).
    """
    points = np.asarray(points)
    K = np.asarray(K)
    if points.shape[-1:] != (3,):
        raise ValueError(f"project_pinhole: points: expected shape (..., 3), got {points.shape}")
    if K.shape != (3, 3):
        raise ValueError(f"project_pinhole: K: expected shape (3, 3), got {K.shape}")
    z = points[..., 2:]
    if min_depth is not None:
        z = np.where(np.abs(z) < min_depth, min_depth, z)
    xy = points[..., :2] / z
    uv = xy * K[[0, 1], [0, 1]] + K[:2, 2]
    if K[0, 1] != 0:
        uv[..., 0] += K[0, 1] * xy[..., 1]
    return uv


def weak_perspective_project(points: torch.Tensor, cam: torch.Tensor) -> torch.Tensor:
    """Weak-perspective projection into normalized crop coordinates: ``s * (points[..., :2] + [tx, ty])``.

    Args:
        points: ``(B, N, 3)`` root-relative points, metres (z is ignored).
        cam: ``(B, 3)`` crop camera ``(s, tx, ty)``; s in 1/metres, tx and ty in metres.

    Returns:
        ``(B, N, 2)`` in normalized crop coordinates (-1 and 1 are the crop edges).
    """
    if points.dim() != 3 or points.shape[-1] != 3:
        raise ValueError(f"weak_perspective_project: points: expected shape (B, N, 3), got {tuple(points.shape)}")
    if cam.shape != (points.shape[0], 3):
        raise ValueError(
            f"weak_perspective_project: cam: expected shape ({points.shape[0]}, 3) = (B, 3), got {tuple(cam.shape)}"
        )
    s = cam[:, None, 0:1]  # (B, 1, 1)
    t = cam[:, None, 1:3]  # (B, 1, 2)
    return s * (points[..., :2] + t)


def weak_perspective_to_translation(
    cam: torch.Tensor, focal: torch.Tensor | float, crop_size: int | float
) -> torch.Tensor:
    """The perspective translation that reproduces a weak-perspective crop camera: ``t = (tx, ty, 2 f / (S s))``.

    With the points translated by ``t`` and projected by a pinhole of focal ``f`` centred in the crop, the root
    (``points = 0``) lands exactly where the weak-perspective camera puts it, and the image scale at the root depth
    matches ``s``. A non-positive ``s`` gives a non-positive depth: callers keep ``s > 0`` (e.g. by a softplus).

    Args:
        cam: ``(B, 3)`` crop camera ``(s, tx, ty)``.
        focal: focal length in pixels of the crop, ``(B,)`` or a float.
        crop_size: crop side S in pixels.

    Returns:
        ``(B, 3)`` translation in metres, camera frame.
    """
    if cam.dim() != 2 or cam.shape[-1] != 3:
        raise ValueError(f"weak_perspective_to_translation: cam: expected shape (B, 3), got {tuple(cam.shape)}")
    focal_t = torch.as_tensor(focal, dtype=cam.dtype, device=cam.device)
    if focal_t.dim() not in (0, 1) or (focal_t.dim() == 1 and focal_t.shape[0] != cam.shape[0]):
        raise ValueError(
            f"weak_perspective_to_translation: focal: expected a float or shape ({cam.shape[0]},), "
            f"got {tuple(focal_t.shape)}"
        )
    depth = 2.0 * focal_t / (float(crop_size) * cam[:, 0])
    return torch.stack([cam[:, 1], cam[:, 2], depth], dim=-1)


def crop_normalized_to_pixels(uv_norm: torch.Tensor, crop_size: int | float) -> torch.Tensor:
    """``uv_px = uv_norm * S/2 + S/2`` (inverse of :func:`crop_pixels_to_normalized`); any shape ``(..., 2)``."""
    half = float(crop_size) / 2.0
    return uv_norm * half + half


def crop_pixels_to_normalized(uv_px: torch.Tensor, crop_size: int | float) -> torch.Tensor:
    """``uv_norm = (uv_px - S/2) / (S/2)`` for a crop of side S pixels; any shape ``(..., 2)``."""
    half = float(crop_size) / 2.0
    return (uv_px - half) / half


def map_cell_centres(cells: int, crop_size: int | float, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``(cells,)`` pixel coordinates of the cell centres along one side of a feature map ``cells`` wide over a crop
    of side S: cell ``i`` of stride ``s = S / cells`` covers pixels ``s i .. s i + s - 1`` (pixel centres at integers,
    as the crop warps them), so its centre is ``s i + (s - 1) / 2``."""
    stride = float(crop_size) / cells
    return torch.arange(cells, dtype=dtype) * stride + (stride - 1.0) / 2.0
