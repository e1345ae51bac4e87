"""Plausible random hand poses: per-joint limits in anatomical axes, correlated finger curls, a self-intersection
test on finger capsules, and global orientations that mostly show the palm or the back of the hand to the camera.

The anatomical axes (:class:`~handmesh.hand_model.anatomy.HandFrame`) live in :mod:`handmesh.hand_model.anatomy`;
they are re-exported here for the sampler's callers.
"""

from __future__ import annotations

import numpy as np

from handmesh.hand_model.anatomy import (
    FINGER_CHAINS,
    FINGER_RADIUS,
    PALM_HALF_THICKNESS,
    THUMB_RADIUS,
    HandFrame,
    rotation_matrix,
)

__all__ = [
    "FINGER_LIMITS",
    "THUMB_LIMITS",
    "INTERSECTION_TOLERANCE",
    "HandFrame",
    "rotation_matrix",
    "sample_finger_pose",
    "curl_pose",
    "sample_global_rotation",
    "self_penetration",
]

# Joint limits in radians, per level (proximal, middle, distal): (flex min, flex max, spread, twist); spread and
# twist are symmetric. Long fingers: MCP, PIP, DIP. Thumb: CMC, MCP, IP. Ranges follow the usual active ranges of
# motion, trimmed so that extreme combinations stay rare.
FINGER_LIMITS: tuple[tuple[float, float, float, float], ...] = (
    (-0.25, 1.45, 0.30, 0.08),
    (-0.05, 1.70, 0.04, 0.04),
    (-0.10, 1.25, 0.03, 0.03),
)
THUMB_LIMITS: tuple[tuple[float, float, float, float], ...] = (
    (-0.30, 0.90, 0.50, 0.35),
    (-0.20, 1.00, 0.15, 0.10),
    (-0.30, 1.30, 0.05, 0.05),
)

# Sideways direction of spreading for index, middle, ring, pinky: +1 turns towards the thumb side (+r).
_SPREAD_SIGN = (1.0, 0.15, -0.6, -1.0)

# The allowed interpenetration of the self-intersection test (metres).
INTERSECTION_TOLERANCE = 0.002


def sample_finger_pose(rng: np.random.Generator, frame: HandFrame, damping: float = 1.0) -> np.ndarray:
    """One random finger pose.

    Fingers share a global curl (open hands, half-closed hands and fists are all common) with per-finger
    deviations, PIP and DIP flexion are coupled as in real fingers, and a few fingers move independently (pointing,
    counting gestures).

    Args:
        rng: the random stream.
        frame: the model's :class:`HandFrame`.
        damping: multiplies every angle (1 = full range; retries after a self-intersection use less).
            Default: 1.0.

    Returns:
        ``(15, 3)`` absolute axis-angle rotations of MANO joints 1..15 (radians, model frame).
    """
    style = rng.random()
    if style < 0.3:
        curl = rng.uniform(0.0, 0.25)
    elif style < 0.7:
        curl = rng.uniform(0.1, 0.7)
    else:
        curl = rng.uniform(0.55, 1.0)
    spread = rng.uniform(0.0, 1.0) * (1.0 - curl)
    aa = np.zeros((15, 3))
    for finger, chain in enumerate(FINGER_CHAINS):
        limits = THUMB_LIMITS if finger == 0 else FINGER_LIMITS
        if finger == 0:
            c = rng.uniform(0.0, 1.0)
        elif rng.random() < 0.2:
            c = rng.uniform(0.0, 1.0)  # an independent finger
        else:
            c = min(max(curl + rng.normal(0.0, 0.15), 0.0), 1.0)
        pip = None
        for level, jid in enumerate(chain):
            fmin, fmax, smax, tmax = limits[level]
            if level == 2 and finger != 0 and pip is not None:
                # DIP follows PIP (about 2/3 of its flexion) through the shared flexor tendon.
                f = 0.7 * pip + rng.normal(0.0, 0.08)
            else:
                f = fmin * 0.3 + (fmax - fmin * 0.3) * c + rng.normal(0.0, 0.1)
            f = min(max(f, fmin), fmax)
            if level == 1:
                pip = f
            if finger == 0:
                s = rng.uniform(-smax, smax)
            elif level == 0:
                s = min(max(_SPREAD_SIGN[finger - 1] * spread * smax + rng.normal(0.0, 0.04), -smax), smax)
            else:
                s = rng.uniform(-smax, smax)
            t = rng.uniform(-tmax, tmax)
            i = jid - 1
            aa[i] = damping * (f * frame.flex_axes[i] + s * frame.spread_axes[i] + t * frame.twist_axes[i])
    return aa


