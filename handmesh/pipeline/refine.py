"""The refinement stage of the pipeline: the network's hands in, hands that agree with the detector's landmarks out.

The estimator talks to a refiner only through :class:`HandRefiner`, as it talks to the network through
:class:`~handmesh.pipeline.network.NetworkStage`; :func:`handmesh.load` wires in the landmark fit
(:class:`handmesh.fitting.LandmarkFitter`, whose ``FitResult`` is a :class:`RefineOutput`) or none, and neither
side imports the other. Everything crossing this seam is in the real camera frame of the input image (left hands
are not mirrored here), metres and pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from handmesh.detection.types import Handedness


@dataclass
class RefineInput:
    """One hand as the network predicted it, with the detector's landmarks.

    Attributes:
        handedness: the hand's side.
        rotmats: ``(16, 3, 3)`` local joint rotations of the side's hand model (global orientation first).
        betas: ``(10,)`` shape coefficients.
        translation: ``(3,)`` the wrist's position, camera frame, metres.
        landmarks2d: ``(21, 2)`` the detector's keypoints in frame pixels, or None.
        landmarks3d: ``(21, 3)`` the detector's metric keypoints (MediaPipe's world landmarks: metres, camera axes,
            origin near the hand's centre), or None.
        track_id: video mode: the hand's track (a temporal prior follows it), else None.
    """

    handedness: Handedness
    rotmats: np.ndarray
    betas: np.ndarray
    translation: np.ndarray
    landmarks2d: np.ndarray | None = None
    landmarks3d: np.ndarray | None = None
    track_id: int | None = None


@runtime_checkable
class RefineOutput(Protocol):
    """The refined hand (same meaning as :class:`RefineInput`), and how well it fits.

    Attributes:
        rotmats: ``(16, 3, 3)`` local joint rotations.
        betas: ``(10,)`` shape coefficients.
        translation: ``(3,)`` metres.
        refined: the fit ran and its result passed the checks; False: the input comes back unchanged.
        residual_px: mean distance between the fitted keypoints' projections and the landmarks used, pixels
            (NaN when not refined).
        keypoints: ``(21, 3)`` the fitted keypoints, camera frame, metres (None when not refined). Video mode
            smooths the pose over time and then places the smoothed hand so that it projects where these do, so
            smoothing does not make the overlay lag behind the hand.
    """

    rotmats: np.ndarray
    betas: np.ndarray
    translation: np.ndarray
    refined: bool
    residual_px: float
    keypoints: np.ndarray | None


@runtime_checkable
class HandRefiner(Protocol):
    """Anything that refines the network's hands against the detector's evidence."""

    def refine(
        self, hands: Sequence[RefineInput], K: np.ndarray, image_size: tuple[int, int], timestamp_ms: int | None = None
    ) -> list[RefineOutput]:
        """Refine B hands of one frame.

        Args:
            hands: the frame's hands.
            K: ``(3, 3)`` intrinsics, pixels.
            image_size: ``(H, W)`` of the frame.
            timestamp_ms: the frame's time (video mode), or None.

        Returns:
            One :class:`RefineOutput` per input, in order.
        """
        ...

    def reset(self) -> None:
        """Forget what earlier frames left (temporal priors)."""
        ...


__all__ = ["HandRefiner", "RefineInput", "RefineOutput"]
