"""Numba kernels of the landmark fit: forward kinematics of the skeleton, its Jacobian, and the rotation log map.

The fit runs a handful of tiny array operations per step; in numpy each costs a few microseconds of dispatch, which
added up to most of the fit's time. These loops do the same arithmetic in one compiled call. Importing this module
imports numba but compiles nothing: each kernel compiles on its first call (``cache=True`` keeps the machine code in
``__pycache__`` for the next process). The documented entry points are :class:`handmesh.fitting.skeleton.Skeleton`
and :mod:`handmesh.fitting.so3`; these functions take plain float64 arrays.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, inline="always")
def _rodrigues(wx: float, wy: float, wz: float, out: np.ndarray) -> None:  # pragma: no cover - numba
    """``out (3, 3) = exp([w]x)``."""
    t2 = wx * wx + wy * wy + wz * wz
    if t2 < 1e-8:
        a, b = 1.0 - t2 / 6.0, 0.5 - t2 / 24.0
    else:
        t = math.sqrt(t2)
        a, b = math.sin(t) / t, (1.0 - math.cos(t)) / t2
    out[0, 0] = 1.0 - b * (wy * wy + wz * wz)
    out[1, 1] = 1.0 - b * (wx * wx + wz * wz)
    out[2, 2] = 1.0 - b * (wx * wx + wy * wy)
    out[0, 1] = -a * wz + b * wx * wy
    out[1, 0] = a * wz + b * wx * wy
    out[0, 2] = a * wy + b * wx * wz
    out[2, 0] = -a * wy + b * wx * wz
    out[1, 2] = -a * wx + b * wy * wz
    out[2, 1] = a * wx + b * wy * wz


@njit(cache=True, nogil=True, inline="always")
def _right_jacobian(wx: float, wy: float, wz: float, out: np.ndarray) -> None:  # pragma: no cover - numba
    """``out (3, 3) = I - (1 - cos t) / t^2 [w]x + (t - sin t) / t^3 [w]x^2`` (see :mod:`handmesh.fitting.so3`)."""
    t2 = wx * wx + wy * wy + wz * wz
    if t2 < 1e-8:
        b, c = 0.5 - t2 / 24.0, 1.0 / 6.0 - t2 / 120.0
    else:
        t = math.sqrt(t2)
        b, c = (1.0 - math.cos(t)) / t2, (t - math.sin(t)) / (t2 * t)
    # [w]x^2 = w w^T - t^2 I
    out[0, 0] = 1.0 + c * (wx * wx - t2)
    out[1, 1] = 1.0 + c * (wy * wy - t2)
    out[2, 2] = 1.0 + c * (wz * wz - t2)
    out[0, 1] = b * wz + c * wx * wy
    out[1, 0] = -b * wz + c * wx * wy
    out[0, 2] = -b * wy + c * wx * wz
    out[2, 0] = b * wy + c * wx * wz
    out[1, 2] = b * wx + c * wy * wz
    out[2, 1] = -b * wx + c * wy * wz


@njit(cache=True, nogil=True)
def forward_kinematics(
    R0: np.ndarray,
    w: np.ndarray,
    t: np.ndarray,
    joints_rest: np.ndarray,
    tips_rest: np.ndarray,
    parents: np.ndarray,
    tip_joints: np.ndarray,
    tip_posedirs: np.ndarray,
    order21: np.ndarray,
) -> tuple:  # pragma: no cover - numba
    """Pose B skeletons.

    Args:
        R0: ``(B, 3, 3)`` global orientations. w: ``(B, 15, 3)`` finger joints' axis-angle. t: ``(B, 3)`` wrists.
        joints_rest: ``(B, 16, 3)`` and tips_rest: ``(B, 5, 3)`` shaped rest joints and fingertips.
        parents: ``(16,)`` MANO parents (each before its children). tip_joints: ``(5,)`` distal joint per tip.
        tip_posedirs: ``(135, 15)`` fingertips' pose blend shapes (features x flattened offsets).
        order21: ``(21,)`` indices into ``[joints, tips]`` giving the 21-keypoint order.

    Returns:
        ``(keypoints (B, 21, 3), joints (B, 16, 3), frames (B, 16, 3, 3), local (B, 16, 3, 3))``.
    """
    B = R0.shape[0]
    local = np.empty((B, 16, 3, 3))
    Q = np.empty((B, 16, 3, 3))
    P = np.empty((B, 16, 3))
    kp = np.empty((B, 21, 3))
    both = np.empty((21, 3))
    tip = np.empty(3)
    for b in range(B):
        local[b, 0] = R0[b]
        Q[b, 0] = R0[b]
        P[b, 0] = t[b]
        for k in range(1, 16):
            _rodrigues(w[b, k - 1, 0], w[b, k - 1, 1], w[b, k - 1, 2], local[b, k])
            p = parents[k]
            for i in range(3):
                acc = P[b, p, i]
                for j in range(3):
                    acc += Q[b, p, i, j] * (joints_rest[b, k, j] - joints_rest[b, p, j])
                P[b, k, i] = acc
                for j in range(3):
                    Q[b, k, i, j] = (
                        Q[b, p, i, 0] * local[b, k, 0, j]
                        + Q[b, p, i, 1] * local[b, k, 1, j]
                        + Q[b, p, i, 2] * local[b, k, 2, j]
                    )
        for k in range(16):
            both[k] = P[b, k]
        for f in range(5):
            jd = tip_joints[f]
            for c in range(3):  # the tip's rest position with its pose blend shape
                acc = tips_rest[b, f, c]
                for k in range(1, 16):
                    for i in range(3):
                        for j in range(3):
                            v = local[b, k, i, j] - (1.0 if i == j else 0.0)
                            acc += v * tip_posedirs[(k - 1) * 9 + i * 3 + j, f * 3 + c]
                tip[c] = acc - joints_rest[b, jd, c]
            for i in range(3):
                both[16 + f, i] = (
                    P[b, jd, i] + Q[b, jd, i, 0] * tip[0] + Q[b, jd, i, 1] * tip[1] + Q[b, jd, i, 2] * tip[2]
                )
        for n in range(21):
            kp[b, n] = both[order21[n]]
    return kp, P, Q, local


@njit(cache=True, nogil=True)
def skeleton_jacobian(
    points: np.ndarray,
    joints: np.ndarray,
    frames: np.ndarray,
    w: np.ndarray,
    axes: np.ndarray,
    pair_points: np.ndarray,
    pair_joints: np.ndarray,
) -> np.ndarray:  # pragma: no cover - numba
    """``(B, 21, 3, 51)`` d points / d (global change 3, translation 3, 15 x 3 angles); see
    :meth:`handmesh.fitting.skeleton.Skeleton.jacobian` for the formulas."""
    B = points.shape[0]
    jac = np.zeros((B, 21, 3, 51))
    Jr = np.empty((3, 3))
    M = np.empty((3, 3))
    QJ = np.empty((3, 3))
    for b in range(B):
        for n in range(21):
            dx = points[b, n, 0] - joints[b, 0, 0]
            dy = points[b, n, 1] - joints[b, 0, 1]
            dz = points[b, n, 2] - joints[b, 0, 2]
            # -[d]x (rotation about the wrist), then the identity (translation)
            jac[b, n, 0, 1], jac[b, n, 0, 2] = dz, -dy
            jac[b, n, 1, 0], jac[b, n, 1, 2] = -dz, dx
            jac[b, n, 2, 0], jac[b, n, 2, 1] = dy, -dx
            jac[b, n, 0, 3] = 1.0
            jac[b, n, 1, 4] = 1.0
            jac[b, n, 2, 5] = 1.0
        for q in range(pair_points.shape[0]):
            n, k = pair_points[q], pair_joints[q]
            _right_jacobian(w[b, k - 1, 0], w[b, k - 1, 1], w[b, k - 1, 2], Jr)
            for i in range(3):
                for j in range(3):
                    QJ[i, j] = (
                        frames[b, k, i, 0] * Jr[0, j] + frames[b, k, i, 1] * Jr[1, j] + frames[b, k, i, 2] * Jr[2, j]
                    )
            for i in range(3):
                for j in range(3):
                    M[i, j] = QJ[i, 0] * axes[k - 1, 0, j] + QJ[i, 1] * axes[k - 1, 1, j] + QJ[i, 2] * axes[k - 1, 2, j]
            dx = points[b, n, 0] - joints[b, k, 0]
            dy = points[b, n, 1] - joints[b, k, 1]
            dz = points[b, n, 2] - joints[b, k, 2]
            col = 6 + 3 * (k - 1)
            for j in range(3):  # -[d]x M
                jac[b, n, 0, col + j] = dz * M[1, j] - dy * M[2, j]
                jac[b, n, 1, col + j] = -dz * M[0, j] + dx * M[2, j]
                jac[b, n, 2, col + j] = dy * M[0, j] - dx * M[1, j]
    return jac


@njit(cache=True, nogil=True)
def log_map(R: np.ndarray) -> np.ndarray:  # pragma: no cover - numba
    """``(N, 3, 3)`` rotations -> ``(N, 3)`` axis-angle, angle in ``[0, pi]`` (Shepperd's quaternion)."""
    N = R.shape[0]
    out = np.empty((N, 3))
    for n in range(N):
        m00, m11, m22 = R[n, 0, 0], R[n, 1, 1], R[n, 2, 2]
        tr = m00 + m11 + m22
        c0, c1, c2, c3 = 1.0 + tr, 1.0 + m00 - m11 - m22, 1.0 - m00 + m11 - m22, 1.0 - m00 - m11 + m22
        d21, d02, d10 = R[n, 2, 1] - R[n, 1, 2], R[n, 0, 2] - R[n, 2, 0], R[n, 1, 0] - R[n, 0, 1]
        s21, s02, s10 = R[n, 2, 1] + R[n, 1, 2], R[n, 0, 2] + R[n, 2, 0], R[n, 1, 0] + R[n, 0, 1]
        if c0 >= c1 and c0 >= c2 and c0 >= c3:
            s = math.sqrt(max(c0, 1e-300)) * 2.0
            qw, qx, qy, qz = s / 4.0, d21 / s, d02 / s, d10 / s
        elif c1 >= c2 and c1 >= c3:
            s = math.sqrt(max(c1, 1e-300)) * 2.0
            qw, qx, qy, qz = d21 / s, s / 4.0, s10 / s, s02 / s
        elif c2 >= c3:
            s = math.sqrt(max(c2, 1e-300)) * 2.0
            qw, qx, qy, qz = d02 / s, s10 / s, s / 4.0, s21 / s
        else:
            s = math.sqrt(max(c3, 1e-300)) * 2.0
            qw, qx, qy, qz = d10 / s, s02 / s, s21 / s, s / 4.0
        if qw < 0.0:
            qw, qx, qy, qz = -qw, -qx, -qy, -qz
        sin_half = math.sqrt(qx * qx + qy * qy + qz * qz)
        scale = 2.0 * math.atan2(sin_half, qw) / sin_half if sin_half > 1e-12 else 2.0
        out[n, 0], out[n, 1], out[n, 2] = qx * scale, qy * scale, qz * scale
    return out
