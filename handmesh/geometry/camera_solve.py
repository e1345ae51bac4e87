"""From a crop prediction to the hand's place in the full camera frame.

The network predicts a root-relative hand (metres, camera axes) and where it lies in its crop (2D joints, or the
weak-perspective crop camera ``(s, tx, ty)``). The crop is a scale-and-shift of the frame (plus a flip for left
hands), so the crop's camera has the frame camera's axes: only the translation ``t`` is unknown. With the frame
intrinsics ``K`` it is the solution of a linear least-squares problem (:func:`solve_translation`), which stays exact
for crops far from the image centre, where the weak-perspective shortcut ``t = (tx, ty, 2 f / (S s))`` (valid for a
camera centred on the crop) is off.

Derivation. For a point ``P`` and pixel ``uv``, let ``(x, y, 1) = K^-1 (u, v, 1)``. Projecting ``P + t`` onto
``uv`` means ``x (P_z + t_z) = P_x + t_x`` and ``y (P_z + t_z) = P_y + t_y``, two equations linear in ``t``::

    t_x - x t_z = x P_z - P_x
    t_y - y t_z = y P_z - P_y

Each row is scaled by ``f_x`` (resp. ``f_y``) so residuals are in pixels times depth, weighted by ``weights``, and
the 3x3 normal equations are solved in float64. With noiseless input the recovered ``t`` is exact.

Default intrinsics. Without a calibration, :func:`default_intrinsics` assumes a 60 degree field of view across the
longer image side (typical of webcams, whose horizontal FOV is 55-70 degrees; phones' main cameras are ~65-70),
square pixels, no skew, and the principal point at the image centre ``((W - 1) / 2, (H - 1) / 2)`` (pixel centres
at integers): ``f = max(W, H) / (2 tan 30 deg) = 0.866 max(W, H)``, i.e. 554 pixels at 640x480. A wrong focal
length mostly scales the hand's depth (and its size in metres does not change), so the overlay still lands on the
hand: projecting the result with the same ``K`` reproduces the 2D joints.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import torch

__all__ = [
    "DEFAULT_FOV_DEG",
    "default_intrinsics",
    "solve_translation",
    "translation_from_crop",
    "translation_from_weak_perspective",
]


class CropFrame(Protocol):
    """What the solvers read of a crop (:class:`handmesh.crop.HandCrop` is one): the affine map from crop pixels
    back to image pixels, and whether the crop was mirrored (a left hand fed to a right-hand network)."""

    @property
    def inverse_affine(self) -> np.ndarray: ...  # (2, 3) crop pixels -> image pixels

    @property
    def mirrored(self) -> bool: ...


DEFAULT_FOV_DEG = 60.0
"""Field of view across the longer image side assumed by :func:`default_intrinsics`, degrees."""


def default_intrinsics(width: int, height: int, fov_deg: float = DEFAULT_FOV_DEG) -> np.ndarray:
    """Intrinsics for an uncalibrated camera (see the module docstring for the choice).

    Args:
        width: image width W in pixels.
        height: image height H in pixels.
        fov_deg: field of view across the longer side, degrees, in (0, 180). Default: 60.

    Returns:
        ``(3, 3)`` float64 ``[[f, 0, (W - 1) / 2], [0, f, (H - 1) / 2], [0, 0, 1]]``.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"default_intrinsics: image size must be positive, got width={width}, height={height}")
    if not 0.0 < fov_deg < 180.0:
        raise ValueError(f"default_intrinsics: fov_deg must lie in (0, 180), got {fov_deg}")
    f = max(width, height) / (2.0 * math.tan(math.radians(fov_deg) / 2.0))
    return np.array([[f, 0.0, (width - 1) / 2.0], [0.0, f, (height - 1) / 2.0], [0.0, 0.0, 1.0]])


def _as_tensor(x: np.ndarray | torch.Tensor | None) -> torch.Tensor | None:
    if x is None or isinstance(x, torch.Tensor):
        return x
    return torch.from_numpy(np.asarray(x, dtype=np.float64))


