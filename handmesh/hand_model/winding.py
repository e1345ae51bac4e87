"""Face winding: which way triangles face, and making them face outward.

The renderer and every consumer rely on outward winding (the right-hand-rule normal ``(v1 - v0) x (v2 - v0)`` leaves
the skin) on both hands. A reflection (left from right) reverses winding, so it is checked where models are read
from files we do not write ourselves.
"""

from __future__ import annotations

import numpy as np

__all__ = ["signed_volume", "boundary_edge_count", "orient_faces_outward"]


def signed_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    """Signed volume ``sum(det(v0, v1, v2)) / 6``, in cubic metres for vertices in metres.

    Args:
        vertices: ``(V, 3)``.
        faces: ``(F, 3)`` vertex indices.

    Returns:
        Positive when the faces are wound outward. For an open mesh like MANO's the small wrist opening barely
        changes the value, so the sign stays reliable.
    """
    tri = np.asarray(vertices, dtype=np.float64)[np.asarray(faces)]
    return float(np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6.0)


def boundary_edge_count(faces: np.ndarray) -> int:
    """Edges used by exactly one triangle: 0 for a watertight mesh, 16 at MANO's wrist opening."""
    f = np.asarray(faces, dtype=np.int64)
    edges = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    return int((counts == 1).sum())


def orient_faces_outward(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, bool]:
    """Flip every triangle if the mesh as a whole is wound inward.

    Args:
        vertices: ``(V, 3)``.
        faces: ``(F, 3)``, consistently wound (either all outward or all inward).

    Returns:
        ``(faces, flipped)``: outward-wound faces and whether they had to be flipped.
    """
    if signed_volume(vertices, faces) >= 0:
        return faces, False
    return np.ascontiguousarray(np.asarray(faces)[:, [0, 2, 1]]), True
