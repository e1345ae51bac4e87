"""Rotations in numpy for the landmark fit: exponential and logarithm maps and the right Jacobian of SO(3).

Batched over any leading dimensions, float64. The torch versions used by the network live in
:mod:`handmesh.geometry.rotations`; the fit runs on a handful of small arrays per frame, where numpy's per-call cost
is lower than torch's.

Right Jacobian (Chirikjian, *Stochastic Models, Information Theory, and Lie Groups*, vol. 2, eq. 10.86; Sola et al.,
"A micro Lie theory for state estimation in robotics", 2018, eq. 143)::

    exp(w + dw) ~ exp(w) exp(Jr(w) dw),   Jr(w) = I - (1 - cos t) / t^2 [w]x + (t - sin t) / t^3 [w]x^2,  t = |w|
"""

from __future__ import annotations

import numpy as np


def skew(v: np.ndarray) -> np.ndarray:
    """``(..., 3)`` -> ``(..., 3, 3)`` cross-product matrices: ``skew(a) @ b == cross(a, b)``."""
    v = np.asarray(v, dtype=np.float64)
    out = np.zeros(v.shape + (3,))
    out[..., 0, 1], out[..., 0, 2] = -v[..., 2], v[..., 1]
    out[..., 1, 0], out[..., 1, 2] = v[..., 2], -v[..., 0]
    out[..., 2, 0], out[..., 2, 1] = -v[..., 1], v[..., 0]
    return out


def _coefficients(w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``sin t / t``, ``(1 - cos t) / t^2``, ``(t - sin t) / t^3`` (Taylor series near 0) and ``t``, each
    ``(..., 1, 1)``."""
    t2 = np.einsum("...i,...i->...", w, w)[..., None, None]
    t = np.sqrt(t2)
    small = t < 1e-4
    ts = np.where(small, 1.0, t)  # avoid 0/0 in the branch not taken
    sin, cos = np.sin(ts), np.cos(ts)
    if not small.any():
        return sin / ts, (1.0 - cos) / t2, (ts - sin) / (ts * t2), t
    a = np.where(small, 1.0 - t2 / 6.0, sin / ts)
    b = np.where(small, 0.5 - t2 / 24.0, (1.0 - cos) / ts**2)
    c = np.where(small, 1.0 / 6.0 - t2 / 120.0, (ts - sin) / ts**3)
    return a, b, c, t


def exp_map(w: np.ndarray) -> np.ndarray:
    """Axis-angle ``(..., 3)`` -> rotation matrices ``(..., 3, 3)`` (Rodrigues)."""
    w = np.asarray(w, dtype=np.float64)
    W = skew(w)
    a, b, _, _ = _coefficients(w)
    return np.eye(3) + a * W + b * (W @ W)


def right_jacobian(w: np.ndarray) -> np.ndarray:
    """``(..., 3)`` -> ``(..., 3, 3)`` right Jacobian ``Jr(w)`` (module docstring)."""
    w = np.asarray(w, dtype=np.float64)
    W = skew(w)
    _, b, c, _ = _coefficients(w)
    return np.eye(3) - b * W + c * (W @ W)


def log_map(R: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` -> axis-angle ``(..., 3)`` with angle in ``[0, pi]``.

    Through the unit quaternion (Shepperd's method: the largest of ``w, x, y, z`` is computed from the diagonal),
    which stays accurate near 0 and near pi, where the ``acos`` of the trace does not.
    """
    from handmesh.fitting._kernels import log_map as kernel

    R = np.asarray(R, dtype=np.float64)
    return kernel(np.ascontiguousarray(R.reshape(-1, 3, 3))).reshape(R.shape[:-2] + (3,))


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation taking direction ``a`` to direction ``b``; ``(..., 3)`` each -> ``(..., 3, 3)``.

    ``R = I + [v]x + [v]x^2 / (1 + c)`` with ``v = a x b``, ``c = a . b`` (unit vectors); opposite directions
    turn by pi about an axis perpendicular to ``a``.
    """
    a = np.asarray(a, np.float64) / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-300)
    b = np.asarray(b, np.float64) / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), 1e-300)
    c = np.sum(a * b, axis=-1)[..., None, None]
    V = skew(np.cross(a, b))
    R = np.eye(3) + V + (V @ V) / np.maximum(1.0 + c, 1e-12)
    opposite = c[..., 0, 0] < -1.0 + 1e-9
    if np.any(opposite):  # any perpendicular axis: cross with the coordinate axis least aligned with a
        ao = a[opposite]
        perp = np.cross(ao, np.eye(3)[np.argmin(np.abs(ao), axis=-1)])
        R[opposite] = exp_map(perp / np.linalg.norm(perp, axis=-1, keepdims=True) * np.pi)
    return R


def kabsch(src: np.ndarray, dst: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """The rotation ``R`` minimising ``sum w |R src_i - dst_i|^2`` (no translation, no scale).

    Args:
        src, dst: ``(..., N, 3)`` vectors.
        weights: ``(..., N)`` non-negative. Default: None (all 1).

    Returns:
        ``(..., 3, 3)`` proper rotations (determinant +1).
    """
    w = np.ones(src.shape[:-1]) if weights is None else np.asarray(weights, np.float64)
    H = np.einsum("...n,...ni,...nj->...ij", w, dst, src)  # sum w dst src^T
    U, _, Vt = np.linalg.svd(H)
    d = np.sign(np.linalg.det(U @ Vt))
    D = np.ones(H.shape[:-1])
    D[..., 2] = np.where(d == 0, 1.0, d)
    return (U * D[..., None, :]) @ Vt


__all__ = ["exp_map", "kabsch", "log_map", "right_jacobian", "rotation_between", "skew"]