def solve_translation(
    points: torch.Tensor | np.ndarray,
    uv: torch.Tensor | np.ndarray,
    K: torch.Tensor | np.ndarray,
    weights: torch.Tensor | np.ndarray | None = None,
) -> torch.Tensor | np.ndarray:
    """The translation ``t`` that makes ``project(points + t, K)`` land on ``uv`` (linear least squares).

    Differentiable in torch. Accepts numpy arrays too, and then solves in numpy (float64) and returns one: the
    same rows, 70 against 175 microseconds a call for 21 points here (the landmark fit and the estimator call it per
    frame).

    Args:
        points: ``(B, N, 3)`` points in metres, camera axes, relative to any origin (e.g. the wrist).
        uv: ``(B, N, 2)`` their pixels in the image of ``K``.
        K: ``(B, 3, 3)`` or ``(3, 3)`` intrinsics, pixels.
        weights: ``(B, N)`` non-negative per-point weights (e.g. keypoint confidences; 0 drops a point).
            Default: None (all 1).

    Returns:
        ``(B, 3)`` translation in metres, same dtype as ``points`` (computed in float64). A sample whose system is
        singular (fewer than two points with weight, or all on one viewing ray) gives NaN.
    """
    as_numpy = not isinstance(points, torch.Tensor)
    if as_numpy:  # numpy in, numpy out, computed in numpy (less per-call cost than torch for a few points)
        P, UV, Kt = np.asarray(points), np.asarray(uv), np.asarray(K, dtype=np.float64)
        W = None if weights is None else np.asarray(weights)
    else:
        P, UV, Kt, W = (_as_tensor(points), _as_tensor(uv), _as_tensor(K), _as_tensor(weights))
    assert P is not None and UV is not None and Kt is not None
    if P.ndim != 3 or P.shape[-1] != 3:
        raise ValueError(f"solve_translation: points: expected shape (B, N, 3), got {tuple(P.shape)}")
    B, N = P.shape[:2]
    if tuple(UV.shape) != (B, N, 2):
        raise ValueError(f"solve_translation: uv: expected shape ({B}, {N}, 2) = (B, N, 2), got {tuple(UV.shape)}")
    if Kt.shape[-2:] != (3, 3) or Kt.ndim not in (2, 3) or (Kt.ndim == 3 and Kt.shape[0] != B):
        raise ValueError(f"solve_translation: K: expected shape (3, 3) or ({B}, 3, 3), got {tuple(Kt.shape)}")
    if W is not None and tuple(W.shape) != (B, N):
        raise ValueError(f"solve_translation: weights: expected shape ({B}, {N}) = (B, N), got {tuple(W.shape)}")
    if as_numpy:
        return _solve_translation_numpy(P, UV, Kt, W)

    out_dtype = P.dtype
    P64, UV64 = P.double(), UV.double()
    K64 = Kt.double().expand(B, 3, 3) if Kt.dim() == 2 else Kt.double()
    # Normalised image coordinates (x, y, 1) = K^-1 (u, v, 1); K is upper triangular, solve instead of inverting.
    uv1 = torch.cat([UV64, torch.ones_like(UV64[..., :1])], dim=-1)  # (B, N, 3)
    xy = torch.linalg.solve_triangular(K64, uv1.transpose(1, 2), upper=True).transpose(1, 2)  # (B, N, 3)
    x, y = xy[..., 0], xy[..., 1]  # (B, N)
    fx, fy = K64[:, 0, 0, None], K64[:, 1, 1, None]  # (B, 1): rows in pixel units

    one, zero = torch.ones_like(x), torch.zeros_like(x)
    rows_x = torch.stack([one, zero, -x], dim=-1) * fx[..., None]  # (B, N, 3)
    rows_y = torch.stack([zero, one, -y], dim=-1) * fy[..., None]
    rhs_x = (x * P64[..., 2] - P64[..., 0]) * fx  # (B, N)
    rhs_y = (y * P64[..., 2] - P64[..., 1]) * fy
    A = torch.cat([rows_x, rows_y], dim=1)  # (B, 2N, 3)
    b = torch.cat([rhs_x, rhs_y], dim=1)  # (B, 2N)
    w = torch.ones_like(x) if W is None else W.double().clamp_min(0.0)
    w2 = torch.cat([w, w], dim=1)  # (B, 2N)

    AtW = A.transpose(1, 2) * w2[:, None, :]  # (B, 3, 2N)
    normal = AtW @ A  # (B, 3, 3)
    t, info = torch.linalg.solve_ex(normal, (AtW @ b[..., None]))  # (B, 3, 1)
    t = t[..., 0]
    # Singular systems: solve_ex reports them; a zero weight sum is singular too but may slip through as inf.
    bad = (info != 0) | ~torch.isfinite(t).all(dim=-1) | (w.sum(dim=-1) <= 0)
    if bad.any():
        t = torch.where(bad[:, None], torch.full_like(t, float("nan")), t)
    return t.to(out_dtype)


