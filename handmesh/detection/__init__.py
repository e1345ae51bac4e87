"""Finding hands in frames: MediaPipe's HandLandmarker (offline bundle), fallback detectors, frame normalisation.

    from handmesh.detection import MediaPipeHandDetector
    with MediaPipeHandDetector(mode="video") as detector:
        hands = detector.detect(frame_rgb, timestamp_ms)   # list[HandDetection]

Files:
    types.py               HandDetection, the HandDetector interface
    (frames: handmesh.frames validates any image -> (H, W, 3) uint8 RGB; re-exported here)
    bundle.py              building and finding the hand_landmarker.task bundle (set-up step)
    mediapipe_detector.py  MediaPipeHandDetector (image / video mode, handedness for unmirrored input)
    search.py              ZoomSearchDetector: video mode looks again in half-frame crops when it finds no hand
    fallback.py            FullFrameDetector, FixedBoxDetector (``--detector none``)
    build.py               build_detector(name, ...) from option values

Importing this package does not import mediapipe; constructing a MediaPipeHandDetector does.
"""

from handmesh.detection.build import DETECTOR_NAMES, build_detector
from handmesh.detection.bundle import (
    build_hand_landmarker_bundle,
    bundle_from_wheel,
    check_bundle,
    default_bundle_path,
    default_cache_dir,
    ensure_hand_landmarker,
    find_hand_landmarker,
)
from handmesh.detection.fallback import FixedBoxDetector, FullFrameDetector
from handmesh.detection.mediapipe_detector import MediaPipeHandDetector
from handmesh.detection.types import HandDetection, HandDetector, Handedness
from handmesh.frames import as_rgb_uint8, downscale

__all__ = [
    "DETECTOR_NAMES",
    "FixedBoxDetector",
    "FullFrameDetector",
    "HandDetection",
    "HandDetector",
    "Handedness",
    "MediaPipeHandDetector",
    "as_rgb_uint8",
    "ensure_hand_landmarker",
    "build_detector",
    "build_hand_landmarker_bundle",
    "bundle_from_wheel",
    "check_bundle",
    "default_bundle_path",
    "default_cache_dir",
    "downscale",
    "find_hand_landmarker",
]
