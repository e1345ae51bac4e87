"""Rotation conversions: axis-angle, rotation matrices and the continuous 6D representation.

All functions are batched over any leading dimensions (``...``), differentiable, and stay finite (values and
gradients) at angle 0 and near angle pi, where the textbook formulas divide by ``sin`` or by the angle.

Conventions:
    * Axis-angle ``aa (..., 3)``: direction = rotation axis, norm = angle in radians (right-hand rule), as in MANO
      and smplx.
    * 6D (Zhou et al., "On the Continuity of Rotation Representations in Neural Networks", CVPR 2019):
      ``x[..., 0:3]`` is the first column of R and ``x[..., 3:6]`` the second; the matrix is rebuilt by
      Gram-Schmidt, third column = cross(b1, b2), ``R = stack([b1, b2, b3], dim=-1)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "axis_angle_to_matrix",
    "matrix_to_axis_angle",
    "matrix_to_quaternion",
    "quaternion_to_axis_angle",
    "rot6d_to_matrix",
    "matrix_to_rot6d",
]

# Below this squared angle the Taylor series replace sin(t)/t and (1-cos(t))/t^2. At t^2 = 1e-6 the first omitted
# terms are ~1e-14 relative: far below float32 (and float64 round-off of the closed form is ~1e-10 there).
_SMALL_ANGLE_SQ = 1e-6


def _check_last_dim(x: torch.Tensor, size: int, name: str) -> None:
    if x.shape[-1:] != (size,):
        raise ValueError(f"{name}: expected shape (..., {size}), got {tuple(x.shape)}")


def _check_matrix(R: torch.Tensor, name: str) -> None:
    if R.shape[-2:] != (3, 3):
        raise ValueError(f"{name}: expected shape (..., 3, 3), got {tuple(R.shape)}")


def _skew(v: torch.Tensor) -> torch.Tensor:
    """Cross-product matrix ``[v]_x`` of ``v (..., 3)``: ``(..., 3, 3)``."""
    x, y, z = v.unbind(-1)
    o = torch.zeros_like(x)
    return torch.stack([o, -z, y, z, o, -x, -y, x, o], dim=-1).reshape(*v.shape[:-1], 3, 3)


def axis_angle_to_matrix(aa: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula ``R = I + a(t) K + b(t) K^2`` with ``K = [aa]_x`` (unnormalized axis).

    ``a = sin(t)/t`` and ``b = (1 - cos t)/t^2`` are evaluated by their Taylor series for tiny angles, so neither
    the value nor the gradient divides by zero at ``aa = 0``.

    Args:
        aa: axis-angle vectors, ``(..., 3)``, radians.

    Returns:
        Rotation matrices ``(..., 3, 3)``.
    """
    _check_last_dim(aa, 3, "axis_angle_to_matrix: aa")
    theta_sq = (aa * aa).sum(-1)  # (...)
    small = theta_sq < _SMALL_ANGLE_SQ
    # The large-angle branch is evaluated everywhere (torch.where takes gradients through both branches), so feed
    # it a harmless angle where the small branch is used: otherwise 0/0 there would poison the gradient with NaN.
    safe_sq = torch.where(small, torch.ones_like(theta_sq), theta_sq)
    theta = safe_sq.sqrt()
    a = torch.where(small, 1.0 - theta_sq / 6.0, theta.sin() / theta)
    b = torch.where(small, 0.5 - theta_sq / 24.0, (1.0 - theta.cos()) / safe_sq)
    K = _skew(aa)
    eye = torch.eye(3, dtype=aa.dtype, device=aa.device).expand(K.shape)
    return eye + a[..., None, None] * K + b[..., None, None] * (K @ K)


def _sqrt_positive(x: torch.Tensor) -> torch.Tensor:
    """``sqrt(max(x, 0))`` whose gradient is 0 (not inf) where ``x <= 0``."""
    positive = x > 0
    return torch.where(positive, torch.where(positive, x, torch.ones_like(x)).sqrt(), torch.zeros_like(x))


