"""The zoomed search: untouched frames where the detector finds hands, tiles nearest the centre first, hands mapped
back to frame pixels, the found hand followed, and a small real-looking hand found that the full frame misses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from handmesh.detection.search import FOLLOW_PATIENCE, ZoomSearchDetector, search_tiles
from handmesh.detection.types import HandDetection

from ..synth.test_video import read_frames
from .conftest import hand_landmarker_bundle  # noqa: F401

W, H = 640, 480


class _Scripted:
    """A detector that returns what it is told and remembers the images it saw."""

    def __init__(self) -> None:
        self.answers: list[list[HandDetection]] = []
        self.seen: list[np.ndarray] = []
        self.closed = False

    def detect(self, frame_rgb: np.ndarray, timestamp_ms: int | None = None) -> list[HandDetection]:
        self.seen.append(frame_rgb)
        return self.answers.pop(0) if self.answers else []

    def close(self) -> None:
        self.closed = True


def _hand(x: float, y: float, side: float = 40.0) -> HandDetection:
    kp = np.array([x, y]) + np.random.default_rng(0).uniform(0.0, side, size=(21, 2))
    return HandDetection(np.concatenate([kp.min(0), kp.max(0)]), "left", 0.9, kp, np.zeros((21, 3)))


def _frame() -> np.ndarray:
    # Every pixel knows where it is, so a crop tells its own offset.
    ys, xs = np.mgrid[0:H, 0:W]
    return np.stack([xs % 256, ys % 256, (xs // 256) * 16 + ys // 256], axis=-1).astype(np.uint8)


def _offset(crop: np.ndarray) -> tuple[int, int]:
    return int(crop[0, 0, 2]) // 16 * 256 + int(crop[0, 0, 0]), int(crop[0, 0, 2]) % 16 * 256 + int(crop[0, 0, 1])


def test_tiles_cover_the_frame_nearest_the_centre_first() -> None:
    tiles = search_tiles(W, H)
    assert len(tiles) == 9 and tiles[0] == (160, 120, 480, 360)
    covered = np.zeros((H, W), bool)
    for x0, y0, x1, y1 in tiles:
        assert (x1 - x0, y1 - y0) == (320, 240)
        covered[y0:y1, x0:x1] = True
    assert covered.all()
    centre = np.array([W / 2, H / 2])
    dist = [np.linalg.norm([(t[0] + t[2]) / 2 - centre[0], (t[1] + t[3]) / 2 - centre[1]]) for t in tiles]
    assert dist == sorted(dist)


def test_found_hands_pass_through_and_missed_ones_are_searched_closer() -> None:
    full, zoomed = _Scripted(), _Scripted()
    search = ZoomSearchDetector(full, zoomed)
    frame = _frame()
    full.answers = [[_hand(300, 200)]]
    assert len(search.detect(frame, 0)) == 1 and zoomed.seen == []  # nothing more runs on a frame with a hand

    # No hand in the frame: the tiles are searched in order, one per frame.
    for k in range(3):
        assert search.detect(frame, 1 + k) == []
        assert _offset(zoomed.seen[-1]) == search_tiles(W, H)[k][:2]

    # The next tile finds a hand: it comes back in frame pixels, with the same side, score and world landmarks.
    in_crop = _hand(100, 50)
    zoomed.answers = [[in_crop]]
    (found,) = search.detect(frame, 10)
    x0, y0 = _offset(zoomed.seen[-1])
    np.testing.assert_allclose(found.keypoints2d, in_crop.keypoints2d + (x0, y0))
    np.testing.assert_allclose(found.box, in_crop.box + (x0, y0, x0, y0))
    assert (found.handedness, found.score) == ("left", 0.9) and found.keypoints3d is in_crop.keypoints3d

    # The next frames look around that hand, with a tile's size, until it has been missed FOLLOW_PATIENCE times.
    centre = np.clip((found.box[:2] + found.box[2:]) / 2, (160, 120), (W - 160, H - 120))  # the crop stays inside
    for k in range(FOLLOW_PATIENCE):
        search.detect(frame, 11 + k)
        crop = zoomed.seen[-1]
        assert crop.shape[:2] == (240, 320)
        np.testing.assert_allclose(np.add(_offset(crop), (160, 120)), centre, atol=1.0)
    search.detect(frame, 20)
    assert _offset(zoomed.seen[-1]) == search_tiles(W, H)[3][:2]  # back to the scan, from the tile that found it
    assert (search.searches, search.found) == (3 + 1 + FOLLOW_PATIENCE + 1, 1)
    search.close()
    assert full.closed and zoomed.closed


@pytest.mark.slow
def test_a_small_hand_the_full_frame_misses_is_found(hand_landmarker_bundle: Path, tmp_path: Path) -> None:  # noqa: F811
    """A rendered left hand about 90 pixels tall in a 640 x 480 frame: MediaPipe's video mode finds nothing in the
    first frames, the zoomed search finds it within the nine tiles and follows it, keypoints on the hand."""
    from handmesh.detection.build import build_detector
    from handmesh.synth.video import ClipConfig, generate_video, load_clip

    video, sidecar, _ = generate_video(
        tmp_path / "small.mp4", ClipConfig(seconds=0.6, seed=32, side="left"), progress=False
    )
    frames = [np.ascontiguousarray(f) for f in read_frames(video)]
    truth = load_clip(sidecar).keypoints2d
    plain = build_detector("mediapipe", hand_landmarker=hand_landmarker_bundle, mode="video", zoom_search=False)
    search = build_detector("mediapipe", hand_landmarker=hand_landmarker_bundle, mode="video")
    assert isinstance(search, ZoomSearchDetector)
    try:
        missed = [i for i, f in enumerate(frames) if not plain.detect(f, i * 33)]
        found = {i: search.detect(f, i * 33) for i, f in enumerate(frames)}
    finally:
        plain.close()
        search.close()
    assert len(missed) >= 12  # the full frame misses this hand at the start
    hits = [i for i in missed if found[i]]
    assert hits and hits[0] < 9 and len(hits) >= 0.7 * len(missed)
    errors = []
    for i in hits:
        diag = np.hypot(*np.ptp(truth[i], axis=0))
        errors.append(np.linalg.norm(found[i][0].keypoints2d - truth[i], axis=1).mean() / diag)
        assert found[i][0].handedness == "left"
    # On the hand: MediaPipe's own keypoints, about as far from the truth as on frames it finds by itself (median
    # 0.068 of the box diagonal on the sample clip).
    assert np.median(errors) < 0.08 and max(errors) < 0.25
