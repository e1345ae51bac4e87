"""Skinning weights and the joint regressor of the open hand.

Weights: every vertex first picks which digits it belongs to, from its distance to each digit's tube with a
compact smooth kernel (so a finger's skin never listens to another finger, while the skin of a web is shared by
the two fingers beside it). Along a digit, the weight passes from the parent bone to the child bone with a smooth
step across each joint (a plane through the joint, normal to the bisector of the two bones), so

- palm and wrist vertices follow the wrist (joint 0),
- a phalanx follows the joint at its proximal end, with soft transitions of a few millimetres around the joints,
- the fingertip follows the distal joint.

Rows are non-negative and sum to 1.

Joint regressor: joint j is a convex combination of the vertices on a thin slab of skin around the joint (the ring
of vertices that encloses it), with weights as close as possible to a Gaussian of the distance to the joint's plane
under the constraint that they reproduce the joint exactly. Rows are non-negative, sum to 1 and are local.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from handmesh.hand_model.open_hand.skeleton import DIGIT_JOINTS, DIGITS, NUM_JOINTS
from handmesh.hand_model.open_hand.surface import HandSurface, digit_field

#: Half width (metres) and offset of the smooth step at each digit's first, second and third joint. The step at a
#: digit's base is wide so palm skin near the knuckles follows the finger part of the way.
STEP_HALF_WIDTH = {
    "finger": (0.0105, 0.0055, 0.0045),
    "thumb": (0.0160, 0.0070, 0.0055),
}
STEP_OFFSET = {
    "finger": (0.0015, 0.0, 0.0),
    "thumb": (0.0050, 0.0, 0.0),
}

#: Reach of the digit-membership kernel: a vertex shares digits only within this many metres of its nearest one.
MEMBERSHIP_REACH = 0.004


def smooth_step(x: np.ndarray) -> np.ndarray:
    """0 for x <= -1, 1 for x >= 1, a C1 cubic in between."""
    t = np.clip(0.5 * (x + 1.0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


@dataclass(frozen=True)
class DigitCoordinates:
    """Per-vertex quantities the weights and shape directions are built from.

    Attributes:
        membership: (V, 5) how much each vertex belongs to each digit (thumb, index, middle, ring, pinky); rows sum
            to 1 (palm vertices too: they have ``steps[..., 0] == 0``).
        steps: (V, 5, 3) the smooth step past each of the digit's three joints, non-increasing along the digit.
        axis_points: (V, 5, 3) nearest point on each digit's axis (metres).
    """

    membership: np.ndarray
    steps: np.ndarray
    axis_points: np.ndarray

    @property
    def digitness(self) -> np.ndarray:
        """(V,) how much a vertex follows a digit rather than the palm (0 on the palm, 1 beyond the knuckles)."""
        return np.einsum("vd,vd->v", self.membership, self.steps[:, :, 0])


def joint_normals(surface: HandSurface, digit: str) -> np.ndarray:
    """(3, 3) unit normals of the planes through a digit's three joints (bisectors of the bones that meet there)."""
    dirs = surface.frames[digit].dirs
    out = np.stack([dirs[0], dirs[0] + dirs[1], dirs[1] + dirs[2]])
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def digit_coordinates(surface: HandSurface, vertices: np.ndarray) -> DigitCoordinates:
    """Digit memberships, joint steps and axis points of each vertex.

    Args:
        surface: the implicit skin (digit frames).
        vertices: (V, 3) rest vertices (metres).
    """
    n = vertices.shape[0]
    dist = np.zeros((n, len(DIGITS)))
    steps = np.zeros((n, len(DIGITS), 3))
    axis_points = np.zeros((n, len(DIGITS), 3))
    for i, name in enumerate(DIGITS):
        frame = surface.frames[name]
        dist[:, i] = digit_field(vertices, frame, creases=False)[0]
        kind = "thumb" if name == "thumb" else "finger"
        normals = joint_normals(surface, name)
        prev = np.ones(n)
        for k in range(3):
            x = ((vertices - frame.points[k]) @ normals[k] - STEP_OFFSET[kind][k]) / STEP_HALF_WIDTH[kind][k]
            prev = np.minimum(prev, smooth_step(x))  # a distal joint never takes more than its parent
            steps[:, i, k] = prev
        best = np.full(n, np.inf)
        for k in range(3):
            a, b = frame.points[k], frame.points[k + 1]
            seg = b - a
            t = np.clip((vertices - a) @ seg / (seg @ seg), 0.0, 1.0)
            c = a + t[:, None] * seg
            dd = np.linalg.norm(vertices - c, axis=1)
            take = dd < best
            best = np.where(take, dd, best)
            axis_points[take, i] = c[take]
    excess = (dist - dist.min(axis=1, keepdims=True)) / MEMBERSHIP_REACH
    kernel = np.where(excess < 1.0, (1.0 - np.minimum(excess, 1.0)) ** 3, 0.0)
    membership = kernel / kernel.sum(axis=1, keepdims=True)
    return DigitCoordinates(membership=membership, steps=steps, axis_points=axis_points)


