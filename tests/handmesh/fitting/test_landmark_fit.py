"""The landmark fit: exact recovery from exact landmarks (both hand models, both sides), joint limits under
adversarial landmarks, fingers without landmarks, mirror symmetry, bad input, and the temporal prior."""

from __future__ import annotations

import numpy as np
import pytest

from handmesh.fitting import FitSettings, LandmarkFitter, landmark_weights
from handmesh.fitting.skeleton import Skeleton
from handmesh.fitting.so3 import exp_map
from handmesh.geometry.projection import project_pinhole
from handmesh.hand_model import HandModel, build_hand_model
from handmesh.pipeline.refine import RefineInput
from handmesh.testing.mano_standin import standin_model_arrays

K = np.array([[600.0, 0.0, 319.5], [0.0, 600.0, 239.5], [0.0, 0.0, 1.0]])
SIZE = (480, 640)
M = np.diag([-1.0, 1.0, 1.0])
# Landmarks that are exactly the model's keypoints, weak priors and more steps: what the solver can reach. (The
# defaults trade a few pixels against the network's prior, which is right for real landmarks.)
EXACT = FitSettings(landmark_offsets=None, shape_weight=0.0, prior_weight=(1e-4, 1e-4, 1e-3), iterations=10)


@pytest.fixture(scope="module", params=["open", "mano-standin"])
def model(request: pytest.FixtureRequest) -> HandModel:
    if request.param == "open":
        return build_hand_model("open", "right")
    return HandModel(standin_model_arrays(seed=0))


def _palm_to_camera(sk: Skeleton) -> np.ndarray:
    """A global orientation showing the palm to the camera, fingers up."""
    return sk.frame.canonical_rotation()


