"""Video mode: crops follow a moving synthetic hand from the last frame's joints, the detector runs only now and then,
identities and sides stay stable, and smoothing follows the hand with a bounded lag."""

from __future__ import annotations

import numpy as np
import pytest

from handmesh.pipeline.estimator import HandEstimator

from .helpers import K_TEST, GroundTruthStage, OracleDetector, pose_hand, render_hand


def _path(n: int) -> list[tuple[float, float]]:
    """A hand moving right and slightly down, 9 pixels per frame."""
    return [(200.0 + 9.0 * i, 220.0 + 2.0 * i) for i in range(n)]


@pytest.mark.parametrize("side", ["right", "left"])
def test_tracking_follows_a_moving_hand_and_detects_rarely(side: str) -> None:
    truths = [pose_hand(side, c, roll_deg=1.5 * i, seed=11) for i, c in enumerate(_path(16))]
    stage, detector = GroundTruthStage(K_TEST), OracleDetector(K_TEST)
    with HandEstimator(stage, detector, mode="video", redetect_every=10, smoothing=False) as est:
        for i, truth in enumerate(truths):
            frame, _ = render_hand([truth])
            stage.truths, detector.truths = [truth], [truth]
            (hand,) = est(frame, K_TEST, timestamp_ms=33 * i)
            # Without smoothing the mesh is exact wherever the crop was placed from the last joints.
            np.testing.assert_allclose(hand.vertices, truth.vertices, atol=2e-5)
            assert hand.track_id == 0 and hand.handedness == side
    assert detector.calls == 2  # frame 0, then the periodic re-detection at frame 10


def test_smoothing_follows_with_a_bounded_lag() -> None:
    truths = [pose_hand("right", c, seed=12) for c in _path(20)]
    stage, detector = GroundTruthStage(K_TEST), OracleDetector(K_TEST)
    errors, jitter = [], []
    with HandEstimator(stage, detector, mode="video", smoothing=True) as est:
        for i, truth in enumerate(truths):
            frame, _ = render_hand([truth])
            stage.truths, detector.truths = [truth], [truth]
            (hand,) = est(frame, K_TEST, timestamp_ms=33 * i)
            errors.append(np.abs(hand.translation - truth.joints[0]).max())
            jitter.append(hand.translation)
    assert errors[0] < 1e-5  # the first frame passes through the filters unchanged
    # The hand moves ~7 mm per frame; the One Euro filter lags a little behind, never a frame's worth of travel x3.
    assert max(errors) < 0.02, max(errors)
    steps = np.diff(np.array(jitter), axis=0)
    assert np.all(steps[:, 0] > 0)  # it keeps moving the right way (no overshoot back and forth)


def test_a_lost_hand_is_found_again_by_detection() -> None:
    a = pose_hand("right", (200, 240), seed=13)
    b = pose_hand("right", (470, 240), seed=13)  # a jump of half the frame: the tracked crop misses it
    stage, detector = GroundTruthStage(K_TEST), OracleDetector(K_TEST)
    with HandEstimator(stage, detector, mode="video", redetect_every=100, smoothing=False) as est:
        for i, truth in enumerate([a, a, b, b, b]):
            frame, _ = render_hand([truth])
            stage.truths, detector.truths = [truth], [truth]
            hands = est(frame, K_TEST, timestamp_ms=33 * i)
            assert len(hands) == 1
        np.testing.assert_allclose(hands[0].vertices, b.vertices, atol=2e-5)
    assert 2 <= detector.calls <= 3  # frame 0 and the frame after the jump was noticed


def test_no_hand_in_video_mode_gives_empty_lists_then_finds_one() -> None:
    truth = pose_hand("left", (320, 240), seed=14)
    stage, detector = GroundTruthStage(K_TEST), OracleDetector(K_TEST)
    empty = np.full((480, 640, 3), 90, np.uint8)
    with HandEstimator(stage, detector, mode="video") as est:
        assert est(empty, K_TEST, timestamp_ms=0) == []
        assert est(empty, K_TEST, timestamp_ms=33) == []
        stage.truths, detector.truths = [truth], [truth]
        frame, _ = render_hand([truth])
        (hand,) = est(frame, K_TEST, timestamp_ms=66)
        assert hand.handedness == "left"
        np.testing.assert_allclose(hand.vertices, truth.vertices, atol=2e-5)
