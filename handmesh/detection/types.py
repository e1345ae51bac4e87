"""What a hand detector returns, and the interface every detector follows.

Keypoint order (MediaPipe's, which is also FreiHAND's/OpenPose's): 0 wrist, 1-4 thumb (CMC, MCP, IP, tip), 5-8 index,
9-12 middle, 13-16 ring, 17-20 pinky (MCP, PIP, DIP, tip). Pixel coordinates have their origin at the top-left
corner with pixel centres at integers (OpenCV's convention).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import numpy as np

Handedness = Literal["left", "right"]
"""The hand's true side (the person's left or right hand), for an unmirrored camera image."""

NUM_KEYPOINTS = 21


@dataclass
class HandDetection:
    """One hand found in a frame.

    Attributes:
        box: ``(4,)`` float64 ``(x0, y0, x1, y1)`` in frame pixels: the tight box around the keypoints when there
            are any, else the detector's box. May extend past the frame edges.
        handedness: ``"left"`` or ``"right"``, the person's hand (already corrected for mirrored input).
        score: confidence in ``[0, 1]``. MediaPipe: the score of the handedness label (the only per-hand score
            its Tasks API exposes; hands below ``min_hand_presence_confidence`` are never returned).
            Fallback detectors: 1.
        keypoints2d: ``(21, 2)`` float64 frame pixels, or None for detectors without keypoints.
        keypoints3d: ``(21, 3)`` float64 metres, MediaPipe's "world" landmarks (origin near the hand's centre, axes
            of the camera), or None.
    """

    box: np.ndarray
    handedness: Handedness
    score: float
    keypoints2d: np.ndarray | None = None
    keypoints3d: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.box = np.asarray(self.box, dtype=np.float64).reshape(4)
        if self.handedness not in ("left", "right"):
            raise ValueError(f"HandDetection: handedness must be 'left' or 'right', got {self.handedness!r}")
        if self.keypoints2d is not None:
            self.keypoints2d = np.asarray(self.keypoints2d, dtype=np.float64)
            if self.keypoints2d.shape != (NUM_KEYPOINTS, 2):
                raise ValueError(f"HandDetection: keypoints2d: expected shape (21, 2), got {self.keypoints2d.shape}")

    @property
    def is_right(self) -> bool:
        """True for a right hand."""
        return self.handedness == "right"

    def scaled(self, factor: float) -> HandDetection:
        """The same detection with every pixel coordinate multiplied by ``factor`` (e.g. from a downscaled copy)."""
        return HandDetection(
            box=self.box * factor,
            handedness=self.handedness,
            score=self.score,
            keypoints2d=None if self.keypoints2d is None else self.keypoints2d * factor,
            keypoints3d=self.keypoints3d,
        )


@runtime_checkable
class HandDetector(Protocol):
    """Anything with ``detect(frame_rgb, timestamp_ms=None) -> list[HandDetection]`` and ``close()``.

    ``frame_rgb`` is an ``(H, W, 3)`` uint8 RGB image (detectors also accept what
    :func:`handmesh.frames.as_rgb_uint8` normalises). ``timestamp_ms`` is required by detectors that track
    across frames (MediaPipe's VIDEO mode) and must increase from call to call there; image-mode detectors ignore it.
    A frame with no hands gives an empty list.
    """

    def detect(self, frame_rgb: np.ndarray, timestamp_ms: int | None = None) -> list[HandDetection]: ...

    def close(self) -> None: ...
