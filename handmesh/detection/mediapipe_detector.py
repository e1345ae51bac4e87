"""Hand detection with MediaPipe's Tasks ``HandLandmarker``: boxes, handedness and 21 keypoints, fully offline.

The model bundle comes from :func:`handmesh.detection.bundle.find_hand_landmarker` (built once by
``handmesh-demo --setup-detector``) or is Google's official ``hand_landmarker.task`` passed by path.

Modes:
    ``"image"``: every call runs palm detection and landmarks on the frame independently (still images).
    ``"video"``: MediaPipe tracks hands between calls and re-runs palm detection only when it loses one; calls need
    increasing timestamps (taken from the clock when not given). Roughly twice as fast per frame on a live stream.

Handedness. MediaPipe's documentation says its label assumes a mirrored (selfie) image. With mediapipe 0.10.31's
Tasks API and the 0.10.21 models the label it returns is the true side for an *unmirrored* image: checked on real
photos with known hands (a basketball player's two hands, two gardeners; 13 of the 15 FreiHAND right hands found
say "Right") and on the same pictures flipped (14 of 15 then say "Left"). So the label is used as is, and
``mirrored_input=True`` (a selfie preview that was flipped left-right) swaps it to report the person's hand.

Keypoints: MediaPipe's normalised landmarks (0 and 1 are the image edges) become pixel-centre coordinates
``x * W - 0.5``. Frames larger than ``max_side`` are downscaled for detection only; the normalised output is mapped
onto the original frame size, so boxes and keypoints are in the caller's pixels.
"""

from __future__ import annotations

import threading
import time
import weakref
from pathlib import Path
from typing import Literal

import numpy as np

from handmesh.detection.bundle import check_bundle, find_hand_landmarker
from handmesh.detection.types import HandDetection
from handmesh.errors import CheckpointError, ConfigError
from handmesh.frames import as_rgb_uint8, downscale
from handmesh.utils.closing import Closing

_SWAP = {"left": "right", "right": "left"}

# Landmarkers still open when the interpreter exits. mediapipe runs every C call on a ThreadPoolExecutor, and
# Python shuts those executors down before ``atexit`` handlers (and late ``__del__``s) run, so closing there fails
# with "cannot schedule new futures after shutdown". threading's own exit hooks run earlier, in reverse order of
# registration, so a hook registered after mediapipe's import closes the landmarkers while the executors still work.
_OPEN: weakref.WeakSet[MediaPipeHandDetector] = weakref.WeakSet()
_EXIT_HOOK_REGISTERED = False


def _close_open_detectors() -> None:
    for detector in list(_OPEN):
        detector.close()


def _register_exit_hook() -> None:
    global _EXIT_HOOK_REGISTERED
    if not _EXIT_HOOK_REGISTERED:
        register = getattr(threading, "_register_atexit", None)  # CPython >= 3.9
        if register is not None:
            register(_close_open_detectors)
        _EXIT_HOOK_REGISTERED = True