def curl_pose(frame: HandFrame, curls: np.ndarray, spread: float = 0.0, thumb_spread: float = 0.0) -> np.ndarray:
    """A noise-free finger pose from per-finger curls (smooth animation).

    Args:
        frame: the model's :class:`HandFrame`.
        curls: ``(5,)`` in 0-1 (thumb, index, middle, ring, pinky): 0 straight, 1 fully flexed within the limits.
        spread: 0-1 fan-out of the long fingers at their MCP joints. Default: 0.
        thumb_spread: -1..1 thumb CMC ab/adduction as a fraction of its limit. Default: 0.

    Returns:
        ``(15, 3)`` absolute axis-angle rotations of MANO joints 1..15.
    """
    aa = np.zeros((15, 3))
    for finger, chain in enumerate(FINGER_CHAINS):
        limits = THUMB_LIMITS if finger == 0 else FINGER_LIMITS
        c = float(np.clip(curls[finger], 0.0, 1.0))
        for level, jid in enumerate(chain):
            fmin, fmax, smax, _ = limits[level]
            f = fmin * 0.3 + (fmax - fmin * 0.3) * c
            if level == 2 and finger != 0:
                f = 0.7 * (limits[1][0] * 0.3 + (limits[1][1] - limits[1][0] * 0.3) * c)
            if finger == 0:
                s = thumb_spread * smax if level == 0 else 0.0
            else:
                s = _SPREAD_SIGN[finger - 1] * spread * smax if level == 0 else 0.0
            i = jid - 1
            aa[i] = f * frame.flex_axes[i] + s * frame.spread_axes[i]
    return aa


