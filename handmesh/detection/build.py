"""One function from option values (``--detector``, ``--hand-landmarker``, ...) to a detector."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from handmesh.detection.fallback import FixedBoxDetector, FullFrameDetector
from handmesh.detection.types import HandDetector, Handedness
from handmesh.errors import ConfigError

DETECTOR_NAMES = ("mediapipe", "none", "box")


def build_detector(
    name: str = "mediapipe",
    *,
    hand_landmarker: str | Path | None = None,
    mode: Literal["image", "video"] = "image",
    max_hands: int = 2,
    min_detection_confidence: float = 0.5,
    mirrored_input: bool = False,
    box: tuple[float, float, float, float] | None = None,
    handedness: Handedness = "right",
    zoom_search: bool = True,
) -> HandDetector:
    """Build a hand detector by name.

    Args:
        name: ``"mediapipe"`` (HandLandmarker), ``"none"`` (the centred square of the frame is the hand) or ``"box"``
            (``box`` is the hand). Default: ``"mediapipe"``.
        hand_landmarker: ``.task`` bundle for MediaPipe. Default: None (found by
            :func:`~handmesh.detection.bundle.find_hand_landmarker`).
        mode: MediaPipe running mode, ``"image"`` or ``"video"``. Default: ``"image"``.
        max_hands: MediaPipe's most hands per frame. Default: 2.
        min_detection_confidence: MediaPipe's palm-detection threshold. Default: 0.5.
        mirrored_input: frames are mirror images (selfie preview); MediaPipe's handedness is swapped. Default: False.
        box: ``(x0, y0, x1, y1)`` for ``"box"``.
        handedness: side reported by ``"none"`` and ``"box"``. Default: ``"right"``.
        zoom_search: MediaPipe: on frames where it finds no hand, look again in crops of half the frame (up to three
            per frame in video mode, so that the nine tiles are searched every three frames; up to all nine tiles
            of a photo in image mode;
            :class:`~handmesh.detection.search.ZoomSearchDetector`), which finds small hands the full frame misses.
            Default: True.

    Returns:
        A detector with ``detect(frame_rgb, timestamp_ms=None)`` and ``close()``.
    """
    if name == "mediapipe":
        from handmesh.detection.mediapipe_detector import MediaPipeHandDetector

        def landmarker(running_mode: Literal["image", "video"]) -> MediaPipeHandDetector:
            return MediaPipeHandDetector(
                hand_landmarker,
                mode=running_mode,
                max_hands=max_hands,
                min_detection_confidence=min_detection_confidence,
                mirrored_input=mirrored_input,
            )

        if not zoom_search:
            return landmarker(mode)
        from handmesh.detection.search import ZoomSearchDetector

        if mode == "video":
            return ZoomSearchDetector(landmarker("video"), landmarker("image"), max_hands=max_hands, tiles_per_frame=3)
        single = landmarker("image")
        return ZoomSearchDetector(single, single, max_hands=max_hands, tiles_per_frame=9, follow=False)
    if name == "none":
        return FullFrameDetector(handedness)
    if name == "box":
        if box is None:
            raise ConfigError("detector 'box' needs a box (x0, y0, x1, y1) in frame pixels")
        return FixedBoxDetector(box, handedness)
    raise ConfigError(f"unknown detector {name!r}; expected one of {', '.join(DETECTOR_NAMES)}")
