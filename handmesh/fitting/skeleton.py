"""The hand model's 21-keypoint skeleton as the landmark fit sees it: forward kinematics and its Jacobian (the loops
compiled with numba in :mod:`handmesh.fitting._kernels`).

The fit poses the skeleton, not the mesh: the 16 joints are MANO's ``J_regressor`` applied to the shaped rest mesh
(linear in the shape coefficients), moved by forward kinematics as in :func:`smplx.lbs.lbs`; the five fingertips are
rest-mesh vertices with their pose blend shapes, carried rigidly by their distal joint (their skinning weight is 1
there in MANO and the open hand). After the fit the full model poses the mesh once. The Jacobian leaves out the
blend shapes' own change with the pose (a millimetre or two; each step's cost is exact).

Pose parameters (batched over B hands):

* ``R0 (B, 3, 3)``: the global orientation (MANO joint 0).
* ``phi (B, 15, 3)``: per finger joint (MANO order 1..15) the anatomical angles (flex, spread, twist) of
  :class:`~handmesh.hand_model.anatomy.HandFrame`; the joint's local rotation is ``exp(A_k phi_k)`` with ``A_k``
  the columns ``(flex axis, spread axis, twist axis)``, an orthonormal frame of the rest pose.
* ``t (B, 3)``: the wrist's position, metres.

Jacobian (first order, for Gauss-Newton): a change ``dphi_k`` turns every point hanging below joint ``k`` about the
joint's world position ``p_k`` by the world rotation vector ``Q_k Jr(w_k) A_k dphi_k`` (``Q_k`` the joint's world
frame, ``Jr`` the right Jacobian of :mod:`handmesh.fitting.so3`), so ``dp_i = -[p_i - p_k]x Q_k Jr(w_k) A_k dphi_k``.
A change ``d0`` of the global orientation, applied on the left (``R0 <- exp(d0) R0``), moves ``p_i`` by
``d0 x (p_i - t)``; ``t`` moves every point by itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from handmesh.fitting._kernels import forward_kinematics, skeleton_jacobian
from handmesh.fitting.so3 import exp_map, log_map
from handmesh.hand_model.anatomy import FINGER_CHAINS, HandFrame, joint_limits
from handmesh.hand_model.keypoints import MANO16_TO_21, MANO_PARENTS

NUM_PARAMS = 51
"""Unknowns per hand in the fit: global orientation change (3), translation (3), 15 joints x 3 angles."""

# 21-keypoint tree: the parent of each keypoint (wrist -> CMC/MCP -> ... -> tip).
PARENTS_21: tuple[int, ...] = (-1, 0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11, 0, 13, 14, 15, 0, 17, 18, 19)


def _ancestor_pairs() -> tuple[np.ndarray, np.ndarray]:
    """(keypoint, MANO joint k >= 1) pairs where joint k's rotation moves the keypoint."""
    kps, joints = [], []
    for chain in FINGER_CHAINS:
        finger_kps = [int(MANO16_TO_21.index(j)) for j in chain]  # the chain's three joints as 21-keypoints
        tip = finger_kps[-1] + 1  # the fingertip follows the distal joint in the 21 order
        points = finger_kps[1:] + [tip]
        for level, k in enumerate(chain):
            for p in points[level:]:
                kps.append(p)
                joints.append(k)
    return np.array(kps), np.array(joints)


PAIR_KEYPOINTS, PAIR_JOINTS = _ancestor_pairs()


def _carriers() -> np.ndarray:
    """For each of the 21 keypoints, the MANO joint whose frame carries it: the wrist's own frame for the wrist, the
    parent joint's for a joint (the bone ending at it), the distal joint's for a fingertip."""
    out = []
    for i, j in enumerate(MANO16_TO_21):
        if i == 0:
            out.append(0)
        elif j >= 16:
            out.append(MANO16_TO_21[i - 1])
        else:
            out.append(MANO_PARENTS[j])
    return np.array(out)


CARRIER = _carriers()


def _paths() -> np.ndarray:
    """``(21, 21)``: ``[i, c] = 1`` when the bone ending at keypoint ``c`` lies between the wrist and keypoint ``i``."""
    paths = np.zeros((21, 21))
    for i in range(1, 21):
        c = i
        while c > 0:
            paths[i, c] = 1.0
            c = PARENTS_21[c]
    return paths


_PATHS = _paths()