def skinning_weights(coords: DigitCoordinates) -> np.ndarray:
    """Linear blend skinning weights.

    Args:
        coords: from :func:`digit_coordinates`.

    Returns:
        (V, 16) float64, non-negative, rows sum to 1.
    """
    n = coords.membership.shape[0]
    w = np.zeros((n, NUM_JOINTS))
    for i, name in enumerate(DIGITS):
        mu = coords.membership[:, i]
        a = coords.steps[:, i]
        j1, j2, j3 = DIGIT_JOINTS[name]
        w[:, 0] += mu * (1.0 - a[:, 0])
        w[:, j1] += mu * (a[:, 0] - a[:, 1])
        w[:, j2] += mu * (a[:, 1] - a[:, 2])
        w[:, j3] += mu * a[:, 2]
    # Drop dust so that a joint's influence ends cleanly; then renormalize.
    w[w < 1e-4] = 0.0
    return w / w.sum(axis=1, keepdims=True)


def _fit_convex_weights(points: np.ndarray, target: np.ndarray, prior: np.ndarray) -> np.ndarray | None:
    """Weights ``w >= 0``, ``sum(w) = 1``, ``w @ points = target``, closest to ``prior`` in the least-squares
    sense; an active-set loop that drops negative weights. None if the target is outside what is reachable."""
    free = np.ones(points.shape[0], dtype=bool)
    for _ in range(points.shape[0]):
        a = np.concatenate([points[free].T, np.ones((1, int(free.sum())))], axis=0)  # (4, k)
        b = np.concatenate([target, [1.0]])
        gram = a @ a.T
        if np.linalg.matrix_rank(gram) < 4:
            return None
        w_free = prior[free] + a.T @ np.linalg.solve(gram, b - a @ prior[free])
        w = np.zeros(points.shape[0])
        w[free] = w_free
        if w_free.min() >= 0.0:
            return w
        free &= w >= 0.0
    return None


def joint_regressor(
    surface: HandSurface, vertices: np.ndarray, joints: np.ndarray, coords: DigitCoordinates
) -> np.ndarray:
    """A local, non-negative joint regressor that reproduces ``joints`` from the rest vertices.

    Args:
        surface: the implicit skin (digit frames).
        vertices: (V, 3) rest vertices.
        joints: (16, 3) joint positions to reproduce.
        coords: from :func:`digit_coordinates`.

    Returns:
        (16, V) float64; rows are non-negative and sum to 1, and ``J_regressor @ vertices == joints`` (to float64
        rounding).

    Raises:
        RuntimeError: a joint lies outside the skin around it (a design error).
    """
    reg = np.zeros((NUM_JOINTS, vertices.shape[0]))
    planes: dict[int, tuple[np.ndarray, np.ndarray]] = {0: (np.array([1.0, 0.0, 0.0]), np.ones(vertices.shape[0]))}
    for i, name in enumerate(DIGITS):
        normals = joint_normals(surface, name)
        for k, j in enumerate(DIGIT_JOINTS[name]):
            planes[j] = (normals[k], coords.membership[:, i])
    for j in range(NUM_JOINTS):
        normal, belongs = planes[j]
        offset = (vertices - joints[j]) @ normal
        radius = np.linalg.norm(vertices - joints[j], axis=1)
        for slab in (0.0035, 0.005, 0.0075, 0.011):
            cand = np.flatnonzero((np.abs(offset) < slab) & (belongs > 0.5) & (radius < 0.035))
            if cand.size < 6:
                continue
            prior = np.exp(-((offset[cand] / slab) ** 2))
            w = _fit_convex_weights(vertices[cand], joints[j], prior / prior.sum())
            if w is not None:
                reg[j, cand] = w
                break
        else:
            raise RuntimeError(f"joint regressor: joint {j} is not enclosed by the skin around it")
    return reg
