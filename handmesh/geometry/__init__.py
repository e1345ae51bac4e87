"""Geometry shared by the network, the hand model, the fit and the pipeline (torch, batched, differentiable where
it matters; numpy where the live pipeline needs speed).

Where things are:
    rotations.py     axis-angle, rotation matrices and the continuous 6D representation
    projection.py    full perspective with intrinsics K, and the network's weak-perspective crop camera
    camera_solve.py  from a crop prediction to the hand's place in the full camera frame (solve_translation)
"""

from handmesh.geometry.projection import (
    crop_normalized_to_pixels,
    crop_pixels_to_normalized,
    map_cell_centres,
    project_pinhole,
    project_points,
    weak_perspective_project,
    weak_perspective_to_translation,
)
from handmesh.geometry.rotations import (
    axis_angle_to_matrix,
    matrix_to_axis_angle,
    matrix_to_quaternion,
    matrix_to_rot6d,
    quaternion_to_axis_angle,
    rot6d_to_matrix,
)

__all__ = [
    "axis_angle_to_matrix",
    "matrix_to_axis_angle",
    "matrix_to_quaternion",
    "quaternion_to_axis_angle",
    "rot6d_to_matrix",
    "matrix_to_rot6d",
    "project_points",
    "project_pinhole",
    "weak_perspective_project",
    "weak_perspective_to_translation",
    "crop_normalized_to_pixels",
    "crop_pixels_to_normalized",
    "map_cell_centres",
]
