"""Measuring where a landmark detector puts its 21 landmarks relative to the hand model's keypoints.

MediaPipe's landmarks are not defined exactly like the model's keypoints (its wrist sits about a centimetre towards
the fingers, for one). On frames where the true pose is known (clips from ``handmesh-synth video``), each
landmark's image offset from the true keypoint's projection is, to first order, ``P_i Q_i o_i``: ``P_i (2, 3)`` the
projection's derivative at the keypoint, ``Q_i`` the world frame of the bone that carries the keypoint, ``o_i`` the
offset in that bone's frame. Least squares over every frame gives ``o_i`` (a little ridge keeps unseen directions at
0); it is reported along the hand's anatomical axes (towards the thumb, towards the fingers, out of the palm), in
millimetres, which is what :attr:`handmesh.fitting.FitSettings.landmark_offsets` takes.

``handmesh-bench offsets CLIP ...`` (:mod:`handmesh.bench.offsets`) reads the clips, runs the landmarker and feeds
:class:`OffsetAccumulator`; this module only does the arithmetic.
"""

from __future__ import annotations

import numpy as np

from handmesh.fitting.skeleton import CARRIER, Skeleton

_MIRROR = np.diag([-1.0, 1.0, 1.0])


class OffsetAccumulator:
    """Normal equations of the landmark offsets, frame by frame.

    Args:
        skeleton: the right hand model's :class:`~handmesh.fitting.skeleton.Skeleton`.
    """

    def __init__(self, skeleton: Skeleton) -> None:
        self.skeleton = skeleton
        self.frames = 0
        self._AtA = np.zeros((21, 3, 3))
        self._Atb = np.zeros((21, 3))

    def add(
        self,
        rotmats: np.ndarray,
        betas: np.ndarray,
        wrist: np.ndarray,
        landmarks2d: np.ndarray,
        K: np.ndarray,
        left: bool = False,
    ) -> None:
        """One frame: the true pose and the detector's landmarks.

        Args:
            rotmats: ``(16, 3, 3)`` true local joint rotations of the side's model.
            betas: ``(10,)`` true shape. wrist: ``(3,)`` true wrist position, camera frame, metres.
            landmarks2d: ``(21, 2)`` the detector's landmarks, pixels.
            K: ``(3, 3)`` intrinsics.
            left: a left hand (mirrored into the right hand's world first).
        """
        from handmesh.fitting.landmark_fit import _mirror_pixels

        R, t, uv = np.asarray(rotmats, np.float64), np.asarray(wrist, np.float64), np.asarray(landmarks2d)
        if left:
            R, t, uv = _MIRROR @ R @ _MIRROR, _MIRROR @ t, _mirror_pixels(uv, K)
        sk = self.skeleton
        pose = sk.forward(
            R[None, 0], sk.angles_from_rotations(R[None, 1:]), t[None], sk.rest(np.asarray(betas, np.float64)[None])
        )
        kp = pose.keypoints[0]
        z = kp[:, 2]
        P = np.zeros((21, 2, 3))
        P[:, 0, 0], P[:, 0, 2] = K[0, 0] / z, -K[0, 0] * kp[:, 0] / z**2
        P[:, 1, 1], P[:, 1, 2] = K[1, 1] / z, -K[1, 1] * kp[:, 1] / z**2
        A = P @ pose.frames[0, CARRIER]  # (21, 2, 3)
        proj = kp[:, :2] / z[:, None] * K[[0, 1], [0, 1]] + K[:2, 2]
        self._AtA += np.swapaxes(A, 1, 2) @ A
        self._Atb += np.einsum("nji,nj->ni", A, uv - proj)
        self.frames += 1

    def offsets_mm(self, ridge: float = 1e-2) -> np.ndarray:
        """``(21, 3)`` millimetres along (thumbward, up, palm) of the right hand's frame.

        Args:
            ridge: ridge weight per frame (relative). Default: 0.01.

        Raises:
            ValueError: no frame was added.
        """
        if self.frames == 0:
            raise ValueError("OffsetAccumulator: no frame was added")
        offsets = np.linalg.solve(self._AtA + ridge * self.frames * np.eye(3), self._Atb[..., None])[..., 0]
        frame = self.skeleton.frame
        axes = np.stack([frame.thumbward, frame.up, frame.palm], axis=1)
        return offsets @ axes * 1000.0  # metres in the model's axes -> millimetres along the anatomical axes


__all__ = ["OffsetAccumulator"]
