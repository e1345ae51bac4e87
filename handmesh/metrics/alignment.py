"""Per-sample Procrustes alignment with scale, as the official FreiHAND evaluation defines it (``align_w_scale``).

For ground truth ``G`` and prediction ``P`` (each ``(n, 3)``, one sample):

1. centre: ``A = G - mean(G)``, ``B = P - mean(P)``;
2. normalise: ``s1 = ||A||_F + 1e-8``, ``s2 = ||B||_F + 1e-8``; ``A /= s1``, ``B /= s2``;
3. orthogonal Procrustes: ``R = argmin_{R orthogonal} ||A R - B||_F`` from the SVD ``A^T B = U W V^T``, ``R = U V^T``,
   and ``s = sum(W)``. There is no reflection fix: like the official tool, ``R`` may have determinant -1, so a mirrored
   prediction is aligned by a reflection;
4. map the prediction onto the ground truth: ``P_aligned = (B R^T) s s1 + mean(G)``.

Everything is batched over samples with one batched SVD of 3x3 matrices, in float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Added to both Frobenius norms before dividing, exactly as the official tool does.
NORM_EPS = 1e-8


@dataclass(frozen=True)
class AlignTrafo:
    """The similarity transform found by :func:`align_w_scale` for each sample.

    Attributes:
        rotation: (N, 3, 3) orthogonal matrix R (possibly a reflection).
        scale: (N,) s, the sum of singular values of ``A^T B`` for the normalised point sets.
        gt_norm: (N,) s1, the Frobenius norm of the centred ground truth plus 1e-8, metres.
        translation: (N, 3) ``mean(G) - mean(P)``, metres.
    """

    rotation: np.ndarray
    scale: np.ndarray
    gt_norm: np.ndarray
    translation: np.ndarray


def align_w_scale(
    gt: np.ndarray, pred: np.ndarray, return_trafo: bool = False, *, allow_reflection: bool = True
) -> np.ndarray | tuple[np.ndarray, AlignTrafo]:
    """Align each predicted point set to its ground truth with rotation, scale and translation.

    Args:
        gt: (N, P, 3) or (P, 3) ground-truth points, metres.
        pred: predictions of the same shape, metres.
        return_trafo: also return the :class:`AlignTrafo`. Default: False.
        allow_reflection: FreiHAND's protocol takes the orthogonal Procrustes solution as it comes, which may be a
            reflection (a mirror-image hand can then score well). False keeps it a rotation (Kabsch), so a hand of
            the wrong chirality counts as wrong, as a user sees it. Default: True.

    Returns:
        The aligned predictions, same shape as ``pred`` (float64), and the transform if asked for.
    """
    gt = np.asarray(gt, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    if gt.shape != pred.shape or gt.ndim not in (2, 3) or gt.shape[-1] != 3:
        raise ValueError(f"align_w_scale: gt {gt.shape} and pred {pred.shape} must both be (N, P, 3) or (P, 3)")
    single = gt.ndim == 2
    if single:
        gt, pred = gt[None], pred[None]
    t1 = gt.mean(axis=1, keepdims=True)
    t2 = pred.mean(axis=1, keepdims=True)
    a = gt - t1
    b = pred - t2
    s1 = np.sqrt(np.einsum("npk,npk->n", a, a)) + NORM_EPS
    s2 = np.sqrt(np.einsum("npk,npk->n", b, b)) + NORM_EPS
    a /= s1[:, None, None]
    b /= s2[:, None, None]
    u, w, vt = np.linalg.svd(a.transpose(0, 2, 1) @ b)  # A^T B, (N, 3, 3)
    if allow_reflection:
        rot = u @ vt
        s = w.sum(axis=1)
    else:
        d = np.sign(np.linalg.det(u @ vt))  # -1 where the best orthogonal map is a reflection
        d[d == 0] = 1.0
        u = u.copy()
        u[:, :, 2] *= d[:, None]
        rot = u @ vt
        s = w[:, 0] + w[:, 1] + d * w[:, 2]
    aligned = (b @ rot.transpose(0, 2, 1)) * s[:, None, None]
    aligned = aligned * s1[:, None, None] + t1
    if single:
        aligned = aligned[0]
    if not return_trafo:
        return aligned
    return aligned, AlignTrafo(rotation=rot, scale=s, gt_norm=s1, translation=(t1 - t2)[:, 0])


def align_by_trafo(points: np.ndarray, trafo: AlignTrafo) -> np.ndarray:
    """Apply a keypoint alignment to another point set of the same samples, exactly as the official tool does
    when the predicted mesh does not have the ground truth's 778 vertices.

    The official formula is ``(V - mean(V)) R^T s s1 + (mean(G) - mean(P)) + mean(V)`` for predicted vertices V.
    It does not divide by the predicted keypoints' norm s2, so it is not the same similarity as the keypoint
    alignment; it is reproduced unchanged so that scores match the official ones.

    Args:
        points: (N, Q, 3) predicted points (e.g. vertices of any topology), metres.
        trafo: the transform from :func:`align_w_scale` on the keypoints, N samples.

    Returns:
        (N, Q, 3) float64.
    """
    points = np.asarray(points, dtype=np.float64)
    centre = points.mean(axis=1, keepdims=True)
    out = ((points - centre) @ trafo.rotation.transpose(0, 2, 1)) * (trafo.scale * trafo.gt_norm)[:, None, None]
    return out + trafo.translation[:, None, :] + centre
