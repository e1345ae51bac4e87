"""``refine="landmarks"``: the estimator fits the hand model to the detector's landmarks, with the network as prior;
``refine="none"`` leaves the network's hands as they are."""

from __future__ import annotations

import numpy as np
import pytest

import handmesh
from handmesh.errors import ConfigError
from handmesh.fitting import FitSettings, LandmarkFitter
from handmesh.pipeline.estimator import HandEstimator

from .helpers import K_TEST, GroundTruthStage, OracleDetector, hand_model, pose_hand, project, render_hand


def _scene(curl_true: float, curl_network: float) -> tuple[np.ndarray, GroundTruthStage, OracleDetector, list]:
    """A right and a left hand; the network sees them with other finger curls than the landmarks show."""
    truths = [
        pose_hand("right", (200, 250), curl=curl_true, seed=1),
        pose_hand("left", (450, 230), curl=curl_true, seed=2),
    ]
    wrong = [
        pose_hand("right", (200, 250), curl=curl_network, seed=1),
        pose_hand("left", (450, 230), curl=curl_network, seed=2),
    ]
    frame, _ = render_hand(truths)
    stage = GroundTruthStage(K_TEST, truths=wrong)
    return frame, stage, OracleDetector(K_TEST, truths, world=True), truths


def _fingertip_error_px(hands: list, truths: list) -> float:
    errors = []
    for truth in truths:
        hand = next(h for h in hands if h.handedness == truth.side)
        errors.append(np.linalg.norm(hand.fingertips2d - project(truth.joints, K_TEST)[[4, 8, 12, 16, 20]], axis=1))
    return float(np.max(errors))


def test_fit_follows_the_landmarks_where_the_network_is_wrong() -> None:
    frame, stage, detector, truths = _scene(curl_true=0.8, curl_network=0.0)
    plain = HandEstimator(stage, detector, max_hands=2)
    hands = plain(frame, K_TEST)
    assert all(not h.refined and np.isnan(h.fit_residual_px) for h in hands)
    assert _fingertip_error_px(hands, truths) > 20.0  # the network's open fingers miss the curled ones

    fitter = LandmarkFitter(hand_model("right"), FitSettings(landmark_offsets=None))
    fitted = HandEstimator(stage, detector, max_hands=2, refiner=fitter)(frame, K_TEST)
    assert sorted(h.handedness for h in fitted) == ["left", "right"]
    assert all(h.refined and 0.0 <= h.fit_residual_px < 3.0 for h in fitted)
    assert _fingertip_error_px(fitted, truths) < 8.0  # the prior still pulls a little towards the network
    for h in fitted:  # what is returned is one hand: joints2d is the projection of joints, the tips on the mesh
        np.testing.assert_allclose(project(h.joints.astype(float), K_TEST), h.joints2d, atol=0.05)
        tips = h.vertices[hand_model(h.handedness).tip_vertex_ids.numpy()]
        np.testing.assert_allclose(tips, h.fingertips, atol=1e-5)


def test_video_mode_fit_and_smoothing_keep_tracks_and_sides() -> None:
    frame, stage, detector, truths = _scene(curl_true=0.6, curl_network=0.1)
    fitter = LandmarkFitter(hand_model("right"), FitSettings(landmark_offsets=None), temporal=True)
    est = HandEstimator(stage, detector, mode="video", max_hands=2, refiner=fitter)
    for i in range(5):
        hands = est(frame, K_TEST, timestamp_ms=33 * i)
        assert len(hands) == 2 and all(h.refined for h in hands)
        assert sorted(h.track_id for h in hands) == [0, 1]
    assert set(fitter._history) == {0, 1}
    assert _fingertip_error_px(hands, truths) < 8.0
    est.reset()
    assert fitter._history == {}


def test_detector_without_landmarks_gives_the_network_flagged() -> None:
    frame, stage, _, _ = _scene(curl_true=0.5, curl_network=0.5)
    est = handmesh.load(network=stage, detector="box", detector_box=(100, 120, 300, 380), max_hands=1)
    assert isinstance(est.refiner, LandmarkFitter)  # asked for, but nothing to fit to
    (hand,) = est(frame, K_TEST)
    assert not hand.refined and np.isnan(hand.fit_residual_px)


def test_load_refine_option() -> None:
    frame, stage, _, _ = _scene(curl_true=0.5, curl_network=0.5)
    assert handmesh.load(network=stage, detector="none", refine="none").refiner is None
    with pytest.raises(ConfigError, match="refine"):
        handmesh.load(network=stage, detector="none", refine="mesh")  # type: ignore[arg-type]


def test_submit_collect_gives_what_calls_give() -> None:
    """One frame in flight (detection on the worker thread): the same hands, in the same order, as frame-by-frame
    calls; errors in a frame surface at submit."""
    from handmesh.errors import DataError

    frames, stages = [], []
    for i in range(4):
        frame, stage, detector, _ = _scene(curl_true=0.2 * i, curl_network=0.1)
        frames.append(frame)
        stages.append((stage, detector))

    def estimator() -> HandEstimator:
        stage, detector = stages[0]
        return HandEstimator(
            stage, detector, mode="video", max_hands=2, refiner=LandmarkFitter(hand_model("right"), temporal=True)
        )

    a, b = estimator(), estimator()
    expected = [a(f, K_TEST, timestamp_ms=33 * i) for i, f in enumerate(frames)]
    got, pending = [], None
    for i, f in enumerate(frames):
        nxt = b.submit(f, K_TEST, timestamp_ms=33 * i)
        if pending is not None:
            got.append(b.collect(pending))
        pending = nxt
    got.append(b.collect(pending))
    assert len(got) == len(expected)
    for x, y in zip(expected, got):
        assert [h.track_id for h in x] == [h.track_id for h in y]
        for hx, hy in zip(x, y):
            np.testing.assert_allclose(hx.vertices, hy.vertices, atol=1e-6)
    with pytest.raises(DataError):
        b.submit(np.zeros((0, 0, 3), np.uint8))
    b.close()
    b.close()  # idempotent