def _hand(
    sk: Skeleton, phi: np.ndarray, R0: np.ndarray, t: np.ndarray, betas: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """21 keypoints (camera frame) and local rotations of a posed right hand."""
    betas = np.zeros(10) if betas is None else betas
    pose = sk.forward(R0[None], phi[None], t[None], sk.rest(betas[None]))
    return pose.keypoints[0], pose.local[0]


def _pose(sk: Skeleton, seed: int) -> np.ndarray:
    """A random pose well inside the joint limits: fingers curled by different amounts."""
    rng = np.random.default_rng(seed)
    lo, hi = sk.lower, sk.upper
    phi = lo + (hi - lo) * rng.uniform(0.25, 0.75, size=lo.shape)
    phi[:, 2] *= 0.3  # twist is what landmarks barely see; keep it near the prior
    return phi


def _pa(a: np.ndarray, b: np.ndarray) -> float:
    """Mean distance after a similarity alignment (Procrustes with scale), metres."""
    from handmesh.metrics.alignment import align_w_scale

    return float(np.linalg.norm(align_w_scale(b, a) - b, axis=1).mean())


def _input(
    sk: Skeleton,
    kp: np.ndarray,
    network_local: np.ndarray,
    side: str = "right",
    track_id: int | None = None,
    t_net: np.ndarray | None = None,
) -> RefineInput:
    """A RefineInput with exact landmarks of keypoints ``kp`` and the network's rotations ``network_local``."""
    uv = project_pinhole(kp, K)
    world = kp - kp.mean(axis=0)
    t = kp[0] + np.array([0.01, -0.02, 0.08]) if t_net is None else t_net
    return RefineInput(side, network_local, np.zeros(10), t, uv, world, track_id)  # type: ignore[arg-type]


def _palm_scene(model: HandModel, seed: int) -> tuple[Skeleton, np.ndarray, RefineInput]:
    """A posed hand half a metre away, palm to the camera: its skeleton, the network's (mean-pose) rotations and
    the input with exact landmarks."""
    sk = Skeleton(model)
    R0 = _palm_to_camera(sk)
    kp, _ = _hand(sk, _pose(sk, seed), R0, np.array([0.0, 0.0, 0.5]))
    network = _mean_local(sk, R0)
    return sk, network, _input(sk, kp, network)


def _mean_local(sk: Skeleton, R0: np.ndarray) -> np.ndarray:
    """The network's guess: the right orientation but the mean (relaxed) finger pose."""
    mean = np.zeros((15, 3))
    mean[:, 0] = 0.3 * sk.upper[:, 0]
    return np.concatenate([R0[None], sk.rotations_from_angles(mean[None])[0]])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_landmarks_give_back_the_hand(model: HandModel, seed: int) -> None:
    sk = Skeleton(model)
    R0 = exp_map(np.array([0.3, -0.2, 0.1]) * seed) @ _palm_to_camera(sk)
    kp, _ = _hand(sk, _pose(sk, seed), R0, np.array([0.05, -0.02, 0.5]))
    fitter = LandmarkFitter(model, EXACT)
    (out,) = fitter.refine([_input(sk, kp, _mean_local(sk, R0))], K, SIZE)
    assert out.refined and out.residual_px < 1.0
    assert out.keypoints is not None
    assert _pa(out.keypoints, kp) < 0.002  # within 2 mm after alignment, from a network that got every finger wrong
    np.testing.assert_allclose(out.translation, kp[0], atol=0.01)  # the wrist placed to a centimetre


def test_left_hand_is_the_mirrored_right_fit(model: HandModel) -> None:
    sk = Skeleton(model)
    R0 = _palm_to_camera(sk)
    kp, _ = _hand(sk, _pose(sk, 4), R0, np.array([-0.03, 0.02, 0.45]))
    fitter = LandmarkFitter(model, EXACT)
    right = _input(sk, kp, _mean_local(sk, R0))
    # The mirror image of the scene (x -> -x) seen by the same camera: pixels mirrored about the principal point.
    mirrored = RefineInput(
        "left",
        M @ right.rotmats @ M,
        right.betas,
        M @ right.translation,
        project_pinhole(kp @ M, K),
        right.landmarks3d @ M,
    )
    (a,) = fitter.refine([right], K, SIZE)
    (b,) = fitter.refine([mirrored], K, SIZE)
    assert a.refined and b.refined
    np.testing.assert_allclose(b.rotmats, M @ a.rotmats @ M, atol=1e-6)
    np.testing.assert_allclose(b.translation, M @ a.translation, atol=1e-8)
    # And a left hand is posed correctly: the left model with those parameters lands on the mirrored keypoints.
    assert b.keypoints is not None and _pa(b.keypoints, kp @ M) < 0.002


def test_fingers_bent_backwards_stay_within_the_joint_limits(model: HandModel) -> None:
    sk = Skeleton(model)
    R0 = _palm_to_camera(sk)
    phi = _pose(sk, 5)
    # Every long finger bent 80 degrees backwards at every joint: landmarks no hand can make.
    phi[[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 0] = -1.4
    kp, _ = _hand(sk, phi, R0, np.array([0.0, 0.0, 0.5]))
    fitter = LandmarkFitter(model, EXACT)
    (out,) = fitter.refine([_input(sk, kp, _mean_local(sk, R0))], K, SIZE)
    assert out.refined
    fitted = sk.angles_from_rotations(out.rotmats[None, 1:])[0]
    assert np.all(fitted >= sk.lower - 1e-6) and np.all(fitted <= sk.upper + 1e-6)
    assert np.all(np.isfinite(out.translation)) and out.translation[2] > 0.1


def test_collinear_landmarks_do_not_break_the_fit(model: HandModel) -> None:
    sk = Skeleton(model)
    R0 = _palm_to_camera(sk)
    kp, _ = _hand(sk, _pose(sk, 6), R0, np.array([0.0, 0.0, 0.5]))
    inp = _input(sk, kp, _mean_local(sk, R0))
    line = np.linspace(0.0, 1.0, 21)[:, None]
    inp.landmarks2d = np.array([250.0, 200.0]) + line * np.array([120.0, 60.0])  # every point on one line
    inp.landmarks3d = (line - 0.5) * np.array([0.1, 0.05, 0.0])
    fitter = LandmarkFitter(model)
    (out,) = fitter.refine([inp], K, SIZE)
    assert np.all(np.isfinite(out.rotmats)) and np.all(np.isfinite(out.translation))
    if out.refined:
        fitted = sk.angles_from_rotations(out.rotmats[None, 1:])[0]
        assert np.all(fitted >= sk.lower - 1e-6) and np.all(fitted <= sk.upper + 1e-6)
        assert 0.05 < out.translation[2] < 20.0
    else:
        np.testing.assert_array_equal(out.rotmats, inp.rotmats)


def test_finger_without_landmarks_keeps_the_networks_pose(model: HandModel) -> None:
    sk, network, inp = _palm_scene(model, 7)
    inp.landmarks2d[18:21] = np.nan  # the pinky was not seen (beyond its knuckle, which the palm needs)
    fitter = LandmarkFitter(model, EXACT)
    (out,) = fitter.refine([inp], K, SIZE)
    assert out.refined
    pinky = [7, 8, 9]  # MANO joints of the pinky
    np.testing.assert_allclose(out.rotmats[pinky], network[pinky], atol=1e-6)
    index = [1, 2, 3]
    assert np.abs(out.rotmats[index] - network[index]).max() > 0.05  # the index finger did follow its landmarks


def test_implausible_finger_keeps_the_networks_pose(model: HandModel) -> None:
    sk, network, inp = _palm_scene(model, 8)
    inp.landmarks3d = inp.landmarks3d.copy()
    inp.landmarks3d[8] = inp.landmarks3d[7] + 0.5  # a 50 cm index fingertip bone
    w = landmark_weights(inp.landmarks2d, inp.landmarks3d, SIZE, FitSettings(), sk.bone_lengths(np.zeros((1, 10)))[0])
    assert w is not None
    w2d, w3d = w
    assert np.all(w2d[5:9] == 0) and np.all(w3d[4:8] == 0) and np.all(w2d[9:] == 1)
    (out,) = LandmarkFitter(model, EXACT).refine([inp], K, SIZE)
    np.testing.assert_allclose(out.rotmats[[1, 2, 3]], network[[1, 2, 3]], atol=1e-6)


@pytest.mark.parametrize("case", ["nan", "all-equal", "outside", "none"])
def test_bad_landmarks_return_the_network_flagged(model: HandModel, case: str) -> None:
    _, _, inp = _palm_scene(model, 9)
    if case == "nan":
        inp.landmarks2d[0] = np.nan  # the wrist
    elif case == "all-equal":
        inp.landmarks2d[:] = [300.0, 200.0]
    elif case == "outside":
        inp.landmarks2d = inp.landmarks2d + [700.0, 0.0]  # the hand has left the frame
    else:
        inp.landmarks2d = None
    (out,) = LandmarkFitter(model).refine([inp], K, SIZE)
    assert not out.refined and np.isnan(out.residual_px) and out.keypoints is None
    assert out.rotmats is inp.rotmats and out.translation is inp.translation


def test_batch_equals_one_by_one(model: HandModel) -> None:
    sk = Skeleton(model)
    R0 = _palm_to_camera(sk)
    inputs = []
    for seed, x in ((10, -0.08), (11, 0.08)):
        kp, _ = _hand(sk, _pose(sk, seed), R0, np.array([x, 0.0, 0.5]))
        inputs.append(_input(sk, kp, _mean_local(sk, R0)))
    fitter = LandmarkFitter(model)
    together = fitter.refine(inputs, K, SIZE)
    for inp, out in zip(inputs, together):
        (alone,) = fitter.refine([inp], K, SIZE)
        np.testing.assert_allclose(out.rotmats, alone.rotmats, atol=1e-9)
        np.testing.assert_allclose(out.translation, alone.translation, atol=1e-9)


def test_temporal_prior_follows_tracks_and_reset_forgets(model: HandModel) -> None:
    sk = Skeleton(model)
    R0 = _palm_to_camera(sk)
    kp, _ = _hand(sk, _pose(sk, 12), R0, np.array([0.0, 0.0, 0.5]))
    fitter = LandmarkFitter(model, FitSettings(temporal_weight=50.0), temporal=True)
    first = _input(sk, kp, _mean_local(sk, R0), track_id=3)
    (a,) = fitter.refine([first], K, SIZE)
    assert 3 in fitter._history
    # Next frame: the index finger's landmarks moved; a heavy temporal prior holds the joints near the last fit.
    kp2, _ = _hand(sk, _pose(sk, 13), R0, np.array([0.0, 0.0, 0.5]))
    (b,) = fitter.refine([_input(sk, kp2, _mean_local(sk, R0), track_id=3)], K, SIZE)
    fitter.reset()
    assert fitter._history == {}
    (c,) = fitter.refine([_input(sk, kp2, _mean_local(sk, R0), track_id=3)], K, SIZE)
    held = np.abs(b.rotmats[1:] - a.rotmats[1:]).max()
    free = np.abs(c.rotmats[1:] - a.rotmats[1:]).max()
    assert held < 0.5 * free
