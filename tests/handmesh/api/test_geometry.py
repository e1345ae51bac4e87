"""The geometry around the network, exactly: with a network stage that returns the rendered hand's true parameters,
the estimator must give back the true camera-frame mesh (crop, mirroring, camera solve, parameters), and projecting
its vertices with K must land inside the rendered hand's mask."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from handmesh.crop import make_crop
from handmesh.geometry.camera_solve import default_intrinsics
from handmesh.pipeline.estimator import HandEstimator

from .helpers import K_TEST, GroundTruthStage, OracleDetector, hand_model, pose_hand, project, render_hand


def _estimator(truths, K=K_TEST, **kw) -> HandEstimator:
    return HandEstimator(GroundTruthStage(K, truths=list(truths)), OracleDetector(K, list(truths)), **kw)


def _inside_mask(vertices: np.ndarray, mask: np.ndarray, K: np.ndarray) -> float:
    """Fraction of vertices projecting into the mask grown by one pixel (silhouette vertices sit on its edge)."""
    grown = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    uv = np.round(project(vertices.astype(np.float64), K)).astype(int)
    h, w = mask.shape
    ok = (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h)
    inside = np.zeros(len(uv), bool)
    inside[ok] = grown[uv[ok, 1], uv[ok, 0]]
    return float(inside.mean())


@pytest.mark.parametrize("side", ["right", "left"])
def test_true_parameters_give_back_the_true_mesh_and_land_in_the_mask(side: str) -> None:
    truth = pose_hand(side, (380, 260), roll_deg=25, seed=1)
    frame, mask = render_hand([truth])
    with _estimator([truth]) as est:
        (hand,) = est(frame, K_TEST)
    assert hand.handedness == side and hand.track_id is None
    np.testing.assert_allclose(hand.vertices, truth.vertices, atol=2e-5)  # float32 output, metres
    np.testing.assert_allclose(hand.joints, truth.joints, atol=2e-5)
    np.testing.assert_allclose(hand.translation, truth.joints[0], atol=2e-5)
    np.testing.assert_allclose(hand.joints2d, project(truth.joints, K_TEST), atol=0.01)
    assert _inside_mask(hand.vertices, mask, K_TEST) > 0.995
    # The box is the 2D joints' tight box; the crop box contains it.
    np.testing.assert_allclose(hand.box, np.r_[hand.joints2d.min(0), hand.joints2d.max(0)], atol=1e-3)
    assert np.all(hand.crop_box[:2] <= hand.box[:2]) and np.all(hand.crop_box[2:] >= hand.box[2:])
    # Faces are the side's model's (a left hand's are wound the other way round).
    np.testing.assert_array_equal(hand.faces, hand_model(side).faces.numpy())


@pytest.mark.parametrize("side", ["right", "left"])
def test_parameters_reproduce_the_mesh_with_the_sides_model(side: str) -> None:
    truth = pose_hand(side, (300, 240), curl=0.6, seed=2)
    frame, _ = render_hand([truth])
    with _estimator([truth]) as est:
        (hand,) = est(frame, K_TEST)
    model = hand_model(side)  # smplx conventions: axis-angle, hand_pose relative to hands_mean
    with torch.no_grad():
        out = model(
            torch.as_tensor(hand.global_orient[None]),
            torch.as_tensor(hand.hand_pose[None]),
            torch.as_tensor(hand.betas[None]),
        )
    verts = out.vertices[0].numpy() - out.joints[0, 0].numpy() + hand.translation
    np.testing.assert_allclose(verts, truth.vertices, atol=5e-5)
    np.testing.assert_allclose(hand.rotmats, truth.rotmats, atol=1e-5)
    np.testing.assert_allclose(hand.betas, truth.betas, atol=1e-6)
    assert hand.hand_pose.shape == (45,) and hand.global_orient.shape == (3,)
    np.testing.assert_allclose(hand.fingertips, truth.joints[[4, 8, 12, 16, 20]], atol=2e-5)


def test_mirroring_round_trips_two_hands_in_one_frame() -> None:
    left, right = pose_hand("left", (190, 250), seed=3), pose_hand("right", (460, 240), seed=4)
    frame, mask = render_hand([left, right])
    with _estimator([left, right]) as est:
        hands = est(frame, K_TEST)
    assert sorted(h.handedness for h in hands) == ["left", "right"]
    for hand in hands:
        truth = left if hand.handedness == "left" else right
        np.testing.assert_allclose(hand.vertices, truth.vertices, atol=2e-5)
        assert _inside_mask(hand.vertices, mask, K_TEST) > 0.995


def test_the_network_sees_a_left_hand_as_the_flipped_picture() -> None:
    left = pose_hand("left", (320, 240), seed=5)
    frame, _ = render_hand([left])
    seen: list[np.ndarray] = []
    stage = GroundTruthStage(K_TEST, truths=[left])
    original = stage.predict

    def spy(images, crops):
        seen.append(images.copy())
        return original(images, crops)

    stage.predict = spy  # type: ignore[method-assign]
    with HandEstimator(stage, OracleDetector(K_TEST, [left])) as est:
        (hand,) = est(frame, K_TEST)
    unmirrored = make_crop(hand.crop_box, stage.input_size, mirror=False).warp(frame)
    np.testing.assert_array_equal(seen[0][0], unmirrored[:, ::-1])


def test_default_intrinsics_are_used_without_K() -> None:
    K = default_intrinsics(640, 480)
    truth = pose_hand("right", (300, 260), K=K, seed=6)
    frame, mask = render_hand([truth], K=K)
    with _estimator([truth], K=K) as est:
        (hand,) = est(frame)  # no K: the default from the image size
    np.testing.assert_array_equal(hand.K, K)
    np.testing.assert_allclose(hand.vertices, truth.vertices, atol=2e-5)
    assert _inside_mask(hand.vertices, mask, K) > 0.995


def test_another_hand_model_is_posed_with_the_predicted_rotations(standin_dir) -> None:
    truth = pose_hand("right", (320, 250), seed=7)
    frame, _ = render_hand([truth])
    with _estimator([truth], hand_model="mano", mano_dir=str(standin_dir)) as est:
        (hand,) = est(frame, K_TEST)
    assert hand.hand_model == "mano"
    np.testing.assert_allclose(hand.translation, truth.joints[0], atol=2e-5)  # placed where the hand is
    np.testing.assert_allclose(hand.rotmats, truth.rotmats, atol=1e-5)
    np.testing.assert_array_equal(hand.betas, np.zeros(10, np.float32))  # shapes do not carry over
    from handmesh.hand_model import build_hand_model

    mano = build_hand_model("mano", "right", standin_dir)
    with torch.no_grad():
        R = torch.as_tensor(truth.rotmats, dtype=torch.float32)[None]
        out = mano(R[:, 0], R[:, 1:], torch.zeros(1, 10))
    np.testing.assert_allclose(
        hand.vertices, out.vertices[0].numpy() - out.joints[0, 0].numpy() + truth.joints[0], atol=2e-5
    )
    np.testing.assert_array_equal(hand.faces, mano.faces.numpy())


def test_render_draws_on_the_hand_and_times_every_stage() -> None:
    truth = pose_hand("right", (320, 250), seed=8)
    frame, mask = render_hand([truth])
    with _estimator([truth]) as est:
        hands = est(frame, K_TEST)
        out = est.render(frame, hands)
        both = est.render(frame, hands, skeleton=True)
        bare = est.render(frame, hands, mesh=False)
    changed = np.any(out != frame, axis=2)
    grown = cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    assert changed[mask].mean() > 0.9 and not changed[~grown].any()
    assert np.any(both != out) and np.array_equal(bare, frame)
    assert set(est.timings.means()) == {"detect", "crop", "network", "hand_model", "render"}
    assert est.timings.count["render"] == 3


@pytest.mark.parametrize("mode", ["image", "video"])
def test_a_non_finite_prediction_is_dropped(mode: str) -> None:
    left, right = pose_hand("left", (190, 250), seed=9), pose_hand("right", (460, 240), seed=10)
    frame, _ = render_hand([left, right])
    stage = GroundTruthStage(K_TEST, truths=[left, right])
    predict = stage.predict

    def broken_left(images, crops):
        out = predict(images, crops)
        for k, crop in enumerate(crops):
            if crop.mirrored:
                out.joints[k, 3] = np.nan
        return out

    stage.predict = broken_left  # type: ignore[method-assign]
    detector = OracleDetector(K_TEST, [left, right])
    with HandEstimator(stage, detector, mode=mode) as est:
        (hand,) = est(frame, K_TEST, timestamp_ms=0)
        assert hand.handedness == "right"
        np.testing.assert_allclose(hand.vertices, right.vertices, atol=2e-5)
        est(frame, K_TEST, timestamp_ms=33)
    assert detector.calls == 2  # video mode: the broken track was dropped, so the next frame detects again


def test_no_hand_gives_an_empty_list() -> None:
    frame = np.full((480, 640, 3), 90, np.uint8)
    with _estimator([]) as est:
        assert est(frame, K_TEST) == []
        assert est.render(frame, []).tolist() == frame.tolist()
