"""The landmark-guided fit: the hand model's pose and translation fitted to a detector's 21 image landmarks and 21
metric landmarks, with the network's prediction as initial value and prior, anatomical joint limits and, in video
mode, the last frame as a temporal prior.

Why: the shipped network was trained on synthetic renders only and barely follows real fingers; MediaPipe's hand
landmarker, which the pipeline runs anyway to find hands, was trained on real hands. Its image landmarks fix where
each keypoint is in the picture; its "world" landmarks (metres, camera axes, centred on the hand) tell which way
each bone points in depth, which the image alone leaves ambiguous. The hand model keeps bone lengths, the mesh and
anatomical joint ranges; the network supplies what landmarks cannot: the twist of each bone and fingers whose
landmarks are missing or implausible.

Per batch of hands (all in the right hand's world: a left hand is mirrored, x -> -x, fitted with the right model,
and mirrored back; the left model is the right one mirrored, so the result is exactly the left model's pose):

1. Checks (:func:`landmark_weights`): a hand with non-finite palm landmarks, landmarks all in one spot, or mostly
   outside the frame is not fitted; a finger whose landmarks are non-finite or whose bones are implausibly long or
   short gets no landmark weight, so the network's pose carries it.
2. The metric landmarks are taken in the camera's axes as they come. (Turning them from the optical axis onto the
   ray through the hand, as if the landmarker looked at the hand along that ray, made the fit slightly worse on
   six synthetic clips with ground truth: PA-MPJPE +0.1 to +0.25 mm.)
3. Initial value, analytic, along the kinematic tree: the global orientation by Kabsch between the model's palm
   vectors and the landmarks' (wrist to the five bases), the translation by linear least squares on the palm's
   image landmarks; then for each level of the fingers (all five at once) the smallest rotation of the network's
   joint rotation that puts the bone's end on its image landmark's viewing ray at the bone's length (of the two
   such points, the one the metric landmarks point to), clipped to the joint limits.
4. A few Levenberg-Marquardt steps on: image residuals ``(project(p_i) - u_i) / d`` (``d`` the landmarks' box
   diagonal, so weights do not depend on the hand's size in pixels), bone-direction residuals
   ``(p_c - p_parent) / l - m_c`` (unit vectors), and priors ``phi - phi_net`` (weak on flexion and spread, strong on
   twist) and ``phi - phi_prev``. Steps are projected onto the joint limits; a step that does not lower the cost is
   rejected and the damping raised.
5. Result checks: finite, in front of the camera, within the joint limits, no jump of the translation past
   :attr:`FitSettings.max_shift`; otherwise the network's hand comes back flagged unrefined. (The network's own
   translation is no reference: on real hands its size bias puts them up to twice as far as they are.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from handmesh.fitting.skeleton import NUM_PARAMS, PARENTS_21, Skeleton, SkeletonPose
from handmesh.fitting.so3 import exp_map, kabsch, rotation_between
from handmesh.geometry.camera_solve import solve_translation
from handmesh.hand_model.anatomy import FINGER_CHAINS
from handmesh.hand_model.keypoints import MANO16_TO_21

# Where MediaPipe's hand landmarker (0.10.21 models) puts each of its 21 landmarks relative to the hand model's
# keypoint, in millimetres along the hand's anatomical axes (x towards the thumb, y towards the fingers, z out of
# the palm; HandFrame), in the frame of the bone that carries the keypoint. Measured by `handmesh-bench offsets` on
# three clips of `handmesh-synth video` (seeds 1 and 2 right, seed 3 left; the frames where MediaPipe finds the
# hand, with the ground-truth pose), never on the sample clip: MediaPipe's wrist sits about a
# centimetre towards the fingers, and its finger landmarks a few millimetres short of the joints. Its fingertips
# also sit 6-10 mm short of the model's tip vertices; those rows are left at zero: on real photos, where only
# MediaPipe itself can judge, moving the tips made the fingertips agree less with it (PCK@0.1 0.94 -> 0.88 on
# ../shared/real_hands), and the returned fingertip stays the mesh's tip vertex.
MEDIAPIPE_OFFSETS_MM: tuple[tuple[float, float, float], ...] = (
    (-7.1, 9.8, 6.2),
    (-3.7, -2.8, 1.5),
    (-5.7, -4.0, 2.1),
    (-3.5, -7.4, 0.6),
    (0.0, 0.0, 0.0),
    (-2.3, -1.3, 0.7),
    (-0.4, -1.9, -0.8),
    (1.0, -3.0, 1.1),
    (0.0, 0.0, 0.0),
    (-0.7, -8.4, 4.2),
    (0.3, -4.6, -1.6),
    (0.4, -3.3, 3.3),
    (0.0, 0.0, 0.0),
    (3.0, -2.3, 4.0),
    (1.4, -1.7, -0.1),
    (2.4, -3.7, 5.0),
    (0.0, 0.0, 0.0),
    (2.5, 0.3, 1.4),
    (0.5, -0.8, -0.1),
    (1.1, -2.3, 3.3),
    (0.0, 0.0, 0.0),
)

_MIRROR = np.diag([-1.0, 1.0, 1.0])
_PALM = np.array([1, 5, 9, 13, 17])  # keypoints at the base of each finger (thumb CMC, four MCPs)
_FINGERS = [np.arange(1 + 4 * f, 5 + 4 * f) for f in range(5)]  # thumb..pinky keypoints, base to tip
_CHILD_KP = np.arange(1, 21)
_PARENT_KP = np.array(PARENTS_21[1:])


class FitInput(Protocol):
    """One hand to fit, in the real camera frame (the pipeline's :class:`handmesh.pipeline.refine.RefineInput`).

    Attributes:
        handedness: ``"left"`` or ``"right"``.
        rotmats: ``(16, 3, 3)`` the network's local joint rotations of the side's hand model.
        betas: ``(10,)`` shape. translation: ``(3,)`` the wrist, metres.
        landmarks2d: ``(21, 2)`` pixels, or None. landmarks3d: ``(21, 3)`` metric landmarks, or None.
        track_id: video mode: the hand's track, else None.
    """

    handedness: str
    rotmats: np.ndarray
    betas: np.ndarray
    translation: np.ndarray
    landmarks2d: np.ndarray | None
    landmarks3d: np.ndarray | None
    track_id: int | None


@dataclass
class FitResult:
    """A fitted hand, or the input unchanged (``refined=False``); what the pipeline reads as a refinement.

    Attributes:
        rotmats: ``(16, 3, 3)`` local joint rotations. betas: ``(10,)``. translation: ``(3,)`` metres.
        refined: the fit ran and passed its checks.
        residual_px: mean distance between the fitted keypoints' projections and the landmarks, pixels (NaN when
            not refined).
        keypoints: ``(21, 3)`` the fitted keypoints, camera frame, metres (None when not refined).
    """

    rotmats: np.ndarray
    betas: np.ndarray
    translation: np.ndarray
    refined: bool
    residual_px: float = float("nan")
    keypoints: np.ndarray | None = None


@dataclass(frozen=True)
class FitSettings:
    """Weights and limits of the landmark fit.

    Attributes:
        iterations: Levenberg-Marquardt steps. Default: 4 (on synthetic clips with ground truth, 6 gave the same
            errors to 0.01 mm).
        image_weight: weight of each image landmark's residual (in units of the landmarks' box diagonal).
            Default: 1.0.
        direction_weight: weight of each bone-direction residual (unit vectors). Default: 0.02 (the metric
            landmarks mainly decide, in the initial value, whether a bone points towards the camera or away; as a
            residual they are noisier than the image landmarks. On eight synthetic clips with ground truth,
            PA-MPJPE 10.0-15.4 mm at 0.02 against 11.2-16.4 at 0.15 and 11.4-16.0 at 0; on real photos the finger
            bends follow MediaPipe's with r 0.90 at 0.02 and 0.83 at 0).
        prior_weight: ``(flex, spread, twist)`` weights pulling each joint's angles towards the network's, radians.
            Default: ``(0.01, 0.03, 0.2)`` (the landmarks decide flexion and spread; twist, which 21 points barely
            see, stays the network's).
        temporal_weight: video mode: weight pulling each joint's angles towards the last frame's fit. Default: 0.01.
        damping: initial Levenberg-Marquardt damping (relative to the diagonal). Default: 1e-3.
        max_shift: largest accepted move of the translation by the iterations, from the linear solve that starts
            them, as a fraction of its depth (at least 1 m); a larger one is a failed fit. Default: 0.5.
        min_spread_px: landmarks whose box diagonal is below this many pixels are not fitted (a collapsed hand).
            Default: 4.
        min_inside: least fraction of image landmarks inside the frame to fit the hand. Default: 0.5.
        shape_weight: weight pulling the shape coefficients towards the network's; 0 keeps the network's shape
            (not fitted). Default: 0.001.
        landmark_offsets: ``(21, 3)`` millimetres: where the detector puts each landmark relative to the model's
            keypoint, along the hand's anatomical axes (:data:`MEDIAPIPE_OFFSETS_MM`), carried by the bone that
            carries the keypoint (:data:`~handmesh.fitting.skeleton.CARRIER`); the image residuals compare the
            landmarks with the moved keypoints. None: no offsets. Default: :data:`MEDIAPIPE_OFFSETS_MM`.
    """

    iterations: int = 4
    image_weight: float = 1.0
    direction_weight: float = 0.02
    prior_weight: tuple[float, float, float] = (0.01, 0.03, 0.2)
    temporal_weight: float = 0.01
    damping: float = 1e-3
    max_shift: float = 0.5
    min_spread_px: float = 4.0
    min_inside: float = 0.5
    landmark_offsets: tuple[tuple[float, float, float], ...] | None = MEDIAPIPE_OFFSETS_MM
    shape_weight: float = 0.001


def landmark_weights(
    landmarks2d: np.ndarray | None,
    landmarks3d: np.ndarray | None,
    image_size: tuple[int, int],
    settings: FitSettings,
    bone_lengths: np.ndarray,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Which landmarks to trust: per-keypoint image weights and per-bone direction weights, or None (no fit).

    Args:
        landmarks2d: ``(21, 2)`` pixels, or None.
        landmarks3d: ``(21, 3)`` metres, or None.
        image_size: ``(H, W)``.
        settings: the fit's settings.
        bone_lengths: ``(21,)`` the model's bone lengths (parent -> keypoint), metres, for the plausibility test.

    Returns:
        ``(w2d (21,), w3d (20,))`` with 0 for landmarks not to use, or None when the hand cannot be fitted.
    """
    if landmarks2d is None:
        return None
    uv = np.asarray(landmarks2d, np.float64)
    if uv.shape != (21, 2) or not np.all(np.isfinite(uv[[0, *_PALM]])):
        return None
    finite = np.all(np.isfinite(uv), axis=1)
    if np.hypot(*np.ptp(uv[finite], axis=0)) < settings.min_spread_px:
        return None
    h, w = image_size
    inside = finite & (uv[:, 0] >= -0.5) & (uv[:, 0] <= w - 0.5) & (uv[:, 1] >= -0.5) & (uv[:, 1] <= h - 0.5)
    if inside.mean() < settings.min_inside:
        return None
    w2d = finite.astype(np.float64)
    w3d = np.zeros(20)
    world = None if landmarks3d is None else np.asarray(landmarks3d, np.float64)
    if world is not None and world.shape == (21, 3) and np.all(np.isfinite(world[[0, *_PALM]])):
        palm = np.linalg.norm(world[_PALM[1:]] - world[0], axis=1).mean()
        model_palm = bone_lengths[_PALM[1:]].mean()
        if palm > 1e-4:
            lengths = np.linalg.norm(world[_CHILD_KP] - world[_PARENT_KP], axis=1) / palm
            expected = bone_lengths[1:] / model_palm
            with np.errstate(invalid="ignore"):
                plausible = np.isfinite(lengths) & (lengths > 0.3 * expected) & (lengths < 3.0 * expected)
            w3d = plausible.astype(np.float64)
    for kps in _FINGERS:
        # A finger with a missing or implausible landmark keeps the network's pose: none of its points is used.
        if not np.all(finite[kps]) or (world is not None and not np.all(w3d[kps - 1] > 0) and np.any(w3d > 0)):
            w2d[kps] = 0.0
            w3d[kps - 1] = 0.0
    if w2d.sum() < 6:
        return None
    return w2d, w3d


def _mirror_pixels(uv: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Pixels of the mirrored world (x -> -x) seen by the same camera."""
    ones = np.ones(uv.shape[:-1] + (1,))
    xy = np.linalg.solve(K, np.concatenate([uv, ones], axis=-1)[..., None])[..., 0]
    xy[..., 0] *= -1.0
    out = xy @ K.T
    return out[..., :2] / out[..., 2:]


@dataclass
class _Batch:
    """Everything the solver needs for B hands, in the right hand's world."""

    R_net: np.ndarray  # (B, 16, 3, 3)
    phi_net: np.ndarray  # (B, 15, 3)
    phi_prev: np.ndarray | None  # (B, 15, 3), zeros where a hand has no history
    has_prev: np.ndarray  # (B,) bool: the hand has a last frame's fit
    t_net: np.ndarray  # (B, 3)
    uv: np.ndarray  # (B, 21, 2)
    dirs: np.ndarray  # (B, 20, 3) unit landmark bone directions, camera frame
    w2d: np.ndarray  # (B, 21)
    w3d: np.ndarray  # (B, 20)
    scale: np.ndarray  # (B,) landmark box diagonal, pixels
    betas: np.ndarray  # (B, 10)
    rest: tuple[np.ndarray, np.ndarray]
    lengths: np.ndarray  # (B, 21)


class LandmarkFitter:
    """The landmark fit as a :class:`~handmesh.pipeline.refine.HandRefiner` (see the module docstring).

    Args:
        model: the right :class:`~handmesh.hand_model.HandModel` the pipeline returns (open hand or MANO).
        settings: weights and limits. Default: :class:`FitSettings` ().
        temporal: keep each track's last fit as a prior for its next frame (video mode). Default: False.
    """

    def __init__(self, model, settings: FitSettings | None = None, temporal: bool = False) -> None:  # noqa: ANN001
        self.skeleton = Skeleton(model)
        self.settings = settings or FitSettings()
        self.temporal = bool(temporal)
        offsets = self.settings.landmark_offsets
        self._offsets = None
        if offsets is not None:  # anatomical axes, millimetres -> the model's rest axes, metres
            frame = self.skeleton.frame
            axes = np.stack([frame.thumbward, frame.up, frame.palm], axis=1)
            self._offsets = np.asarray(offsets, np.float64).reshape(21, 3) @ axes.T / 1000.0
        self._history: dict[int, tuple[str, np.ndarray]] = {}

    def reset(self) -> None:
        """Forget the temporal priors."""
        self._history.clear()

    # ------------------------------------------------------------------------------------------------ public
    def refine(
        self, hands: Sequence[FitInput], K: np.ndarray, image_size: tuple[int, int], timestamp_ms: int | None = None
    ) -> list[FitResult]:
        """Fit each hand that has usable landmarks; the others come back unchanged with ``refined=False``."""
        K = np.asarray(K, np.float64)
        outputs = [FitResult(h.rotmats, h.betas, h.translation, refined=False) for h in hands]
        if not hands:
            return outputs
        lengths = self.skeleton.bone_lengths(np.stack([np.asarray(h.betas, np.float64).reshape(-1) for h in hands]))
        todo, weights = [], []
        for i, h in enumerate(hands):
            ok = np.all(np.isfinite(h.rotmats)) and np.all(np.isfinite(h.betas)) and np.all(np.isfinite(h.translation))
            w = landmark_weights(h.landmarks2d, h.landmarks3d, image_size, self.settings, lengths[i]) if ok else None
            if w is not None:
                todo.append(i)
                weights.append(w)
        if todo:
            batch = self._batch([hands[i] for i in todo], weights, K, lengths[todo])
            R, t, betas, keypoints, residual, good = self._solve(batch, K)
            for j, i in enumerate(todo):
                if not good[j]:
                    continue
                Rj, tj, kj = R[j], t[j], keypoints[j]
                if hands[i].handedness == "left":
                    Rj, tj, kj = _MIRROR @ Rj @ _MIRROR, _MIRROR @ tj, kj @ _MIRROR
                outputs[i] = FitResult(Rj, betas[j], tj, refined=True, residual_px=float(residual[j]), keypoints=kj)
        if self.temporal:
            seen = set()
            for i, h in enumerate(hands):
                if h.track_id is None:
                    continue
                seen.add(h.track_id)
                if outputs[i].refined:
                    Rm = outputs[i].rotmats
                    if h.handedness == "left":
                        Rm = _MIRROR @ Rm @ _MIRROR
                    self._history[h.track_id] = (h.handedness, self.skeleton.angles_from_rotations(Rm[None, 1:])[0])
                else:
                    self._history.pop(h.track_id, None)
            for tid in [t for t in self._history if t not in seen]:
                del self._history[tid]
        return outputs

    # ----------------------------------------------------------------------------------------------- set-up
    def _batch(
        self,
        hands: Sequence[FitInput],
        weights: list[tuple[np.ndarray, np.ndarray]],
        K: np.ndarray,
        lengths: np.ndarray,
    ) -> _Batch:
        """The solver's arrays for B hands (``lengths (B, 21)``: their bone lengths, from :meth:`refine`)."""
        sk = self.skeleton
        R_net = np.stack([np.asarray(h.rotmats, np.float64) for h in hands])
        t_net = np.stack([np.asarray(h.translation, np.float64) for h in hands])
        uv = np.stack([np.nan_to_num(np.asarray(h.landmarks2d, np.float64)) for h in hands])
        world = np.stack(
            [
                np.zeros((21, 3)) if h.landmarks3d is None else np.nan_to_num(np.asarray(h.landmarks3d, np.float64))
                for h in hands
            ]
        )
        w2d = np.stack([w[0] for w in weights])
        w3d = np.stack([w[1] for w in weights])
        left = np.array([h.handedness == "left" for h in hands])
        if left.any():  # into the right hand's world
            R_net[left] = _MIRROR @ R_net[left] @ _MIRROR
            t_net[left] = t_net[left] @ _MIRROR
            uv[left] = _mirror_pixels(uv[left], K)
            world[left] = world[left] @ _MIRROR
        bones = world[:, _CHILD_KP] - world[:, _PARENT_KP]
        norm = np.linalg.norm(bones, axis=-1, keepdims=True)
        w3d = np.where(norm[..., 0] > 1e-6, w3d, 0.0)
        dirs = bones / np.maximum(norm, 1e-6)
        betas = np.stack([np.asarray(h.betas, np.float64) for h in hands])
        phi_prev = None
        has_prev = np.zeros(len(hands), bool)
        if self.temporal:
            phi_prev = np.zeros((len(hands), 15, 3))
            for j, h in enumerate(hands):
                entry = self._history.get(h.track_id) if h.track_id is not None else None
                if entry is not None and entry[0] == h.handedness:
                    phi_prev[j], has_prev[j] = entry[1], True
        scale = np.array([np.hypot(*np.ptp(u[w > 0], axis=0)) for u, w in zip(uv, w2d)])
        return _Batch(
            R_net,
            sk.angles_from_rotations(R_net[:, 1:]),
            phi_prev,
            has_prev,
            t_net,
            uv,
            dirs,
            w2d,
            w3d,
            scale,
            betas,
            sk.rest(betas),
            lengths,
        )

    # ------------------------------------------------------------------------------------------- the solver
    def _initial(self, b: _Batch, K: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Analytic start (step 3): the palm's orientation by Kabsch on the metric landmarks, the translation from
        the palm's image landmarks, then level by level down the fingers each bone turned (smallest rotation,
        within the joint limits) so that its end lands on its image landmark's ray at the bone's length; of the
        two such points (nearer and farther than the bone's start) the one the metric landmarks point to."""
        sk = self.skeleton
        R0, phi = b.R_net[:, 0].copy(), sk.clamp(b.phi_net)
        B = R0.shape[0]
        has3d = b.w3d[:, _PALM - 1].sum(axis=1) >= 3
        # Palm vectors wrist -> base of each finger in the rest pose (the bases hang off the wrist alone).
        src = b.rest[0][:, _PALM_JOINTS] - b.rest[0][:, :1]  # (B, 5, 3)
        if has3d.any():
            dst = b.dirs[:, _PALM - 1] * np.linalg.norm(src, axis=-1, keepdims=True)  # landmark directions
            R0 = np.where(has3d[:, None, None], kabsch(src, dst, b.w3d[:, _PALM - 1]), R0)
        palm = np.array([0, *_PALM])
        palm_points = np.concatenate([np.zeros((B, 1, 3)), np.einsum("bij,bnj->bni", R0, src)], axis=1)
        t = solve_translation(palm_points, b.uv[:, palm], K, b.w2d[:, palm])
        t = np.where(np.isfinite(t).all(axis=1, keepdims=True) & (t[:, 2:] > 1e-3), t, b.t_net)
        rays = np.linalg.solve(K, np.concatenate([b.uv, np.ones((B, 21, 1))], axis=-1)[..., None])[..., 0]
        for level in range(3):  # all five fingers at once, proximal to distal
            pose = sk.forward(R0, phi, t, b.rest)
            joints, children = _LEVEL_JOINTS[level], _LEVEL_CHILDREN[level]
            rest_bone = _rest_bones(b.rest, joints, children)  # (B, 5, 3)
            local = pose.local[:, joints]  # (B, 5, 3, 3)
            parent = pose.frames[:, sk.parents[joints]]
            start = pose.joints[:, joints]  # (B, 5, 3)
            current = np.einsum("bfij,bfj->bfi", parent @ local, rest_bone)  # the bone now, camera frame
            # Points s * ray at the bone's length L from its start: s^2 |r|^2 - 2 s (r.p) + |p|^2 - L^2 = 0.
            r = rays[:, children]
            aa = np.sum(r * r, axis=-1)
            bb = np.sum(r * start, axis=-1)
            cc = np.sum(start * start, axis=-1) - np.sum(rest_bone * rest_bone, axis=-1)
            root = np.sqrt(np.maximum(bb * bb - aa * cc, 0.0)) / aa
            near = ((bb / aa - root)[..., None] * r) - start
            far = ((bb / aa + root)[..., None] * r) - start
            ref = np.where((b.w3d[:, children - 1] > 0)[..., None], b.dirs[:, children - 1], current)
            pick_far = np.sum(far * ref, axis=-1) > np.sum(near * ref, axis=-1)
            target = np.where(pick_far[..., None], far, near)
            target_local = np.einsum("bfji,bfj->bfi", parent, target)
            current_local = np.einsum("bfij,bfj->bfi", local, rest_bone)
            swung = rotation_between(current_local, target_local) @ local
            angles = sk.clamp(sk.angles_from_rotations(swung, joints), joints)
            phi[:, joints - 1] = np.where((b.w2d[:, children] > 0)[..., None], angles, phi[:, joints - 1])
        return R0, phi, t

    def _image_points(self, pose: SkeletonPose) -> np.ndarray:
        """Where the detector's image landmarks should be for ``pose``: the keypoints, moved by the offsets."""
        if self._offsets is None:
            return pose.keypoints
        return self.skeleton.shifted(pose, self._offsets)

    def _residuals(
        self, b: _Batch, pose: SkeletonPose, phi: np.ndarray, betas: np.ndarray, lengths: np.ndarray, K: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Image residuals ``(B, 21, 2)``, direction residuals ``(B, 20, 3)`` and the cost ``(B,)``."""
        s = self.settings
        pts, kp = self._image_points(pose), pose.keypoints
        z = np.maximum(pts[..., 2:], 1e-6)
        proj = (pts[..., :2] / z) * K[[0, 1], [0, 1]] + K[:2, 2]
        proj[..., 0] += K[0, 1] * pts[..., 1] / z[..., 0]
        r2 = (proj - b.uv) / b.scale[:, None, None]
        bone = kp[:, _CHILD_KP] - kp[:, _PARENT_KP]
        r3 = bone / np.maximum(lengths[:, 1:, None], 1e-9) - b.dirs
        cost = s.image_weight * (b.w2d * (r2**2).sum(axis=-1)).sum(axis=1)
        cost += s.direction_weight * (b.w3d * (r3**2).sum(axis=-1)).sum(axis=1)
        cost += ((phi - b.phi_net) ** 2 @ np.asarray(s.prior_weight)).sum(axis=1)
        cost += s.shape_weight * np.sum((betas - b.betas) ** 2, axis=1)
        if b.phi_prev is not None:
            cost += s.temporal_weight * np.sum(((phi - b.phi_prev) * b.has_prev[:, None, None]) ** 2, axis=(1, 2))
        return r2, r3, cost

    def _solve(self, b: _Batch, K: np.ndarray) -> tuple[np.ndarray, ...]:
        """Steps 3-5: returns local rotations ``(B, 16, 3, 3)``, translations ``(B, 3)`` (right hand's world),
        shapes ``(B, 10)``, keypoints ``(B, 21, 3)``, reprojection residuals in pixels ``(B,)`` and which fits
        passed the checks ``(B,)``."""
        sk, s = self.skeleton, self.settings
        R0, phi, t = self._initial(b, K)
        betas = b.betas.copy()
        B = R0.shape[0]
        fit_shape = s.shape_weight > 0
        P = NUM_PARAMS + (10 if fit_shape else 0)
        # Priors and the temporal term act on the angles (and shape) directly: diagonal terms.
        prior = np.zeros((B, P))
        prior_flat = np.tile(np.asarray(s.prior_weight), 15)  # (45,)
        prior[:, 6:NUM_PARAMS] = prior_flat
        if fit_shape:
            prior[:, NUM_PARAMS:] = s.shape_weight
        temporal = b.phi_prev is not None
        if temporal:
            has_prev = b.has_prev
            prior[:, 6:NUM_PARAMS] += s.temporal_weight * has_prev[:, None]
        mu = np.full(B, s.damping)
        lengths = b.lengths
        pose = sk.forward(R0, phi, t, b.rest)
        # The translation once more, now from every landmark (the start placed the palm only).
        t_all = solve_translation(pose.keypoints - t[:, None], b.uv, K, b.w2d)
        ok = np.isfinite(t_all).all(axis=1) & (t_all[:, 2] > 1e-3)
        shift = np.where(ok[:, None], t_all - t, 0.0)
        t = t + shift
        pose.keypoints += shift[:, None]
        pose.joints += shift[:, None]
        t_start = t.copy()
        r2, r3, cost = self._residuals(b, pose, phi, betas, lengths, K)
        fx, fy = K[0, 0], K[1, 1]
        sqrt_w2 = np.sqrt(s.image_weight * b.w2d)[:, :, None, None]  # (B, 21, 1, 1)
        sqrt_r3 = np.sqrt(s.direction_weight * b.w3d)[:, :, None]  # (B, 20, 1)
        for _ in range(max(0, int(s.iterations))):
            kp = self._image_points(pose)
            jac = sk.jacobian(pose, kp)  # (B, 21, 3, 51)
            if fit_shape:
                jac = np.concatenate([jac, sk.shape_jacobian(pose)], axis=-1)  # (B, 21, 3, 61)
            z = np.maximum(kp[..., 2], 1e-6)
            # d(projection)/d(point): (B, 21, 2, 3)
            dproj = np.zeros((B, 21, 2, 3))
            dproj[..., 0, 0] = fx / z
            dproj[..., 0, 2] = -fx * kp[..., 0] / z**2
            dproj[..., 1, 1] = fy / z
            dproj[..., 1, 2] = -fy * kp[..., 1] / z**2
            J2 = (dproj @ jac) * (sqrt_w2 / b.scale[:, None, None, None])  # (B, 21, 2, P)
            # Bone directions: a bone's length does not change with its rotation; its change with shape is left
            # out (shape mostly scales bones along themselves). The Jacobian of the landmark points stands in for
            # the keypoints' (they differ by the offsets, millimetres against bones of centimetres); the cost
            # that decides each step is exact.
            jac_kp = jac
            sqrt_w3 = sqrt_r3[..., None] / np.maximum(lengths[:, 1:, None, None], 1e-9)  # (B, 20, 1, 1)
            J3 = np.zeros((B, 20, 3, P))
            J3[..., :NUM_PARAMS] = jac_kp[:, _CHILD_KP, :, :NUM_PARAMS] - jac_kp[:, _PARENT_KP, :, :NUM_PARAMS]
            J3 *= sqrt_w3
            rows = np.concatenate([J2.reshape(B, 42, P), J3.reshape(B, 60, P)], axis=1)
            res = np.concatenate([(r2 * sqrt_w2[..., 0]).reshape(B, 42), (r3 * sqrt_r3).reshape(B, 60)], axis=1)
            Jt = np.swapaxes(rows, 1, 2)
            H = Jt @ rows  # (B, P, P)
            g = (Jt @ res[..., None])[..., 0]  # (B, P)
            H[:, np.arange(P), np.arange(P)] += prior
            g[:, 6:NUM_PARAMS] += prior_flat * (phi - b.phi_net).reshape(B, 45)
            if temporal:
                g[:, 6:NUM_PARAMS] += s.temporal_weight * ((phi - b.phi_prev) * has_prev[:, None, None]).reshape(B, 45)
            if fit_shape:
                g[:, NUM_PARAMS:] += s.shape_weight * (betas - b.betas)
            diag = np.einsum("bpp->bp", H)
            A = H + (mu[:, None] * np.maximum(diag, 1e-9))[:, :, None] * np.eye(P)
            step = -np.linalg.solve(A, g[..., None])[..., 0]
            R0_new = exp_map(step[:, :3]) @ R0
            t_new = t + step[:, 3:6]
            phi_new = sk.clamp(phi + step[:, 6:NUM_PARAMS].reshape(B, 15, 3))
            betas_new = betas + step[:, NUM_PARAMS:] if fit_shape else betas
            rest_new = sk.rest(betas_new) if fit_shape else b.rest
            lengths_new = sk.bone_lengths(betas_new, rest_new) if fit_shape else lengths
            pose_new = sk.forward(R0_new, phi_new, t_new, rest_new)
            r2_new, r3_new, cost_new = self._residuals(b, pose_new, phi_new, betas_new, lengths_new, K)
            better = np.isfinite(cost_new) & (cost_new < cost) & (pose_new.keypoints[..., 2].min(axis=1) > 1e-3)
            mu = np.where(better, mu / 3.0, mu * 4.0)
            sel = better[:, None]
            R0 = np.where(sel[..., None], R0_new, R0)
            t = np.where(sel, t_new, t)
            phi = np.where(sel[..., None], phi_new, phi)
            betas = np.where(sel, betas_new, betas)
            lengths = np.where(sel, lengths_new, lengths)
            r2 = np.where(sel[..., None], r2_new, r2)
            r3 = np.where(sel[..., None], r3_new, r3)
            cost = np.where(better, cost_new, cost)
            if better.all():
                pose = pose_new
            elif better.any():
                pose = sk.forward(R0, phi, t, sk.rest(betas) if fit_shape else b.rest)
        residual_px = np.einsum("bn,bn->b", b.w2d, np.linalg.norm(r2, axis=-1)) * b.scale / b.w2d.sum(axis=1)
        good = (
            np.isfinite(cost)
            & np.all(np.isfinite(pose.local), axis=(1, 2, 3))
            & np.all(np.isfinite(t), axis=1)
            & np.all(np.isfinite(betas), axis=1)
            & (pose.keypoints[..., 2].min(axis=1) > 1e-3)
            & (np.linalg.norm(t - t_start, axis=1) < s.max_shift * np.maximum(t_start[:, 2], 1.0))
            & np.all((phi >= sk.lower - 1e-9) & (phi <= sk.upper + 1e-9), axis=(1, 2))
        )
        return pose.local, t, betas, pose.keypoints, residual_px, good


def _rest_bones(rest: tuple[np.ndarray, np.ndarray], joints: np.ndarray, children: np.ndarray) -> np.ndarray:
    """Rest vectors from MANO ``joints (F,)`` to 21-keypoints ``children (F,)`` (joints or fingertips),
    ``(B, F, 3)``."""
    rest_joints, tips = rest
    both = np.concatenate([rest_joints, tips], axis=1)
    return both[:, np.asarray(MANO16_TO_21)[children]] - rest_joints[:, joints]


# Per level of the finger chains (all five fingers, thumb..pinky): the MANO joints, and the 21-keypoint each one's
# bone points to.
_PALM_JOINTS = np.array([MANO16_TO_21[k] for k in _PALM])  # the MANO joints at the palm keypoints
_LEVEL_JOINTS = [np.array([chain[level] for chain in FINGER_CHAINS]) for level in range(3)]
_LEVEL_CHILDREN = [np.array([kps[level + 1] for kps in _FINGERS]) for level in range(3)]

__all__ = ["MEDIAPIPE_OFFSETS_MM", "FitInput", "FitResult", "FitSettings", "LandmarkFitter", "landmark_weights"]
