"""The whole pipeline with MediaPipe detection: on the shipped sample clip (against its ground-truth sidecar) and on
real photos from ``../shared/real_hands`` (skipped where that folder or the detector bundle is absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

import handmesh
from handmesh.app.sources import SAMPLE_CLIP, VideoFileSource
from handmesh.detection import MediaPipeHandDetector
from handmesh.pipeline.estimator import HandEstimator

from ..detection.conftest import hand_landmarker_bundle, read_rgb  # noqa: F401 - the fixture is used by name
from .helpers import GroundTruthStage, Truth, hand_model
from .test_api import _check_hand


def _clip_truths(n: int) -> tuple[list[Truth], np.ndarray]:
    from handmesh.geometry.rotations import axis_angle_to_matrix
    from handmesh.synth.video import load_clip

    clip = load_clip(SAMPLE_CLIP)
    mean = hand_model(clip.handedness).hands_mean.double()
    truths = []
    for i in range(n):
        aa = torch.cat(
            [torch.as_tensor(clip.global_orient[i])[None], (torch.as_tensor(clip.hand_pose[i]) + mean).reshape(15, 3)]
        )
        truths.append(
            Truth(
                clip.handedness, axis_angle_to_matrix(aa).numpy(), clip.betas[i], clip.keypoints3d[i], clip.vertices[i]
            )
        )
    return truths, clip.K


def _frames(n: int) -> list[np.ndarray]:
    src = VideoFileSource(SAMPLE_CLIP)
    frames = [src.read().rgb for _ in range(n)]  # type: ignore[union-attr]
    src.close()
    return frames


def test_sample_clip_with_mediapipe_gives_back_the_clips_meshes(hand_landmarker_bundle: Path) -> None:  # noqa: F811
    n = 12
    truths, K = _clip_truths(n)
    stage = GroundTruthStage(K, input_size=224)
    detector = MediaPipeHandDetector(hand_landmarker_bundle, mode="video", max_hands=2)
    with HandEstimator(stage, detector, mode="video", max_hands=2, smoothing=False) as est:
        for i, frame in enumerate(_frames(n)):
            stage.truths = [truths[i]]
            hands = est(frame, K, timestamp_ms=33 * i)
            assert len(hands) == 1 and hands[0].handedness == "right", hands
            # The sidecar stores vertices to 10 micrometres and rotations to 1e-7.
            np.testing.assert_allclose(hands[0].vertices, truths[i].vertices, atol=1e-4)
    # The landmarker runs on every frame (its VIDEO mode tracks between frames), so crops never come from the
    # network's own output.
    assert est._tracker is not None and est._tracker.num_detections == n


def test_sample_clip_with_the_real_network(hand_landmarker_bundle: Path, small_checkpoint: Path) -> None:  # noqa: F811
    truths, K = _clip_truths(4)
    with handmesh.load(small_checkpoint, backend="torch", hand_landmarker=hand_landmarker_bundle) as est:
        for frame, truth in zip(_frames(4), truths):
            (hand,) = est(frame, K)
            _check_hand(hand, frame.shape)
            assert hand.handedness == "right"
            uv = truth.joints[:, :2] / truth.joints[:, 2:] * K[[0, 1], [0, 1]] + K[:2, 2]
            true_box = np.r_[uv.min(0), uv.max(0)]
            # The crop is on the hand: it holds the true keypoints' box, centred on it, ~1.6x its longer side.
            assert np.all(hand.crop_box[:2] <= true_box[:2] + 5) and np.all(hand.crop_box[2:] >= true_box[2:] - 5)
            side = hand.crop_box[2] - hand.crop_box[0]
            offset = (hand.crop_box[:2] + hand.crop_box[2:]) / 2 - (true_box[:2] + true_box[2:]) / 2
            assert np.abs(offset).max() < 0.1 * side
            assert 1.3 < side / np.max(true_box[2:] - true_box[:2]) < 2.0


def test_real_photos(hand_landmarker_bundle: Path, real_hands_dir: Path, small_checkpoint: Path) -> None:  # noqa: F811
    with handmesh.load(small_checkpoint, backend="torch", hand_landmarker=hand_landmarker_bundle, max_hands=2) as est:
        # A right and a left hand (MediaPipe's labels, checked by eye); a 1920x1080 photo with MediaPipe finding one
        # of two hands at num_hands=2.
        for name, sides in (("wilor_test4.jpg", ["left", "right"]), ("wilor_test8.jpg", ["right"])):
            image = read_rgb(real_hands_dir / "photos" / name)
            hands = est(image)
            assert sorted(h.handedness for h in hands) == sides, name
            for h in hands:
                _check_hand(h, image.shape)
            assert est.render(image, hands).shape == image.shape
        # A photo in which MediaPipe's full-frame pass finds no hand: the closer look finds the right hand holding
        # the tongs (right half, checked by eye), 110 pixels wide in a 480 x 360 photo.
        image = read_rgb(real_hands_dir / "photos" / "wilor_test1.jpg")
        assert est.detector.detector.detect(image) == []
        (hand,) = est(image)
        assert hand.handedness == "right" and hand.box[0] > 240 and 60 < hand.box[2] - hand.box[0] < 160
        _check_hand(hand, image.shape)
        # No hand at all: an empty list, not an error.
        assert est(np.full((360, 480, 3), 127, np.uint8)) == []