def sample_global_rotation(
    rng: np.random.Generator,
    frame: HandFrame,
    *,
    tilt_deg: float = 60.0,
    roll_deg: float = 55.0,
    uniform_prob: float = 0.15,
) -> np.ndarray:
    """A random hand orientation in the camera frame.

    Mostly the palm or the back of the hand faces the camera (50/50), fingers roughly up with a Gaussian roll
    about the optical axis and out-of-plane tilts; a fraction of samples is uniformly random on SO(3).

    Args:
        rng: the random stream.
        frame: the model's :class:`HandFrame`.
        tilt_deg: out-of-plane tilts are uniform in +-this about the image x and y axes. Default: 60.
        roll_deg: standard deviation of the roll about the optical axis. Default: 55.
        uniform_prob: probability of a uniformly random rotation instead. Default: 0.15.

    Returns:
        ``(3, 3)`` rotation to use as the model's global orientation.
    """
    if rng.random() < uniform_prob:
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        w, x, y, z = q
        return np.array(
            [
                [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
            ]
        )
    R = frame.canonical_rotation()
    if rng.random() < 0.5:
        R = rotation_matrix(np.array([0.0, np.pi, 0.0])) @ R  # show the back of the hand
    tilt = np.deg2rad(tilt_deg)
    R = rotation_matrix(np.array([rng.uniform(-tilt, tilt), 0.0, 0.0])) @ R
    R = rotation_matrix(np.array([0.0, rng.uniform(-tilt, tilt), 0.0])) @ R
    roll = min(max(rng.normal(0.0, np.deg2rad(roll_deg)), -np.pi), np.pi)
    return rotation_matrix(np.array([0.0, 0.0, roll])) @ R


def _segment_distance(p0: np.ndarray, p1: np.ndarray, q0: np.ndarray, q1: np.ndarray) -> np.ndarray:
    """Closest distance between segments ``p0p1`` and ``q0q1``; all ``(..., 3)``, broadcast; returns ``(...)``."""
    d1, d2, r = p1 - p0, q1 - q0, p0 - q0
    a = np.sum(d1 * d1, -1)
    e = np.sum(d2 * d2, -1)
    f = np.sum(d2 * r, -1)
    c = np.sum(d1 * r, -1)
    b = np.sum(d1 * d2, -1)
    denom = a * e - b * b
    s = np.where(denom > 1e-12, np.clip((b * f - c * e) / np.maximum(denom, 1e-12), 0, 1), 0.0)
    t = (b * s + f) / np.maximum(e, 1e-12)
    # Clamp t to the segment and recompute s for it (Ericson, Real-Time Collision Detection, 5.1.9).
    t_c = np.clip(t, 0, 1)
    s = np.where(
        t < 0,
        np.clip(-c / np.maximum(a, 1e-12), 0, 1),
        np.where(t > 1, np.clip((b - c) / np.maximum(a, 1e-12), 0, 1), s),
    )
    cp = p0 + d1 * s[..., None]
    cq = q0 + d2 * t_c[..., None]
    return np.linalg.norm(cp - cq, axis=-1)


# Phalanx segments in the 21-keypoint order, (finger, start, end): the thumb's metacarpal 1-2 is included.
_PHALANGES = [(f, s, s + 1) for f in range(5) for s in range(4 * f + 1, 4 * f + 4)]
_PAIRS = [
    (i, k)
    for i in range(len(_PHALANGES))
    for k in range(i + 1, len(_PHALANGES))
    if _PHALANGES[i][0] != _PHALANGES[k][0]
]
_PAIR_A = np.array([_PHALANGES[i][1:] for i, _ in _PAIRS])
_PAIR_B = np.array([_PHALANGES[k][1:] for _, k in _PAIRS])
_PAIR_FINGERS = np.array([(_PHALANGES[i][0], _PHALANGES[k][0]) for i, k in _PAIRS])

# Palm probes along the middle and distal phalanges (thumb: proximal and distal), as (start, end, fraction):
# joints sit inside the finger (radius = finger thickness); the fingertip is a surface vertex (radius 0).
_PROBE_SEGMENTS = [(2, 3, 0.0), (3, 4, 0.0), (3, 4, 0.5), (3, 4, 1.0)] + [
    (s, s + 1, t)
    for f in range(1, 5)
    for s, t in ((4 * f + 2, 0.0), (4 * f + 2, 0.5), (4 * f + 3, 0.0), (4 * f + 3, 0.5), (4 * f + 3, 1.0))
]
_PROBE_A = np.array([a for a, _, _ in _PROBE_SEGMENTS])
_PROBE_B = np.array([b for _, b, _ in _PROBE_SEGMENTS])
_PROBE_T = np.array([t for _, _, t in _PROBE_SEGMENTS])
_PROBE_FINGER = (_PROBE_A - 1) // 4
_PROBE_IS_JOINT = np.where((_PROBE_T == 1.0) & (_PROBE_B % 4 == 0), 0.0, 1.0)


def self_penetration(joints21: np.ndarray, frame: HandFrame | None = None) -> np.ndarray:
    """How deep the fingers pass into each other or into the palm (metres, 0 when they do not touch).

    Fingers are capsules around their phalanx segments (radii ``frame.finger_radii``); the palm is a slab of
    half-thickness ``frame.palm_half_thickness`` over the triangle wrist / index MCP / pinky MCP (a little larger),
    tested against points along the middle and distal phalanges. Phalanges of the same finger are not tested
    against each other.
    It is a fast proxy for the mesh's self-intersection, not an exact test.

    Args:
        joints21: ``(B, 21, 3)`` keypoints in metres (21-keypoint order, posed, any global placement).
        frame: the model's :class:`HandFrame` (for its thickness). Default: :data:`FINGER_RADIUS`,
            :data:`THUMB_RADIUS` and :data:`PALM_HALF_THICKNESS`.

    Returns:
        ``(B,)`` the deepest interpenetration per sample.
    """
    radii = frame.finger_radii if frame is not None else np.array([THUMB_RADIUS] + [FINGER_RADIUS] * 4)
    palm_half = frame.palm_half_thickness if frame is not None else PALM_HALF_THICKNESS
    j = np.asarray(joints21, np.float64)
    d = _segment_distance(j[:, _PAIR_A[:, 0]], j[:, _PAIR_A[:, 1]], j[:, _PAIR_B[:, 0]], j[:, _PAIR_B[:, 1]])
    depth = np.max(np.maximum(radii[_PAIR_FINGERS].sum(1) - d, 0.0), axis=1)
    # Middle and distal phalanges of the long fingers and the thumb tip against the palm slab.
    wrist, index, pinky = j[:, 0], j[:, 5], j[:, 17]
    n = np.cross(index - wrist, pinky - wrist)  # either side of the slab counts
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    probes = j[:, _PROBE_A] + _PROBE_T[None, :, None] * (j[:, _PROBE_B] - j[:, _PROBE_A])  # (B, P, 3)
    rel = probes - wrist[:, None]
    h = np.einsum("bpc,bc->bp", rel, n)  # height above the palm's mid-plane (either side)
    # Barycentric test: is the probe above the palm triangle (slightly enlarged)?
    e1, e2 = index - wrist, pinky - wrist
    flat = rel - h[..., None] * n[:, None]
    m11, m12, m22 = np.sum(e1 * e1, -1), np.sum(e1 * e2, -1), np.sum(e2 * e2, -1)
    det = m11 * m22 - m12 * m12
    p1 = np.einsum("bpc,bc->bp", flat, e1)
    p2 = np.einsum("bpc,bc->bp", flat, e2)
    a = (m22[:, None] * p1 - m12[:, None] * p2) / det[:, None]
    b = (m11[:, None] * p2 - m12[:, None] * p1) / det[:, None]
    # The palm reaches a little beyond the triangle, most on the little-finger side (the hypothenar).
    over = (a > -0.1) & (b > -0.25) & (a + b < 1.05)
    probe_r = radii[_PROBE_FINGER] * _PROBE_IS_JOINT  # fingertips are surface points: radius 0
    palm_depth = np.where(over, palm_half + probe_r - np.abs(h), 0.0)
    return np.maximum(depth, np.max(np.maximum(palm_depth, 0.0), axis=1))
