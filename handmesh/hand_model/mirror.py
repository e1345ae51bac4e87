"""Left hands from right hands: mirroring a model's arrays and its pose parameters across the x = 0 plane.

Let ``M = diag(-1, 1, 1)``. The left hand is the right hand seen in a mirror: a right-hand vertex ``v`` becomes
``M v``, and a joint rotation ``R`` of the right hand becomes ``R' = M R M`` on the left. For each array:

* ``v_template``, ``shapedirs``: the x component changes sign (``shapedirs`` maps betas to offsets, which mirror
  like points). This is also the fix for MANO's left file, whose ``shapedirs`` equal the right file's (smplx issue
  #48, see :mod:`handmesh.hand_model.mano_pickle`).
* ``posedirs``: the pose feature is ``R - I``; entry ``(a, b)`` of ``M X M`` is ``s_a s_b X_ab`` with
  ``s = (-1, 1, 1)``. An offset of component c mirrors by ``s_c``, so the coefficient of feature ``(j, a, b)`` on
  component c is multiplied by ``s_c s_a s_b``.
* axis-angle ``w`` (``hands_mean``, each triple of a ``hands_components`` row): a rotation vector is a
  pseudovector, ``w' = det(M) M w = (x, -y, -z)``.
* ``faces``: a reflection reverses orientation, so two indices of every triangle swap to keep the normals outward.
* ``J_regressor``, ``weights``, ``parents``, ``tip_vertex_ids``: unchanged (vertex and joint numbering is shared).
"""

from __future__ import annotations

import numpy as np
import torch

from handmesh.hand_model.model_file import HandModelArrays

__all__ = [
    "MIRROR_SIGNS",
    "mirror_model_arrays",
    "mirror_shapedirs",
    "mirror_posedirs",
    "mirror_axis_angle",
    "mirror_rotation_matrix",
    "mirror_points",
    "flip_face_winding",
]

# s = diag(M): the sign each coordinate takes in the mirror.
MIRROR_SIGNS = np.array([-1.0, 1.0, 1.0], dtype=np.float32)


def mirror_shapedirs(shapedirs: np.ndarray) -> np.ndarray:
    """``(V, 3, K)`` blend shapes of the mirrored model: the x component changes sign."""
    return shapedirs * MIRROR_SIGNS[None, :, None]


def mirror_posedirs(posedirs: np.ndarray) -> np.ndarray:
    """``(V, 3, 9 J)`` pose blend shapes of the mirrored model (coefficient ``(c, j, a, b)`` times ``s_c s_a s_b``)."""
    V, _, P = posedirs.shape
    s = MIRROR_SIGNS
    feature_sign = np.tile((s[:, None] * s[None, :]).reshape(9), P // 9)  # (P,), row-major (a, b) per joint
    return posedirs * s[None, :, None] * feature_sign[None, None, :]


def flip_face_winding(faces: np.ndarray) -> np.ndarray:
    """``(F, 3)`` triangles with the opposite orientation (second and third index swapped)."""
    return np.ascontiguousarray(faces[:, [0, 2, 1]])


def _mirror_axis_angle_np(aa: np.ndarray) -> np.ndarray:
    signs = np.array([1.0, -1.0, -1.0], dtype=aa.dtype)
    return (aa.reshape(*aa.shape[:-1], -1, 3) * signs).reshape(aa.shape)


def mirror_model_arrays(arrays: HandModelArrays) -> HandModelArrays:
    """The mirror-image model: a right model's arrays become a left model's (and vice versa).

    Args:
        arrays: the source model.

    Returns:
        Arrays with ``is_right`` flipped; for mirrored parameters (:func:`mirror_axis_angle` of both rotations, the
        same betas, x-negated translation) the mirrored model's vertices and joints are the source's with x negated.
    """
    return arrays.replace(
        v_template=arrays.v_template * MIRROR_SIGNS,
        shapedirs=mirror_shapedirs(arrays.shapedirs),
        posedirs=mirror_posedirs(arrays.posedirs),
        faces=flip_face_winding(arrays.faces),
        hands_mean=_mirror_axis_angle_np(arrays.hands_mean),
        # Rows are components, columns the 45 pose numbers: mirror every (x, y, z) triple along the columns.
        hands_components=_mirror_axis_angle_np(arrays.hands_components),
        is_right=not arrays.is_right,
    )


def mirror_axis_angle(aa: torch.Tensor) -> torch.Tensor:
    """Mirror axis-angle rotations: ``(x, y, z) -> (x, -y, -z)`` for every triple.

    Args:
        aa: ``(..., 3 k)`` (e.g. ``(B, 3)``, ``(B, 45)``, ``(B, 15, 3)``, ``(B, 48)``).

    Returns:
        Same shape.
    """
    if aa.shape[-1] % 3:
        raise ValueError(f"mirror_axis_angle: aa: last dimension must be a multiple of 3, got {tuple(aa.shape)}")
    signs = torch.tensor([1.0, -1.0, -1.0], dtype=aa.dtype, device=aa.device)
    return (aa.reshape(*aa.shape[:-1], -1, 3) * signs).reshape(aa.shape)


def mirror_rotation_matrix(R: torch.Tensor) -> torch.Tensor:
    """``M R M`` for rotation matrices ``(..., 3, 3)``: the same joint rotation seen in the mirror."""
    s = torch.tensor([-1.0, 1.0, 1.0], dtype=R.dtype, device=R.device)
    return R * s[:, None] * s[None, :]


def mirror_points(points: torch.Tensor) -> torch.Tensor:
    """``(..., 3)`` points (or translations) with x negated."""
    s = torch.tensor([-1.0, 1.0, 1.0], dtype=points.dtype, device=points.device)
    return points * s
