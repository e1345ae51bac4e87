"""HandTracker with MediaPipe on a real hand photo moving across the frame; MediaPipe on each crop stands in for the
network's 2D joints."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from handmesh.crop import make_crop
from handmesh.detection import MediaPipeHandDetector
from handmesh.tracking import HandTracker

from ..detection.conftest import hand_landmarker_bundle, read_rgb  # noqa: F401 - the fixture is used by name


def test_tracks_a_real_hand_moving_across_the_frame(
    hand_landmarker_bundle: Path,  # noqa: F811
    real_hands_dir: Path,
) -> None:
    hand = read_rgb(real_hands_dir / "freihand_crops" / "64_img.jpg")  # 224 x 224, an open right hand
    frames, offsets = [], []
    for i in range(24):
        x, y = 40 + 14 * i, 130 + 3 * i
        frame = np.full((480, 640, 3), 90, np.uint8)
        frame[y : y + 224, x : x + 224] = hand
        frames.append(frame)
        offsets.append(np.array([x, y], dtype=np.float64))

    with (
        MediaPipeHandDetector(hand_landmarker_bundle) as detector,
        MediaPipeHandDetector(hand_landmarker_bundle, max_hands=1) as on_crop,
    ):
        (ref,) = on_crop.detect(hand)  # keypoints of the photo itself
        tracker = HandTracker(detector, max_hands=1, redetect_every=8)
        errors, tracked = [], 0
        for i, frame in enumerate(frames):
            hands = tracker.step(frame, timestamp_ms=33 * i)
            for h in hands:
                crop = make_crop(h.box, 224, mirror=h.handedness == "left")
                found = on_crop.detect(crop.warp(frame))
                if not found:
                    continue
                kp = crop.to_frame(found[0].keypoints2d)
                if tracker.observe(h.track_id, kp):
                    tracked += 1
                    errors.append(np.abs(kp - (ref.keypoints2d + offsets[i])).max())
    assert tracked >= 20, f"followed the hand in only {tracked} of 24 frames"
    assert tracker.num_detections <= 5, tracker.num_detections  # not every frame
    assert max(errors) < 20.0  # joints where the hand is (~150 px tall; MediaPipe varies ~10 px with the crop)
    assert all(t.handedness == "right" for t in tracker.tracks)
