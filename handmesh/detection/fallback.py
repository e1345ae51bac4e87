"""Detectors that need no model, for ``--detector none``: the hand is assumed to be where the user put it.

Both return one detection per frame with no keypoints; a box without keypoints is the crop region itself
(:func:`handmesh.crop.crop_box_from_detection` uses it unexpanded by default).
"""

from __future__ import annotations

import numpy as np

from handmesh.detection.types import HandDetection, Handedness
from handmesh.errors import ConfigError
from handmesh.frames import as_rgb_uint8
from handmesh.utils.closing import Closing


def _check_side(handedness: str) -> Handedness:
    if handedness not in ("left", "right"):
        raise ConfigError(f"handedness must be 'left' or 'right', got {handedness!r}")
    return handedness  # type: ignore[return-value]


class FullFrameDetector(Closing):
    """The largest centred square of the frame is the hand (e.g. FreiHAND-like crops, a hand held up close).

    Args:
        handedness: side reported for every frame. Default: ``"right"``.
    """

    def __init__(self, handedness: Handedness = "right") -> None:
        self.handedness = _check_side(handedness)

    def detect(self, frame_rgb: np.ndarray, timestamp_ms: int | None = None) -> list[HandDetection]:
        """One detection: the centred ``min(H, W)`` square, in pixel-centre coordinates (edges at -0.5).

        Args:
            frame_rgb: ``(H, W, 3)`` image (validated; an empty frame is an error).
            timestamp_ms: ignored.

        Returns:
            ``[HandDetection(box, handedness, 1.0)]``.
        """
        h, w = as_rgb_uint8(frame_rgb).shape[:2]
        side = float(min(h, w))
        cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
        box = np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2])
        return [HandDetection(box, self.handedness, 1.0)]

    def close(self) -> None:
        """Nothing to release."""


class FixedBoxDetector(Closing):
    """A fixed box is the hand (a hand held in a known place, a test rig).

    Args:
        box: ``(x0, y0, x1, y1)`` frame pixels with ``x1 > x0`` and ``y1 > y0``; may extend past the frame.
        handedness: side reported for every frame. Default: ``"right"``.
    """

    def __init__(self, box: tuple[float, float, float, float] | np.ndarray, handedness: Handedness = "right") -> None:
        b = np.asarray(box, dtype=np.float64)
        if b.shape != (4,) or not np.all(np.isfinite(b)) or b[2] <= b[0] or b[3] <= b[1]:
            raise ConfigError(f"fixed detector box must be (x0, y0, x1, y1) with x1 > x0 and y1 > y0, got {box!r}")
        self.box = b
        self.handedness = _check_side(handedness)

    def detect(self, frame_rgb: np.ndarray, timestamp_ms: int | None = None) -> list[HandDetection]:
        """``[HandDetection(box, handedness, 1.0)]`` for every (valid) frame; ``timestamp_ms`` is ignored."""
        as_rgb_uint8(frame_rgb)
        return [HandDetection(self.box.copy(), self.handedness, 1.0)]

    def close(self) -> None:
        """Nothing to release."""