def _solve_translation_numpy(P: np.ndarray, UV: np.ndarray, K: np.ndarray, W: np.ndarray | None) -> np.ndarray:
    """:func:`solve_translation`'s system in numpy float64 (same rows, same NaN for a singular system)."""
    P64, UV64 = np.asarray(P, np.float64), np.asarray(UV, np.float64)
    K64 = np.broadcast_to(K, (P64.shape[0], 3, 3))
    # Normalised image coordinates: y = (v - cy) / fy, x = (u - cx - s y) / fx (K is upper triangular).
    y = (UV64[..., 1] - K64[:, 1, 2, None]) / K64[:, 1, 1, None]
    x = (UV64[..., 0] - K64[:, 0, 2, None] - K64[:, 0, 1, None] * y) / K64[:, 0, 0, None]
    fx, fy = K64[:, 0, 0, None], K64[:, 1, 1, None]
    one, zero = np.ones_like(x), np.zeros_like(x)
    A = np.concatenate(
        [np.stack([one, zero, -x], -1) * fx[..., None], np.stack([zero, one, -y], -1) * fy[..., None]], axis=1
    )  # (B, 2N, 3)
    b = np.concatenate([(x * P64[..., 2] - P64[..., 0]) * fx, (y * P64[..., 2] - P64[..., 1]) * fy], axis=1)
    w = np.ones_like(x) if W is None else np.clip(np.asarray(W, np.float64), 0.0, None)
    w2 = np.concatenate([w, w], axis=1)
    AtW = np.swapaxes(A, 1, 2) * w2[:, None, :]
    normal = AtW @ A  # (B, 3, 3)
    with np.errstate(all="ignore"):
        singular = ~(np.abs(np.linalg.det(normal)) > 1e-12 * np.maximum(np.abs(normal).max(axis=(1, 2)), 1e-300) ** 3)
    singular |= w.sum(axis=1) <= 0
    normal[singular] = np.eye(3)
    t = np.linalg.solve(normal, AtW @ b[..., None])[..., 0]
    t[singular | ~np.isfinite(t).all(axis=1)] = np.nan
    return t