_TIP_JOINTS = np.array([c[2] for c in FINGER_CHAINS])  # distal joint of each finger, thumb..pinky
_ORDER21 = np.array(MANO16_TO_21)  # [16 joints, 5 tips] -> the 21-keypoint order


@dataclass
class SkeletonPose:
    """A posed skeleton: keypoints and joint frames (everything the Jacobian needs).

    Attributes:
        keypoints: ``(B, 21, 3)`` metres, 21-keypoint order.
        joints: ``(B, 16, 3)`` MANO joint positions.
        frames: ``(B, 16, 3, 3)`` world frames ``Q_k`` (``Q_0 = R0``, ``Q_k = Q_parent R_k``).
        local: ``(B, 16, 3, 3)`` local rotations (``local[:, 0] = R0``).
        axis_angle: ``(B, 15, 3)`` the finger joints' axis-angle ``w_k = A_k phi_k``.
    """

    keypoints: np.ndarray
    joints: np.ndarray
    frames: np.ndarray
    local: np.ndarray
    axis_angle: np.ndarray


class Skeleton:
    """The right hand model's skeleton for the fit (left hands are fitted mirrored, as the network sees them).

    Args:
        model: a right :class:`~handmesh.hand_model.HandModel` (its rest mesh, shape space, joint regressor and
            fingertip vertices are read once).
    """

    def __init__(self, model) -> None:  # noqa: ANN001 (a HandModel; torch is imported by the caller)
        import torch

        if not bool(model.is_right):
            raise ValueError("Skeleton: expected a right hand model (left hands are fitted mirrored)")
        with torch.no_grad():
            v_template = model.v_template.double().cpu().numpy()  # (V, 3)
            shapedirs = model.shapedirs.double().cpu().numpy()  # (V, 3, 10)
            J_reg = model.J_regressor.double().cpu().numpy()  # (16, V)
            tips = model.tip_vertex_ids.cpu().numpy()
        self.joints_template = J_reg @ v_template  # (16, 3)
        self.joints_dirs = np.einsum("jv,vcl->jcl", J_reg, shapedirs)  # (16, 3, 10)
        self.tips_template = v_template[tips]  # (5, 3)
        self.tips_dirs = shapedirs[tips]  # (5, 3, 10)
        # Pose blend shapes of the fingertips: (135, V * 3) features x flattened offsets -> (5, 3, 135).
        with torch.no_grad():
            posedirs = model.posedirs.double().cpu().numpy().reshape(-1, v_template.shape[0], 3)
        self.tips_posedirs = np.ascontiguousarray(posedirs[:, tips].transpose(1, 2, 0))
        self._tips_posedirs_flat = np.ascontiguousarray(self.tips_posedirs.reshape(15, 135).T)  # (135, 15)
        self.frame = HandFrame.from_model(model)
        # A_k: columns (flex, spread, twist) per finger joint, (15, 3, 3), orthonormal.
        self.axes = np.stack([self.frame.flex_axes, self.frame.spread_axes, self.frame.twist_axes], axis=-1)
        self.lower, self.upper = joint_limits()
        # d(rest bone ending at each keypoint) / d betas, (21, 3, 10); zero for the wrist.
        dirs21 = np.concatenate([self.joints_dirs, self.tips_dirs], axis=0)[list(MANO16_TO_21)]
        self._bone_dirs = np.concatenate([np.zeros((1, 3, 10)), dirs21[1:] - dirs21[list(PARENTS_21[1:])]])
        self.parents = np.array(MANO_PARENTS, dtype=np.int64)

    # ------------------------------------------------------------------------------------------------ shape
    def rest(self, betas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rest joints ``(B, 16, 3)`` and fingertips ``(B, 5, 3)`` of shapes ``betas (B, 10)``."""
        b = np.asarray(betas, np.float64)
        joints = self.joints_template + np.einsum("jcl,bl->bjc", self.joints_dirs, b)
        tips = self.tips_template + np.einsum("jcl,bl->bjc", self.tips_dirs, b)
        return joints, tips

    def bone_lengths(self, betas: np.ndarray, rest: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """``(B, 21)`` length of the bone from each keypoint's parent to it (0 for the wrist), metres (``rest``:
        :meth:`rest` of ``betas`` when already at hand)."""
        joints, tips = self.rest(betas) if rest is None else rest
        kp = np.concatenate([joints, tips], axis=1)[:, list(MANO16_TO_21)]  # rest keypoints, 21 order
        lengths = np.linalg.norm(kp[:, 1:] - kp[:, list(PARENTS_21[1:])], axis=-1)
        return np.concatenate([np.zeros((kp.shape[0], 1)), lengths], axis=1)

    # ------------------------------------------------------------------------------------------------ angles
    def angles_from_rotations(self, local: np.ndarray, joints: np.ndarray | None = None) -> np.ndarray:
        """``(B, 15, 3, 3)`` finger joints' local rotations -> ``(B, 15, 3)`` anatomical angles (or only those of
        MANO ``joints (F,)``, given ``(B, F, 3, 3)``)."""
        axes = self.axes if joints is None else self.axes[np.asarray(joints) - 1]
        return np.einsum("kji,bkj->bki", axes, log_map(local))

    def rotations_from_angles(self, phi: np.ndarray) -> np.ndarray:
        """``(B, 15, 3)`` anatomical angles -> ``(B, 15, 3, 3)`` local rotations."""
        return exp_map(np.einsum("kij,bkj->bki", self.axes, phi))

    def clamp(self, phi: np.ndarray, joints: np.ndarray | None = None) -> np.ndarray:
        """Angles ``(B, 15, 3)`` clipped to :func:`~handmesh.hand_model.anatomy.joint_limits` (or ``(B, F, 3)`` of
        MANO ``joints (F,)``)."""
        if joints is None:
            return np.clip(phi, self.lower, self.upper)
        idx = np.asarray(joints) - 1
        return np.clip(phi, self.lower[idx], self.upper[idx])

    # --------------------------------------------------------------------------------------------- kinematics
    def forward(
        self, R0: np.ndarray, phi: np.ndarray, t: np.ndarray, rest: tuple[np.ndarray, np.ndarray]
    ) -> SkeletonPose:
        """Pose the skeleton (see the module docstring for the parameters; ``rest`` from :meth:`rest`)."""
        J, T = rest
        w = (self.axes @ phi[..., None])[..., 0]  # (B, 15, 3): w_k = A_k phi_k
        kp, P, Q, local = forward_kinematics(
            np.ascontiguousarray(R0, dtype=np.float64),
            w,
            np.ascontiguousarray(t, dtype=np.float64),
            np.ascontiguousarray(J),
            np.ascontiguousarray(T),
            self.parents,
            _TIP_JOINTS,
            self._tips_posedirs_flat,
            _ORDER21,
        )
        return SkeletonPose(kp, P, Q, local, w)

    @staticmethod
    def shifted(pose: SkeletonPose, offsets: np.ndarray) -> np.ndarray:
        """Keypoints moved by ``offsets (21, 3)`` metres given in each keypoint's carrying frame (:data:`CARRIER`):
        ``(B, 21, 3)``. The moved points turn with the bones that carry them."""
        return pose.keypoints + np.einsum("bnij,nj->bni", pose.frames[:, CARRIER], offsets)

    def jacobian(self, pose: SkeletonPose, points: np.ndarray | None = None) -> np.ndarray:
        """``(B, 21, 3, NUM_PARAMS)``: d keypoints / d (global change, translation, angles) at ``pose``.

        Args:
            pose: from :meth:`forward`.
            points: ``(B, 21, 3)`` points each rigidly attached to its keypoint's carrying frame (see
                :data:`CARRIER`), e.g. keypoints moved by :meth:`shifted`. Default: None (the keypoints).
        """
        kp = pose.keypoints if points is None else points
        return skeleton_jacobian(
            np.ascontiguousarray(kp, dtype=np.float64),
            pose.joints,
            pose.frames,
            pose.axis_angle,
            self.axes,
            PAIR_KEYPOINTS,
            PAIR_JOINTS,
        )

    def shape_jacobian(self, pose: SkeletonPose) -> np.ndarray:
        """``(B, 21, 3, 10)``: d keypoints / d betas at ``pose`` (the wrist stays at ``t``). Each bone's rest
        vector is linear in the betas and turns with the frame that carries it; a keypoint moves with every bone
        between it and the wrist."""
        bones = np.einsum("bnij,njl->bnil", pose.frames[:, CARRIER], self._bone_dirs)  # (B, 21, 3, 10)
        return np.einsum("ic,bcjl->bijl", _PATHS, bones)


__all__ = ["CARRIER", "NUM_PARAMS", "PARENTS_21", "Skeleton", "SkeletonPose"]