def matrix_to_quaternion(R: torch.Tensor) -> torch.Tensor:
    """Unit quaternion ``(w, x, y, z)`` of a rotation matrix, with ``w >= 0``.

    Shepperd's method: four algebraically equal candidates are formed, each dividing by a different quaternion
    component; the one dividing by the largest component is kept, which is well conditioned for every rotation
    (including angle pi, where ``w = 0``).

    Args:
        R: rotation matrices ``(..., 3, 3)``.

    Returns:
        Quaternions ``(..., 4)``, scalar first.
    """
    _check_matrix(R, "matrix_to_quaternion: R")
    m00, m01, m02 = R[..., 0, 0], R[..., 0, 1], R[..., 0, 2]
    m10, m11, m12 = R[..., 1, 0], R[..., 1, 1], R[..., 1, 2]
    m20, m21, m22 = R[..., 2, 0], R[..., 2, 1], R[..., 2, 2]
    # |2q_i| from the diagonal: 4w^2 = 1+tr, 4x^2 = 1+m00-m11-m22, ...
    q_abs = _sqrt_positive(
        torch.stack(
            [1.0 + m00 + m11 + m22, 1.0 + m00 - m11 - m22, 1.0 - m00 + m11 - m22, 1.0 - m00 - m11 + m22], dim=-1
        )
    )  # (..., 4), equals 2|q_i|
    # Row i holds 4 q_i * q (all four components) from off-diagonal sums/differences.
    cand = torch.stack(
        [
            torch.stack([q_abs[..., 0] ** 2, m21 - m12, m02 - m20, m10 - m01], dim=-1),
            torch.stack([m21 - m12, q_abs[..., 1] ** 2, m10 + m01, m02 + m20], dim=-1),
            torch.stack([m02 - m20, m10 + m01, q_abs[..., 2] ** 2, m12 + m21], dim=-1),
            torch.stack([m10 - m01, m20 + m02, m21 + m12, q_abs[..., 3] ** 2], dim=-1),
        ],
        dim=-2,
    )  # (..., 4, 4)
    # Divide by 2 q_abs (= 4|q_i|); the floor only affects candidates that are never selected.
    cand = cand / (2.0 * q_abs[..., None].clamp(min=0.1))
    best = F.one_hot(q_abs.argmax(dim=-1), num_classes=4).to(R.dtype)  # (..., 4)
    q = (cand * best[..., None]).sum(dim=-2)  # (..., 4)
    q = F.normalize(q, dim=-1)
    # q and -q are the same rotation; w >= 0 puts the angle in [0, pi].
    return torch.where(q[..., :1] < 0, -q, q)


def quaternion_to_axis_angle(q: torch.Tensor) -> torch.Tensor:
    """Axis-angle of a unit quaternion ``(w, x, y, z)``.

    ``angle = 2 atan2(|v|, w)`` and ``aa = v * angle / |v|``; for tiny ``|v|`` the ratio uses its series
    ``2/w - (2/3)|v|^2/w^3``, so the result and its gradient are finite at the identity.

    Args:
        q: quaternions ``(..., 4)``, scalar first (need not have ``w >= 0``).

    Returns:
        Axis-angle vectors ``(..., 3)`` with angle in ``[0, pi]``.
    """
    _check_last_dim(q, 4, "quaternion_to_axis_angle: q")
    q = torch.where(q[..., :1] < 0, -q, q)
    w, v = q[..., 0], q[..., 1:]
    n_sq = (v * v).sum(-1)
    small = n_sq < _SMALL_ANGLE_SQ
    safe_sq = torch.where(small, torch.ones_like(n_sq), n_sq)
    n = safe_sq.sqrt()
    # Near the identity w ~ 1; keep w away from 0 in the unused branch only.
    safe_w = torch.where(small, w, torch.ones_like(w))
    factor = torch.where(small, 2.0 / safe_w - (2.0 / 3.0) * n_sq / safe_w**3, 2.0 * torch.atan2(n, w) / n)
    return v * factor[..., None]


def matrix_to_axis_angle(R: torch.Tensor) -> torch.Tensor:
    """Axis-angle of a rotation matrix (through a unit quaternion, stable at angle 0 and pi).

    At exactly pi the axis sign is arbitrary (``aa`` and ``-aa`` are the same rotation).

    Args:
        R: rotation matrices ``(..., 3, 3)``.

    Returns:
        Axis-angle vectors ``(..., 3)``, radians, angle in ``[0, pi]``.
    """
    return quaternion_to_axis_angle(matrix_to_quaternion(R))


def rot6d_to_matrix(x: torch.Tensor) -> torch.Tensor:
    """Rotation matrix from the 6D representation by Gram-Schmidt (Zhou et al. 2019, section 4.2).

    Args:
        x: ``(..., 6)``; ``x[..., 0:3]`` becomes (after normalizing) the first column of R, ``x[..., 3:6]`` the
            second after removing its component along the first.

    Returns:
        Rotation matrices ``(..., 3, 3)`` with columns ``b1, b2, b1 x b2``.
    """
    _check_last_dim(x, 6, "rot6d_to_matrix: x")
    a1, a2 = x[..., 0:3], x[..., 3:6]
    b1 = F.normalize(a1, dim=-1, eps=1e-8)
    b2 = F.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1, eps=1e-8)
    b3 = torch.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)


def matrix_to_rot6d(R: torch.Tensor) -> torch.Tensor:
    """The 6D representation of a rotation matrix: its first two columns, concatenated.

    Args:
        R: rotation matrices ``(..., 3, 3)``.

    Returns:
        ``(..., 6)`` = ``cat([R[..., :, 0], R[..., :, 1]], -1)``.
    """
    _check_matrix(R, "matrix_to_rot6d: R")
    return torch.cat([R[..., :, 0], R[..., :, 1]], dim=-1)
