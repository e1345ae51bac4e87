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
2. The metric landmarks are turned from the landmarker's view (an orthographic camera looking at the hand) to the
   camera's ray through the hand, ``R_ray``, the smallest rotation taking the optical axis to that ray.
3. Initial value, analytic, along the kinematic tree: the global orientation by Kabsch between the model's palm
   vectors and the landmarks' (wrist to the five bases); then for each level of the fingers (all five at once) the
   smallest rotation of the network's joint rotation that points the bone along the landmarks' bone, clipped to
   the joint limits; the translation by linear least squares on the image landmarks.
4. A few Levenberg-Marquardt steps on: image residuals ``(project(p_i) - u_i) / d`` (``d`` the landmarks' box
   diagonal, so weights do not depend on the hand's size in pixels), bone-direction residuals
   ``(p_c - p_parent) / l - m_c`` (unit vectors), and priors ``phi - phi_net`` (weak on flexion and spread, strong on
   twist) and ``phi - phi_prev``. Steps are projected onto the joint limits; a step that does not lower the cost is
   rejected and the damping raised.
5. Result checks: finite, in front of the camera, no jump of the translation past :attr:`FitSettings.max_shift`;
   otherwise the network's hand comes back flagged unrefined.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from handmesh.fitting.skeleton import NUM_PARAMS, PARENTS_21, Skeleton
from handmesh.fitting.so3 import exp_map, kabsch, rotation_between
from handmesh.hand_model.anatomy import FINGER_CHAINS
from handmesh.hand_model.keypoints import MANO16_TO_21
from handmesh.pipeline.refine import RefineInput, RefineOutput

_MIRROR = np.diag([-1.0, 1.0, 1.0])
_PALM = np.array([1, 5, 9, 13, 17])  # keypoints at the base of each finger (thumb CMC, four MCPs)
_FINGERS = [np.arange(1 + 4 * f, 5 + 4 * f) for f in range(5)]  # thumb..pinky keypoints, base to tip
_CHILD_KP = np.arange(1, 21)
_PARENT_KP = np.array(PARENTS_21[1:])


@dataclass(frozen=True)
class FitSettings:
    """Weights and limits of the landmark fit.

    Attributes:
        iterations: Levenberg-Marquardt steps. Default: 6.
        image_weight: weight of each image landmark's residual (in units of the landmarks' box diagonal).
            Default: 1.0.
        direction_weight: weight of each bone-direction residual (unit vectors). Default: 0.15.
        prior_weight: ``(flex, spread, twist)`` weights pulling each joint's angles towards the network's, radians.
            Default: ``(0.002, 0.01, 0.2)`` (the landmarks decide flexion and spread; twist, which 21 points barely
            see, stays the network's).
        temporal_weight: video mode: weight pulling each joint's angles towards the last frame's fit. Default: 0.01.
        damping: initial Levenberg-Marquardt damping (relative to the diagonal). Default: 1e-3.
        max_shift: largest accepted change of the translation by the fit, metres; a larger one is a failed fit.
            Default: 0.5.
        min_spread_px: landmarks whose box diagonal is below this many pixels are not fitted (a collapsed hand).
            Default: 4.
        min_inside: least fraction of image landmarks inside the frame to fit the hand. Default: 0.5.
    """

    iterations: int = 6
    image_weight: float = 1.0
    direction_weight: float = 0.15
    prior_weight: tuple[float, float, float] = (0.002, 0.01, 0.2)
    temporal_weight: float = 0.01
    damping: float = 1e-3
    max_shift: float = 0.5
    min_spread_px: float = 4.0
    min_inside: float = 0.5


def landmark_weights(landmarks2d: np.ndarray | None, landmarks3d: np.ndarray | None, image_size: tuple[int, int],
                     settings: FitSettings, bone_lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:  # fmt: skip
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
    phi_prev: np.ndarray | None  # (B, 15, 3), NaN rows where a hand has no history
    t_net: np.ndarray  # (B, 3)
    uv: np.ndarray  # (B, 21, 2)
    dirs: np.ndarray  # (B, 20, 3) unit landmark bone directions, camera frame
    w2d: np.ndarray  # (B, 21)
    w3d: np.ndarray  # (B, 20)
    scale: np.ndarray  # (B,) landmark box diagonal, pixels
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
        self._history: dict[int, tuple[str, np.ndarray]] = {}

    def reset(self) -> None:
        """Forget the temporal priors."""
        self._history.clear()

    # ------------------------------------------------------------------------------------------------ public
    def refine(self, hands: Sequence[RefineInput], K: np.ndarray, image_size: tuple[int, int],
               timestamp_ms: int | None = None) -> list[RefineOutput]:  # fmt: skip
        """Fit each hand that has usable landmarks; the others come back unchanged with ``refined=False``."""
        K = np.asarray(K, np.float64)
        outputs = [RefineOutput(h.rotmats, h.betas, h.translation, refined=False) for h in hands]
        todo, weights = [], []
        for i, h in enumerate(hands):
            lengths = self.skeleton.bone_lengths(np.asarray(h.betas, np.float64)[None])[0]
            ok = np.all(np.isfinite(h.rotmats)) and np.all(np.isfinite(h.betas)) and np.all(np.isfinite(h.translation))
            w = landmark_weights(h.landmarks2d, h.landmarks3d, image_size, self.settings, lengths) if ok else None
            if w is not None:
                todo.append(i)
                weights.append(w)
        if todo:
            batch = self._batch([hands[i] for i in todo], weights, K)
            R, t, residual, good = self._solve(batch, K)
            for j, i in enumerate(todo):
                if not good[j]:
                    continue
                Rj, tj = R[j], t[j]
                if hands[i].handedness == "left":
                    Rj, tj = _MIRROR @ Rj @ _MIRROR, _MIRROR @ tj
                outputs[i] = RefineOutput(Rj, np.asarray(hands[i].betas), tj, refined=True,
                                          residual_px=float(residual[j]))  # fmt: skip
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
    def _batch(self, hands: Sequence[RefineInput], weights: list[tuple[np.ndarray, np.ndarray]],
               K: np.ndarray) -> _Batch:  # fmt: skip
        sk = self.skeleton
        R_net = np.stack([np.asarray(h.rotmats, np.float64) for h in hands])
        t_net = np.stack([np.asarray(h.translation, np.float64) for h in hands])
        uv = np.stack([np.nan_to_num(np.asarray(h.landmarks2d, np.float64)) for h in hands])
        world = np.stack([np.zeros((21, 3)) if h.landmarks3d is None else
                          np.nan_to_num(np.asarray(h.landmarks3d, np.float64)) for h in hands])  # fmt: skip
        w2d = np.stack([w[0] for w in weights])
        w3d = np.stack([w[1] for w in weights])
        left = np.array([h.handedness == "left" for h in hands])
        if left.any():  # into the right hand's world
            R_net[left] = _MIRROR @ R_net[left] @ _MIRROR
            t_net[left] = t_net[left] @ _MIRROR
            uv[left] = _mirror_pixels(uv[left], K)
            world[left] = world[left] @ _MIRROR
        # The landmarker sees the hand along the ray through its centre: turn its view onto that ray.
        centre = np.einsum("bn,bnc->bc", w2d, uv) / w2d.sum(axis=1, keepdims=True)
        ray = np.linalg.solve(K, np.concatenate([centre, np.ones((len(hands), 1))], axis=1)[..., None])[..., 0]
        world = world @ np.swapaxes(rotation_between(np.array([0.0, 0.0, 1.0]), ray), 1, 2)
        bones = world[:, _CHILD_KP] - world[:, _PARENT_KP]
        norm = np.linalg.norm(bones, axis=-1, keepdims=True)
        w3d = np.where(norm[..., 0] > 1e-6, w3d, 0.0)
        dirs = bones / np.maximum(norm, 1e-6)
        betas = np.stack([np.asarray(h.betas, np.float64) for h in hands])
        phi_prev = None
        if self.temporal:
            phi_prev = np.full((len(hands), 15, 3), np.nan)
            for j, h in enumerate(hands):
                entry = self._history.get(h.track_id) if h.track_id is not None else None
                if entry is not None and entry[0] == h.handedness:
                    phi_prev[j] = entry[1]
        scale = np.array([np.hypot(*np.ptp(u[w > 0], axis=0)) for u, w in zip(uv, w2d)])
        return _Batch(R_net, sk.angles_from_rotations(R_net[:, 1:]), phi_prev, t_net, uv, dirs, w2d, w3d, scale,
                      sk.rest(betas), sk.bone_lengths(betas))  # fmt: skip

    # ------------------------------------------------------------------------------------------- the solver
    def _initial(self, b: _Batch, K: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Analytic start: Kabsch on the palm, then per-level bone swings, then the translation (step 3)."""
        from handmesh.geometry.camera_solve import solve_translation

        sk = self.skeleton
        R0, phi = b.R_net[:, 0].copy(), sk.clamp(b.phi_net)
        B = R0.shape[0]
        zero_t = np.zeros((B, 3))
        has3d = b.w3d[:, _PALM - 1].sum(axis=1) >= 3
        if has3d.any():
            rest_kp = sk.forward(np.broadcast_to(np.eye(3), (B, 3, 3)).copy(), phi, zero_t, b.rest).keypoints
            # Palm vectors wrist -> base of each finger: rest model vs landmarks (lengths from the model).
            src = rest_kp[:, _PALM] - rest_kp[:, :1]
            dst = b.dirs[:, _PALM - 1] * np.linalg.norm(src, axis=-1, keepdims=True)
            R0 = np.where(has3d[:, None, None], kabsch(src, dst, b.w3d[:, _PALM - 1]), R0)
            for level in range(3):  # all five fingers at once, proximal to distal
                pose = sk.forward(R0, phi, zero_t, b.rest)
                joints, children = _LEVEL_JOINTS[level], _LEVEL_CHILDREN[level]
                use = has3d[:, None] & (b.w3d[:, children - 1] > 0)  # (B, 5)
                local = pose.local[:, joints]  # (B, 5, 3, 3)
                current = np.einsum("bfij,bfj->bfi", local, _rest_bones(b.rest, joints, children))  # parent frame
                target = np.einsum("bfji,bfj->bfi", pose.frames[:, sk.parents[joints]], b.dirs[:, children - 1])
                swung = rotation_between(current, target) @ local
                angles = sk.clamp(sk.angles_from_rotations(swung, joints), joints)
                phi[:, joints - 1] = np.where(use[..., None], angles, phi[:, joints - 1])
        kp = sk.forward(R0, phi, zero_t, b.rest).keypoints
        t = np.asarray(solve_translation(kp, b.uv, K, b.w2d), np.float64)
        t = np.where(np.isfinite(t).all(axis=1, keepdims=True) & (t[:, 2:] > 1e-3), t, b.t_net)
        return R0, phi, t

    def _residuals(self, b: _Batch, kp: np.ndarray, phi: np.ndarray, K: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
        """Image residuals ``(B, 21, 2)``, direction residuals ``(B, 20, 3)`` and the cost ``(B,)``."""
        s = self.settings
        z = np.maximum(kp[..., 2:], 1e-6)
        proj = (kp[..., :2] / z) * K[[0, 1], [0, 1]] + K[:2, 2]
        proj[..., 0] += K[0, 1] * kp[..., 1] / z[..., 0]
        r2 = (proj - b.uv) / b.scale[:, None, None]
        bone = kp[:, _CHILD_KP] - kp[:, _PARENT_KP]
        r3 = bone / np.maximum(b.lengths[:, 1:, None], 1e-9) - b.dirs
        cost = s.image_weight * np.einsum("bn,bnc->b", b.w2d, r2**2)
        cost += s.direction_weight * np.einsum("bn,bnc->b", b.w3d, r3**2)
        dp = phi - b.phi_net
        cost += np.einsum("c,bkc->b", np.asarray(s.prior_weight), dp**2)
        if b.phi_prev is not None:
            dprev = np.nan_to_num(phi - b.phi_prev)
            cost += s.temporal_weight * np.sum(dprev**2, axis=(1, 2))
        return r2, r3, cost

    def _solve(self, b: _Batch, K: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Steps 3-5: returns local rotations ``(B, 16, 3, 3)``, translations ``(B, 3)`` (right hand's world),
        reprojection residuals in pixels ``(B,)`` and which fits passed the checks ``(B,)``."""
        sk, s = self.skeleton, self.settings
        R0, phi, t = self._initial(b, K)
        B = R0.shape[0]
        prior_diag = np.tile(np.asarray(s.prior_weight), 15)  # (45,)
        temporal = b.phi_prev is not None
        has_prev = (~np.isnan(b.phi_prev[:, 0, 0])) if temporal else np.zeros(B, bool)
        mu = np.full(B, s.damping)
        pose = sk.forward(R0, phi, t, b.rest)
        r2, r3, cost = self._residuals(b, pose.keypoints, phi, K)
        fx, fy = K[0, 0], K[1, 1]
        sqrt_w2 = np.sqrt(s.image_weight * b.w2d)[:, :, None, None]  # (B, 21, 1, 1)
        sqrt_r3 = np.sqrt(s.direction_weight * b.w3d)[:, :, None]  # (B, 20, 1)
        sqrt_w3 = sqrt_r3[..., None] / np.maximum(b.lengths[:, 1:, None, None], 1e-9)  # (B, 20, 1, 1)
        for _ in range(max(0, int(s.iterations))):
            jac = sk.jacobian(pose)  # (B, 21, 3, P)
            kp = pose.keypoints
            z = np.maximum(kp[..., 2], 1e-6)
            # d(projection)/d(point), scaled by 1 / (landmark box diagonal): (B, 21, 2, 3)
            dproj = np.zeros((B, 21, 2, 3))
            dproj[..., 0, 0] = fx / z
            dproj[..., 0, 2] = -fx * kp[..., 0] / z**2
            dproj[..., 1, 1] = fy / z
            dproj[..., 1, 2] = -fy * kp[..., 1] / z**2
            J2 = (dproj @ jac) * (sqrt_w2 / b.scale[:, None, None, None])  # (B, 21, 2, P)
            J3 = (jac[:, _CHILD_KP] - jac[:, _PARENT_KP]) * sqrt_w3  # (B, 20, 3, P)
            rows = np.concatenate([J2.reshape(B, 42, NUM_PARAMS), J3.reshape(B, 60, NUM_PARAMS)], axis=1)
            res = np.concatenate([(r2 * sqrt_w2[..., 0]).reshape(B, 42), (r3 * sqrt_r3).reshape(B, 60)], axis=1)
            Jt = np.swapaxes(rows, 1, 2)
            H = Jt @ rows  # (B, P, P)
            g = (Jt @ res[..., None])[..., 0]  # (B, P)
            # Priors act on the angles directly: diagonal terms.
            H[:, 6:, 6:] += np.diag(prior_diag)
            g[:, 6:] += (prior_diag * (phi - b.phi_net).reshape(B, 45))
            if temporal:
                tw = s.temporal_weight * has_prev[:, None]
                H[:, 6:, 6:] += tw[:, :, None] * np.eye(45)
                g[:, 6:] += tw * np.nan_to_num(phi - b.phi_prev).reshape(B, 45)
            diag = np.einsum("bpp->bp", H)
            A = H + (mu[:, None] * np.maximum(diag, 1e-9))[:, :, None] * np.eye(NUM_PARAMS)
            step = -np.linalg.solve(A, g[..., None])[..., 0]
            R0_new = exp_map(step[:, :3]) @ R0
            t_new = t + step[:, 3:6]
            phi_new = sk.clamp(phi + step[:, 6:].reshape(B, 15, 3))
            pose_new = sk.forward(R0_new, phi_new, t_new, b.rest)
            r2_new, r3_new, cost_new = self._residuals(b, pose_new.keypoints, phi_new, K)
            better = np.isfinite(cost_new) & (cost_new < cost) & (pose_new.keypoints[..., 2].min(axis=1) > 1e-3)
            mu = np.where(better, mu / 3.0, mu * 4.0)
            sel = better[:, None]
            R0 = np.where(sel[..., None], R0_new, R0)
            t = np.where(sel, t_new, t)
            phi = np.where(sel[..., None], phi_new, phi)
            r2 = np.where(sel[..., None], r2_new, r2)
            r3 = np.where(sel[..., None], r3_new, r3)
            cost = np.where(better, cost_new, cost)
            pose = pose_new if better.all() else sk.forward(R0, phi, t, b.rest)
        residual_px = np.einsum("bn,bn->b", b.w2d, np.linalg.norm(r2, axis=-1)) * b.scale / b.w2d.sum(axis=1)
        good = (
            np.isfinite(cost) & np.all(np.isfinite(pose.local), axis=(1, 2, 3)) & np.all(np.isfinite(t), axis=1)
            & (pose.keypoints[..., 2].min(axis=1) > 1e-3)
            & (np.linalg.norm(t - b.t_net, axis=1) < s.max_shift)
            & np.all((phi >= sk.lower - 1e-9) & (phi <= sk.upper + 1e-9), axis=(1, 2))
        )  # fmt: skip
        return pose.local, t, residual_px, good


def _rest_bones(rest: tuple[np.ndarray, np.ndarray], joints: np.ndarray, children: np.ndarray) -> np.ndarray:
    """Rest vectors from MANO ``joints (F,)`` to 21-keypoints ``children (F,)`` (joints or fingertips), ``(B, F, 3)``."""
    rest_joints, tips = rest
    both = np.concatenate([rest_joints, tips], axis=1)
    return both[:, np.asarray(MANO16_TO_21)[children]] - rest_joints[:, joints]


# Per level of the finger chains (all five fingers, thumb..pinky): the MANO joints, and the 21-keypoint each one's
# bone points to.
_LEVEL_JOINTS = [np.array([chain[level] for chain in FINGER_CHAINS]) for level in range(3)]
_LEVEL_CHILDREN = [np.array([kps[level + 1] for kps in _FINGERS]) for level in range(3)]

__all__ = ["FitSettings", "LandmarkFitter", "landmark_weights"]
