"""Geometry shared by the network, the hand model and the demo: rotations and camera projections (torch, batched,
differentiable; ``project_pinhole`` in numpy). Camera solving lives in ``handmesh.geometry.camera_solve``."""

from handmesh.geometry.projection import (
    crop_normalized_to_pixels,
    crop_pixels_to_normalized,
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
]