class MediaPipeHandDetector(Closing):
    """MediaPipe HandLandmarker behind the :class:`~handmesh.detection.types.HandDetector` interface.

    Use as a context manager (``with MediaPipeHandDetector(...) as det:``) or call :meth:`close`; one still open at
    interpreter exit is closed by an exit hook, where mediapipe would otherwise print an error.

    Args:
        model_path: ``.task`` bundle. Default: None (:func:`find_hand_landmarker`: ``$HANDMESH_HAND_LANDMARKER``,
            then ``<cache>/hand_landmarker.task``).
        mode: ``"image"`` or ``"video"`` (see the module docstring). Default: ``"image"``.
        max_hands: most hands returned per frame. Default: 2.
        min_detection_confidence: palm-detector score threshold. Default: 0.5.
        min_presence_confidence: landmark model's hand-presence threshold. Default: 0.5.
        min_tracking_confidence: video mode: below this the tracked hand counts as lost and palm detection reruns.
            Default: 0.5.
        mirrored_input: frames are mirror images (a flipped selfie preview); handedness is swapped so that it names
            the person's hand. Default: False.
        max_side: frames whose longer side exceeds this are downscaled (a copy) before detection; None disables.
            MediaPipe works at 192-224 pixels internally, so more only costs time. Default: 1280.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        mode: Literal["image", "video"] = "image",
        max_hands: int = 2,
        min_detection_confidence: float = 0.5,
        min_presence_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        mirrored_input: bool = False,
        max_side: int | None = 1280,
    ) -> None:
        if mode not in ("image", "video"):
            raise ConfigError(f"MediaPipeHandDetector: mode must be 'image' or 'video', got {mode!r}")
        if max_hands < 1:
            raise ConfigError(f"MediaPipeHandDetector: max_hands must be >= 1, got {max_hands}")
        for key, value in (
            ("min_detection_confidence", min_detection_confidence),
            ("min_presence_confidence", min_presence_confidence),
            ("min_tracking_confidence", min_tracking_confidence),
        ):
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"MediaPipeHandDetector: {key} must lie in [0, 1], got {value}")
        self.model_path = find_hand_landmarker(model_path) if model_path is None else check_bundle(model_path)
        self.mode = mode
        self.max_hands = int(max_hands)
        self.mirrored_input = bool(mirrored_input)
        self.max_side = max_side
        self._last_ts = -1

        # Imported here: mediapipe takes ~0.5 s to import and only this class needs it.
        from mediapipe.tasks.python import BaseOptions, vision

        options = vision.HandLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(self.model_path)),
            running_mode=vision.RunningMode.VIDEO if mode == "video" else vision.RunningMode.IMAGE,
            num_hands=self.max_hands,
            min_hand_detection_confidence=float(min_detection_confidence),
            min_hand_presence_confidence=float(min_presence_confidence),
            min_tracking_confidence=float(min_tracking_confidence),
        )
        try:
            self._landmarker = vision.HandLandmarker.create_from_options(options)
        except (RuntimeError, ValueError) as e:
            raise CheckpointError(
                f"hand landmarker bundle {self.model_path} could not be loaded by mediapipe ({e}); it must hold "
                "hand_detector.tflite and hand_landmarks_detector.tflite from mediapipe 0.10.21's *_full models "
                "(rebuild with `handmesh-demo --setup-detector`) or be the official hand_landmarker.task"
            ) from None
        self._finalizer = weakref.finalize(self, self._landmarker.close)
        _OPEN.add(self)
        _register_exit_hook()

    def detect(self, frame_rgb: np.ndarray, timestamp_ms: int | None = None) -> list[HandDetection]:
        """Find up to ``max_hands`` hands.

        Args:
            frame_rgb: ``(H, W, 3)`` uint8 RGB (other layouts are normalised by
                :func:`~handmesh.frames.as_rgb_uint8`).
            timestamp_ms: video mode: the frame's time in milliseconds, increasing. Default: None (the monotonic
                clock). A value not above the previous one is moved to previous + 1 (MediaPipe rejects it).
                Ignored in image mode.

        Returns:
            Detections, most confident first; empty when there is no hand.
        """
        if not self._finalizer.alive:
            raise RuntimeError("MediaPipeHandDetector.detect called after close()")
        frame = as_rgb_uint8(frame_rgb)
        h, w = frame.shape[:2]
        small, _ = downscale(frame, self.max_side)

        import mediapipe as mp

        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(small))
        if self.mode == "video":
            ts = int(timestamp_ms) if timestamp_ms is not None else int(time.monotonic() * 1000)
            ts = max(ts, self._last_ts + 1)
            self._last_ts = ts
            result = self._landmarker.detect_for_video(image, ts)
        else:
            result = self._landmarker.detect(image)

        detections = []
        world = result.hand_world_landmarks or [None] * len(result.hand_landmarks)
        for landmarks, categories, world_lm in zip(result.hand_landmarks, result.handedness, world):
            norm = np.array([(p.x, p.y) for p in landmarks], dtype=np.float64)  # (21, 2), 0..1 edge to edge
            kp = norm * (w, h) - 0.5
            top = max(categories, key=lambda c: c.score)
            side = str(top.category_name).lower()
            if side not in _SWAP:  # a bundle with other labels: fall back on the index (0 = left, 1 = right)
                side = "right" if top.index == 1 else "left"
            if self.mirrored_input:
                side = _SWAP[side]
            kp3 = None if world_lm is None else np.array([(p.x, p.y, p.z) for p in world_lm], dtype=np.float64)
            box = np.concatenate([kp.min(axis=0), kp.max(axis=0)])
            detections.append(HandDetection(box, side, float(top.score), kp, kp3))  # type: ignore[arg-type]
        detections.sort(key=lambda d: -d.score)
        return detections

    def close(self) -> None:
        """Release MediaPipe's graph (idempotent)."""
        self._finalizer()
        _OPEN.discard(self)

    def __repr__(self) -> str:
        return (
            f"MediaPipeHandDetector({str(self.model_path)!r}, mode={self.mode!r}, max_hands={self.max_hands}, "
            f"mirrored_input={self.mirrored_input})"
        )