def _crop_inverse_and_signs(crops: Sequence[CropFrame], dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    inv = torch.tensor(np.stack([c.inverse_affine for c in crops]), dtype=dtype)  # (B, 2, 3)
    signs = torch.tensor([[-1.0 if c.mirrored else 1.0, 1.0, 1.0] for c in crops], dtype=dtype)  # (B, 3)
    return inv, signs


def translation_from_crop(
    points: torch.Tensor | np.ndarray,
    uv_crop: torch.Tensor | np.ndarray,
    crops: Sequence[CropFrame],
    K: torch.Tensor | np.ndarray,
    weights: torch.Tensor | np.ndarray | None = None,
) -> torch.Tensor | np.ndarray:
    """Full-frame translation of hands predicted in crops, from their 3D points and 2D crop pixels.

    For a mirrored crop (a left hand) ``points`` are in the mirrored frame the network saw; they are un-mirrored
    (x negated) and ``uv_crop`` is mapped back through the crop's affine (which undoes the flip) before solving, so
    the result is in the real camera frame: ``project(mirror(points) + t, K) ~ crop.to_frame(uv_crop)``.

    Args:
        points: ``(B, N, 3)`` root-relative points (joints or vertices) in metres, as predicted in the crop.
        uv_crop: ``(B, N, 2)`` their pixels in the crop.
        crops: B :class:`~handmesh.crop.HandCrop`, one per hand.
        K: ``(3, 3)`` or ``(B, 3, 3)`` full-frame intrinsics.
        weights: ``(B, N)`` per-point weights. Default: None (all 1).

    Returns:
        ``(B, 3)`` translation in metres in the real camera frame (numpy if ``points`` is numpy).
    """
    as_numpy = not isinstance(points, torch.Tensor)
    P, UV = _as_tensor(points), _as_tensor(uv_crop)
    assert P is not None and UV is not None
    if len(crops) != P.shape[0]:
        raise ValueError(f"translation_from_crop: {len(crops)} crops for {P.shape[0]} hands")
    inv, signs = _crop_inverse_and_signs(crops, torch.float64)
    inv, signs = inv.to(P.device), signs.to(P.device)
    P_real = P.double() * signs[:, None, :]  # (B, N, 3): un-mirror left hands
    uv_frame = UV.double() @ inv[:, :, :2].transpose(1, 2) + inv[:, None, :, 2]  # (B, N, 2)
    t = solve_translation(P_real, uv_frame, _as_tensor(K), _as_tensor(weights))
    assert isinstance(t, torch.Tensor)
    t = t.to(P.dtype)
    return t.numpy() if as_numpy else t


def translation_from_weak_perspective(
    points: torch.Tensor | np.ndarray,
    cam: torch.Tensor | np.ndarray,
    crops: Sequence[CropFrame],
    K: torch.Tensor | np.ndarray,
    weights: torch.Tensor | np.ndarray | None = None,
) -> torch.Tensor | np.ndarray:
    """Full-frame translation from the network's weak-perspective crop camera ``(s, tx, ty)``.

    The camera places the points in the crop (``uv_norm = s (xy + (tx, ty))``, pixels ``uv_norm S/2 + S/2`` as in
    :mod:`handmesh.geometry.projection`); the perspective translation that best reproduces those pixels in the
    full frame is solved with :func:`translation_from_crop`. Unlike ``(tx, ty, 2 f / (S s))`` this accounts for
    where the crop sits in the image and for the frame's real focal length.

    Args:
        points: ``(B, N, 3)`` root-relative points in metres, as predicted in the crop (use the 21 joints: the
            vertices give the same answer more slowly).
        cam: ``(B, 3)`` crop camera ``(s, tx, ty)``.
        crops: B :class:`~handmesh.crop.HandCrop`.
        K: ``(3, 3)`` or ``(B, 3, 3)`` full-frame intrinsics.
        weights: ``(B, N)`` per-point weights. Default: None.

    Returns:
        ``(B, 3)`` translation in metres in the real camera frame.
    """
    from handmesh.geometry.projection import crop_normalized_to_pixels, weak_perspective_project

    as_numpy = not isinstance(points, torch.Tensor)
    P, C = _as_tensor(points), _as_tensor(cam)
    assert P is not None and C is not None
    sizes = {c.size for c in crops}
    if len(sizes) > 1:
        raise ValueError(f"translation_from_weak_perspective: crops of different sizes {sorted(sizes)}")
    size = sizes.pop() if sizes else 1
    uv_crop = crop_normalized_to_pixels(weak_perspective_project(P.double(), C.double()), size)
    t = translation_from_crop(P.double(), uv_crop, crops, _as_tensor(K), _as_tensor(weights))
    assert isinstance(t, torch.Tensor)
    t = t.to(P.dtype)
    return t.numpy() if as_numpy else t
