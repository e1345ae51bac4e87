"""What the library returns for each hand in a frame: :class:`Hand`.

Coordinate convention (one for everything the library returns):

* 3D positions are in the **camera frame** of the input image, in **metres**, with OpenCV's axes: x to the right of
  the image, y down, z forward (away from the camera, so every visible point has z > 0).
* 2D positions are **pixels** of the input image, origin at the top-left corner, pixel centres at integers
  (OpenCV's convention): ``u = fx * x / z + cx``, ``v = fy * y / z + cy`` with the intrinsics ``K`` used.
* Keypoints are the 21 of FreiHAND/OpenPose/MediaPipe: 0 wrist, 1-4 thumb, 5-8 index, 9-12 middle, 13-16 ring,
  17-20 pinky (each from its base to its tip).
* Hand model parameters follow smplx's MANO layer: axis-angle ``global_orient (3,)`` and ``hand_pose (45,)`` (15
  joints in MANO's order index, middle, pinky, ring, thumb, as offsets from the model's ``hands_mean``, i.e.
  ``flat_hand_mean=False``), ``betas (10,)``. With the model of the hand's side
  (``handmesh.hand_model.build_hand_model(hand.hand_model, hand.handedness)``) they give the mesh up to a
  translation: ``vertices = model(...).vertices - model(...).joints[:, 0] + translation``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

Handedness = Literal["left", "right"]
"""The person's hand (the same as :data:`handmesh.detection.types.Handedness`)."""

FINGERTIPS: tuple[int, ...] = (4, 8, 12, 16, 20)
"""Keypoint indices of the thumb, index, middle, ring and pinky tips."""

FINGER_NAMES: tuple[str, ...] = ("thumb", "index", "middle", "ring", "pinky")


@dataclass
class Hand:
    """One hand found in a frame.

    Attributes:
        handedness: ``"left"`` or ``"right"``: the person's hand (for an unmirrored camera image).
        score: detection confidence in [0, 1] (MediaPipe's handedness score; 1 for the fallback detectors).
        box: ``(4,)`` float64 ``(x0, y0, x1, y1)`` pixels: the tight box around :attr:`joints2d`.
        crop_box: ``(4,)`` float64 the square region of the frame the network saw, pixels.
        vertices: ``(V, 3)`` float32 mesh vertices, camera frame, metres (778 for MANO and the open hand).
        joints: ``(21, 3)`` float32 keypoints, camera frame, metres.
        joints2d: ``(21, 2)`` float32 keypoints in pixels: :attr:`joints` projected with :attr:`K`.
        global_orient: ``(3,)`` float32 axis-angle wrist rotation (camera frame).
        hand_pose: ``(45,)`` float32 axis-angle finger rotations, offsets from the model's ``hands_mean``.
        betas: ``(10,)`` float32 shape coefficients of :attr:`hand_model`.
        rotmats: ``(16, 3, 3)`` float32 absolute joint rotations (index 0 = ``global_orient``, then MANO's joints).
        translation: ``(3,)`` float32 the wrist keypoint's position, camera frame, metres (``joints[0]``).
        K: ``(3, 3)`` float64 the intrinsics the result is expressed with (given or defaulted).
        faces: ``(F, 3)`` int32 triangles of :attr:`vertices`, wound outward for this side (a left hand's are the
            right model's with reversed winding). Shared between hands: do not modify in place.
        hand_model: ``"open"`` or ``"mano"``: the model whose mesh and parameters these are.
        track_id: video mode: a stable identity across frames (None in image mode).
        refined: the pose and translation were fitted to the detector's landmarks (``refine="landmarks"``); False
            when the network's prediction is returned as it is (``refine="none"``, no landmarks, or a fit that was
            skipped or failed its checks).
        fit_residual_px: mean distance in pixels between the fitted keypoints and the detector's landmarks (NaN
            when not refined): gate AR effects on it.
    """

    handedness: Handedness
    score: float
    box: np.ndarray
    crop_box: np.ndarray
    vertices: np.ndarray
    joints: np.ndarray
    joints2d: np.ndarray
    global_orient: np.ndarray
    hand_pose: np.ndarray
    betas: np.ndarray
    rotmats: np.ndarray
    translation: np.ndarray
    K: np.ndarray
    faces: np.ndarray
    hand_model: str = "open"
    track_id: int | None = None
    refined: bool = False
    fit_residual_px: float = float("nan")

    @property
    def is_right(self) -> bool:
        """True for a right hand."""
        return self.handedness == "right"

    @property
    def fingertips(self) -> np.ndarray:
        """``(5, 3)`` float32 thumb, index, middle, ring and pinky tips, camera frame, metres."""
        return self.joints[list(FINGERTIPS)]

    @property
    def fingertips2d(self) -> np.ndarray:
        """``(5, 2)`` float32 the fingertips in pixels."""
        return self.joints2d[list(FINGERTIPS)]

    def save_mesh(self, path: str | Path) -> Path:
        """Write the camera-frame mesh to ``path`` (``.obj`` or ``.ply``, chosen by the suffix), atomically.

        Returns:
            ``path`` as a :class:`Path`.
        """
        from handmesh.pipeline.mesh_io import write_mesh

        return write_mesh(path, self.vertices, self.faces)

    def __repr__(self) -> str:
        c = self.joints[0]
        return (
            f"Hand({self.handedness}, score={self.score:.2f}, wrist=({c[0]:+.3f}, {c[1]:+.3f}, {c[2]:.3f}) m, "
            f"box={np.round(self.box, 1).tolist()}, track_id={self.track_id}, refined={self.refined})"
        )
