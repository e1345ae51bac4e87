"""The hand's anatomy in a model's own rest pose: palm axes, per-joint flexion / spread / twist axes, and joint limits.

Anatomical axes come from the model's rest joints, so everything here works for MANO and the open hand alike:

* ``u``: wrist -> middle-finger MCP (the hand's "up"), ``r``: pinky MCP -> index MCP (towards the thumb),
  ``n``: out of the palm. For a right hand ``n = r x u`` (right hand, palm towards you, fingers up: the thumb is on
  your right); for a left hand ``n = -(r x u)``.
* A finger joint flexes about ``b x n`` (``b`` its rest bone direction): a positive angle turns the bone towards the
  palm (Rodrigues: ``R b = b cos t + n sin t``). It spreads (ab/adducts) about ``n`` and twists about ``b``.
* The thumb curls towards the palm's centre, a direction between ``n`` and ``-r``.

Rotations are MANO's local joint rotations; in the rest pose every joint frame is aligned with the model frame, so
an axis-angle ``flex * (b x n) + spread * n + twist * b`` built from rest-pose vectors is the joint's absolute
rotation (not relative to ``hands_mean``). :data:`JOINT_LIMITS` bounds those three angles per joint: what a real
hand can do (active range of motion), used to keep fitted poses anatomical. The synthetic pose sampler
(:mod:`handmesh.synth.poses`) draws from narrower ranges of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch

# MANO finger chains (proximal to distal) in the fingertip order of ``tip_vertex_ids``: thumb, index, middle, ring,
# pinky.
FINGER_CHAINS: tuple[tuple[int, int, int], ...] = ((13, 14, 15), (1, 2, 3), (4, 5, 6), (10, 11, 12), (7, 8, 9))

# Default capsule radii of the fingers and half-thickness of the palm (metres), where a model's mesh does not give
# its own (see HandFrame.from_model).
FINGER_RADIUS = 0.0075
THUMB_RADIUS = 0.0085
PALM_HALF_THICKNESS = 0.011


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def rotation_matrix(axis_angle: np.ndarray) -> np.ndarray:
    """Rodrigues: ``(..., 3)`` axis-angle -> ``(..., 3, 3)`` rotation matrices (float64)."""
    aa = np.asarray(axis_angle, np.float64)
    theta = np.linalg.norm(aa, axis=-1, keepdims=True)[..., None]  # (..., 1, 1)
    k = aa / np.maximum(theta[..., 0], 1e-12)
    kx, ky, kz = k[..., 0], k[..., 1], k[..., 2]
    zero = np.zeros_like(kx)
    Kx = np.stack([np.stack([zero, -kz, ky], -1), np.stack([kz, zero, -kx], -1), np.stack([-ky, kx, zero], -1)], -2)
    eye = np.broadcast_to(np.eye(3), Kx.shape)
    return eye + np.sin(theta) * Kx + (1.0 - np.cos(theta)) * (Kx @ Kx)


@dataclass(frozen=True)
class HandFrame:
    """Anatomical axes of a hand model's rest pose and per-joint rotation axes.

    Attributes:
        up: ``(3,)`` wrist -> middle MCP, unit.
        thumbward: ``(3,)`` ``up x palm``: towards the thumb for a right hand, away from it for a left hand (so that
            ``(thumbward, up, palm)`` is right-handed).
        palm: ``(3,)`` unit normal out of the palm.
        flex_axes: ``(15, 3)`` flexion axis per MANO finger joint 1..15 (positive = towards the palm).
        spread_axes: ``(15, 3)`` ab/adduction axis per joint.
        twist_axes: ``(15, 3)`` rest bone direction per joint.
        is_right: the model's side.
        finger_radii: ``(5,)`` thickness of each finger (thumb..pinky) as a capsule radius, metres.
        palm_half_thickness: half the palm's thickness, metres.
    """

    up: np.ndarray
    thumbward: np.ndarray
    palm: np.ndarray
    flex_axes: np.ndarray
    spread_axes: np.ndarray
    twist_axes: np.ndarray
    is_right: bool
    finger_radii: np.ndarray = field(default_factory=lambda: np.array([THUMB_RADIUS] + [FINGER_RADIUS] * 4))
    palm_half_thickness: float = PALM_HALF_THICKNESS

    @classmethod
    def from_model(cls, model) -> HandFrame:
        """Derive the axes from ``model.rest_joints()`` and the fingertip vertices of ``model.v_template``, and
        the finger and palm thickness from the rest mesh (vertices grouped by their strongest skinning joint)."""
        with torch.no_grad():
            joints = model.rest_joints()[0].double().cpu().numpy()  # (16, 3)
            verts = model.v_template.double().cpu().numpy()
            tips = verts[model.tip_vertex_ids.cpu().numpy()]  # (5, 3)
            owner = model.lbs_weights.argmax(1).cpu().numpy()  # (V,)
        frame = cls.from_points(joints, tips, bool(model.is_right))
        radii = []
        for finger, chain in enumerate(FINGER_CHAINS):
            # The middle segment is the least distorted by the webs and the tip: its vertices' distance to the bone.
            a, b = joints[chain[1]], joints[chain[2]]
            p = verts[owner == chain[1]]
            if len(p) < 4:
                radii.append(frame.finger_radii[finger])
                continue
            t = np.clip((p - a) @ (b - a) / max(float((b - a) @ (b - a)), 1e-12), 0.0, 1.0)
            radii.append(float(np.median(np.linalg.norm(p - (a + t[:, None] * (b - a)), axis=1))))
        palm_pts = verts[owner == 0]
        half = frame.palm_half_thickness
        if len(palm_pts) >= 4:
            half = float(np.percentile(np.abs((palm_pts - joints[0]) @ frame.palm), 75))
        return replace(frame, finger_radii=np.array(radii), palm_half_thickness=half)

    @classmethod
    def from_points(cls, joints16: np.ndarray, tips: np.ndarray, is_right: bool) -> HandFrame:
        """Axes from rest joints ``(16, 3)`` (MANO order) and fingertips ``(5, 3)`` (thumb..pinky)."""
        j = np.asarray(joints16, np.float64)
        up = _unit(j[4] - j[0])
        toward_index = _unit(j[1] - j[7])
        palm = _unit(np.cross(toward_index, up)) * (1.0 if is_right else -1.0)
        thumbward = np.cross(up, palm)
        thumb_toward = toward_index  # the thumb sits on the index side for both sides
        flex, spread, twist = np.zeros((15, 3)), np.zeros((15, 3)), np.zeros((15, 3))
        for finger, chain in enumerate(FINGER_CHAINS):
            for level, jid in enumerate(chain):
                child = j[chain[level + 1]] if level < 2 else tips[finger]
                b = _unit(child - j[jid])
                if finger == 0:
                    # The thumb curls across the palm: towards the palm and towards the little finger.
                    bend = _unit(0.7 * palm - 0.7 * thumb_toward)
                else:
                    bend = palm
                bend = _unit(bend - np.dot(bend, b) * b)
                flex[jid - 1] = np.cross(b, bend)
                spread[jid - 1] = bend
                twist[jid - 1] = b
        return cls(up, thumbward, palm, flex, spread, twist, is_right)

    def canonical_rotation(self) -> np.ndarray:
        """``(3, 3)`` rotation taking the hand into the camera frame palm-first (palm normal to -z, towards the
        camera), fingers up (``up`` to -y in image coordinates)."""
        A = np.stack([self.thumbward, self.up, self.palm], axis=1)  # columns: the hand's axes
        C = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]])  # their targets, as columns
        return C @ A.T


# Active ranges of motion in radians, per level (proximal, middle, distal): (flex min, flex max, spread max, twist
# max); spread and twist are symmetric. Long fingers: MCP about -35..+95 degrees of flexion and +-25 of spread, PIP
# 0..110, DIP -15..+90 (usual clinical ranges, a little wider so that measurement noise is not clipped); twist is
# small and passive. Thumb: CMC, MCP, IP, with the CMC's wide saddle-joint range.
FINGER_JOINT_LIMITS: tuple[tuple[float, float, float, float], ...] = (
    (-0.60, 1.70, 0.45, 0.20),
    (-0.10, 1.95, 0.12, 0.12),
    (-0.30, 1.60, 0.12, 0.12),
)
THUMB_JOINT_LIMITS: tuple[tuple[float, float, float, float], ...] = (
    (-0.70, 1.20, 0.80, 0.60),
    (-0.45, 1.20, 0.30, 0.30),
    (-0.40, 1.50, 0.20, 0.20),
)


def joint_limits() -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds of (flex, spread, twist) for MANO joints 1..15.

    Returns:
        ``lo, hi``: ``(15, 3)`` radians each, rows in MANO joint order (index, middle, pinky, ring, thumb).
    """
    lo, hi = np.zeros((15, 3)), np.zeros((15, 3))
    for finger, chain in enumerate(FINGER_CHAINS):
        limits = THUMB_JOINT_LIMITS if finger == 0 else FINGER_JOINT_LIMITS
        for level, jid in enumerate(chain):
            fmin, fmax, smax, tmax = limits[level]
            lo[jid - 1] = (fmin, -smax, -tmax)
            hi[jid - 1] = (fmax, smax, tmax)
    return lo, hi
