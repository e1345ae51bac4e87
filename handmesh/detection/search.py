"""Looking closer when the landmarker misses a small hand: a zoomed search.

MediaPipe's palm detector sees the whole frame at 192 x 192 pixels. A hand that spans about 90 pixels of a 640 x 480
frame (an arm's length from a webcam) is 25-35 pixels there, and in some orientations it is not found for a second or
more, although the landmark model reads it well once it has a region. Two times closer it is found: on a clip whose
hand the full frame missed for its first 30 frames, a crop of half the frame's side around it found the hand in 19
of the same 20 sampled frames.

:class:`ZoomSearchDetector` wraps the detector. Frames where it finds a hand pass through untouched (and cost
nothing more). On a frame where it finds none, image-mode detection runs on crops of half the frame's side: centred
on the hand the search found last (for up to :data:`FOLLOW_PATIENCE` frames without finding it), else the next of
nine overlapping tiles, nearest the centre first, up to ``tiles_per_frame`` of them (video mode: 3, so the whole
frame is searched every three frames; a crop costs about one image-mode detection, some 20 ms here). Keypoints and
boxes come back in frame pixels; the metric ("world") landmarks do not depend on the crop. When the wrapped detector
finds the hand again, the search stops. For photos (image mode) every tile of the one image is searched, up to the
first that finds a hand, and nothing is followed.
"""

from __future__ import annotations

import functools

import numpy as np

from handmesh.detection.types import HandDetection, HandDetector
from handmesh.utils.closing import Closing

__all__ = ["ZoomSearchDetector", "search_tiles"]

FOLLOW_PATIENCE = 5
"""Frames the search keeps looking where it found a hand last before it scans the tiles again."""


@functools.lru_cache(maxsize=8)
def search_tiles(width: int, height: int, fraction: float = 0.5) -> tuple[tuple[int, int, int, int], ...]:
    """The nine overlapping crops ``(x0, y0, x1, y1)`` of ``fraction`` of the frame's side (steps of half a crop),
    nearest the centre first (cached: a video searches the same frame size frame after frame)."""
    cw, ch = max(int(round(width * fraction)), 1), max(int(round(height * fraction)), 1)
    tiles = []
    for fy in (0.5, 0.0, 1.0):
        for fx in (0.5, 0.0, 1.0):
            x0, y0 = int(round(fx * (width - cw))), int(round(fy * (height - ch)))
            tiles.append((x0, y0, x0 + cw, y0 + ch))
    centre = np.array([width / 2.0, height / 2.0])
    return tuple(
        sorted(tiles, key=lambda t: float(np.linalg.norm([(t[0] + t[2]) / 2.0, (t[1] + t[3]) / 2.0] - centre)))
    )


class ZoomSearchDetector(Closing):
    """A detector that looks closer on frames where it finds no hand (see the module docstring).

    Args:
        detector: the frame's detector (MediaPipe in video or image mode).
        zoomed: an image-mode detector for the crops (MediaPipe in image mode; may be ``detector`` itself when that
            is in image mode).
        fraction: crop side / frame side of a search tile. Default: 0.5.
        max_hands: most hands returned from a crop. Default: 2.
        tiles_per_frame: crops searched on one frame without hands, stopping at the first that finds one: a few for
            video (the next frames search the next tiles), 9 for photos (every tile of the one image). Default: 1.
        follow: look around the hand the search found last on the next frames (video). Default: True.

    :meth:`close` closes both detectors.
    """

    def __init__(
        self,
        detector: HandDetector,
        zoomed: HandDetector,
        *,
        fraction: float = 0.5,
        max_hands: int = 2,
        tiles_per_frame: int = 1,
        follow: bool = True,
    ) -> None:
        self.detector = detector
        self.zoomed = zoomed
        self.fraction = float(fraction)
        self.max_hands = int(max_hands)
        self.tiles_per_frame = max(int(tiles_per_frame), 1)
        self.follow = bool(follow)
        self._follow: np.ndarray | None = None  # keypoint box of the hand the search found last
        self._misses = 0  # frames since the search found it
        self._next_tile = 0
        #: Crops searched, and crops that found a hand (for benchmarks and tests).
        self.searches = 0
        self.found = 0

    def detect(self, frame_rgb: np.ndarray, timestamp_ms: int | None = None) -> list[HandDetection]:
        """The wrapped detector's hands, or, when it finds none, the hands of the first zoomed crop that has any."""
        detections = self.detector.detect(frame_rgb, timestamp_ms)
        if detections:
            self._follow = None
            self._misses = 0
            return detections
        for _ in range(1 if self._follow is not None else self.tiles_per_frame):
            found = self._search(frame_rgb)
            if found:
                return found
        return []

    def _search(self, frame_rgb: np.ndarray) -> list[HandDetection]:
        """Search one crop; update the follow and scan state."""
        h, w = frame_rgb.shape[:2]
        x0, y0, x1, y1 = self._region(w, h)
        self.searches += 1
        found = self.zoomed.detect(np.ascontiguousarray(frame_rgb[y0:y1, x0:x1]))[: self.max_hands]
        shift = np.array([x0, y0], dtype=np.float64)
        out = [
            HandDetection(
                box=d.box + np.tile(shift, 2),
                handedness=d.handedness,
                score=d.score,
                keypoints2d=None if d.keypoints2d is None else d.keypoints2d + shift,
                keypoints3d=d.keypoints3d,
            )
            for d in found
        ]
        if out:
            self.found += 1
            if self.follow:
                self._follow = out[0].box.copy()
                self._misses = 0
            else:
                self._next_tile = 0  # independent images: every image starts at the centre
        elif self._follow is None:
            self._next_tile += 1
        else:
            self._misses += 1
            if self._misses >= FOLLOW_PATIENCE:
                self._follow = None
        return out

    def _region(self, width: int, height: int) -> tuple[int, int, int, int]:
        """Integer crop ``(x0, y0, x1, y1)`` inside the frame: a tile's size centred on the followed hand, else the
        next tile."""
        if self._follow is None:
            tiles = search_tiles(width, height, self.fraction)
            return tiles[self._next_tile % len(tiles)]
        x0, y0, x1, y1 = self._follow
        cw, ch = max(width * self.fraction, 1.0), max(height * self.fraction, 1.0)
        cx = float(np.clip((x0 + x1) / 2.0, cw / 2.0, width - cw / 2.0))
        cy = float(np.clip((y0 + y1) / 2.0, ch / 2.0, height - ch / 2.0))
        return (
            int(round(cx - cw / 2.0)),
            int(round(cy - ch / 2.0)),
            int(round(cx + cw / 2.0)),
            int(round(cy + ch / 2.0)),
        )

    def close(self) -> None:
        """Close both detectors (idempotent)."""
        self.detector.close()
        self.zoomed.close()

    def __repr__(self) -> str:
        return f"ZoomSearchDetector({self.detector!r}, fraction={self.fraction})"
