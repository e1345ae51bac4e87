"""What a user gets from ``handmesh.load()``'s defaults, against ground truth: the sample clip in video and image
mode with the shipped weights, and a real photo fed as a still video. These failed when video mode placed each crop
from the network's own (under-sized) keypoints: the crop shrank to a few pixels within 45 frames and a ghost hand
appeared beside the real one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import handmesh
from handmesh.app.sources import SAMPLE_CLIP
from handmesh.bench.accuracy import read_clip, run_clip, score_clip

from ..detection.conftest import hand_landmarker_bundle, read_rgb  # noqa: F401 - the fixture is used by name


@pytest.fixture(scope="module")
def sample_clip_scores(hand_landmarker_bundle: Path) -> dict:  # noqa: F811
    frames, truth = read_clip(SAMPLE_CLIP)
    scores = {}
    for mode in ("video", "image"):
        with handmesh.load(mode=mode, hand_landmarker=hand_landmarker_bundle) as estimator:
            hands = run_clip(estimator, frames, truth)
        scores[mode] = (score_clip(hands, truth, mode=mode), hands)
    return scores


def test_video_mode_follows_the_hand_on_the_sample_clip(sample_clip_scores: dict) -> None:
    video, hands = sample_clip_scores["video"]
    assert video.found >= 0.95 * video.frames  # one hand out on (nearly) every frame
    assert video.ghosts == 0  # never a second, stale hand
    assert video.wrong_side == 0
    assert 0.8 <= video.crop_ratio_min and video.crop_ratio_max <= 2.5  # the crop neither collapses nor balloons
    assert video.error2d <= 0.06  # of the hand's box diagonal (MediaPipe's own landmarks: about 0.041)
    assert video.pa_mpjpe_mm <= 14.0  # the network alone: about 20 mm, a mean pose about 22 mm
    assert video.jitter <= 2.0
    assert all(h.refined for frame in hands for h in frame)
    ids = {h.track_id for frame in hands for h in frame}
    assert len(ids) <= 2  # one track (a second one only after MediaPipe lost the hand for a frame)


def test_video_mode_is_as_accurate_as_image_mode(sample_clip_scores: dict) -> None:
    video, image = sample_clip_scores["video"][0], sample_clip_scores["image"][0]
    assert video.error2d <= 1.1 * image.error2d
    assert video.found >= image.found  # MediaPipe's tracking finds the hand where its palm detector alone does not


def test_real_photo_as_a_still_video_keeps_its_crop(
    hand_landmarker_bundle: Path,  # noqa: F811
    real_hands_dir: Path,
) -> None:
    """A FreiHAND photo fed 30 times: the crop stays the size of the landmarks' hand (it used to shrink from 233 to
    102 pixels in 9 frames), one hand, one side."""
    name = "3459"
    image = read_rgb(real_hands_dir / "freihand_crops" / f"{name}_img.jpg")
    K = np.load(real_hands_dir / "freihand_crops" / f"{name}_K.npy").reshape(3, 3)
    with handmesh.load(mode="video", hand_landmarker=hand_landmarker_bundle) as estimator:
        frames = [estimator(image, K, timestamp_ms=33 * i) for i in range(30)]
    assert all(len(hands) == 1 for hands in frames)
    assert len({hands[0].handedness for hands in frames}) == 1
    sides = np.array([hands[0].crop_box[2] - hands[0].crop_box[0] for hands in frames])
    hand_sizes = np.array([np.ptp(hands[0].joints2d, axis=0).max() for hands in frames])
    ratio = sides / hand_sizes
    assert np.all((ratio >= 0.8) & (ratio <= 2.5)), ratio
    assert sides.max() / sides.min() < 1.2  # still picture, steady crop
    assert all(hands[0].refined and hands[0].fit_residual_px < 0.1 * hand_sizes[0] for hands in frames)
