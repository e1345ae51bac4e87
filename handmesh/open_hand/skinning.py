"""Skinning weights and the joint regressor of the open hand.

Weights (:func:`skinning_weights`):

1. every vertex picks which digits it belongs to, from its distance to each digit's tube with a compact smooth
   kernel (a finger's skin does not listen to another finger; the skin of a web is shared by the two beside it);
2. its share of the palm and of each digit comes from a smooth step across the digit's first joint (a plane
   through the joint, normal to the bisector of the bones that meet there);
3. these shares are averaged over mesh neighbours a few times, which blends the webs, and cut back to the vertex's
   own digit where it is firmly on one;
4. a digit's share is split among its three joints by smooth steps across its second and third joints, so a
   phalanx follows the joint at its proximal end with transitions about a centimetre wide, and the fingertip
   follows the distal joint. Palm and wrist vertices follow the wrist (joint 0).

Rows are non-negative and sum to 1.

Joint regressor: joint j is a convex combination of the vertices on a thin slab of skin around the joint (the ring
of vertices that encloses it), with weights as close as possible to a Gaussian of the distance to the joint's plane
under the constraint that they reproduce the joint exactly. Rows are non-negative, sum to 1 and are local.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from handmesh.open_hand.skeleton import DIGIT_JOINTS, DIGITS, NUM_JOINTS
from handmesh.open_hand.surface import HandSurface, digit_field

#: Half width (metres) and offset of the smooth step at each digit's first, second and third joint. The step at a
#: digit's base is wide so palm skin near the knuckles follows the finger part of the way.
STEP_HALF_WIDTH = {
    "finger": (0.0105, 0.0070, 0.0060),
    "thumb": (0.0120, 0.0080, 0.0065),
}
STEP_OFFSET = {
    "finger": (0.0015, 0.0, 0.0),
    "thumb": (0.0100, 0.0, 0.0),
}

#: Steps of neighbour averaging applied to the weights (see :func:`skinning_weights`).
SMOOTHING_STEPS = 4

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
        wide_membership: (V, 5) the same with a kernel twice as wide: a vertex counts as firmly on one digit only
            when it is well clear of the seam between two.
        steps: (V, 5, 3) the smooth step past each of the digit's three joints, non-increasing along the digit.
        axis_points: (V, 5, 3) nearest point on each digit's axis (metres).
    """

    membership: np.ndarray
    wide_membership: np.ndarray
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
    # The planes through a digit's second and third joints extend forever; only skin near the digit may listen
    # to them (else a speck of a digit's share on far-away palm skin would go to its distal joint).
    near = smooth_step((0.010 - dist) / 0.005)  # 1 within 5 mm of the digit's skin, 0 beyond 15 mm
    steps[:, :, 1:] *= near[:, :, None]

    def kernel(reach: float) -> np.ndarray:
        excess = np.minimum((dist - dist.min(axis=1, keepdims=True)) / reach, 1.0)
        k = (1.0 - excess) ** 3
        return k / k.sum(axis=1, keepdims=True)

    return DigitCoordinates(
        membership=kernel(MEMBERSHIP_REACH),
        wide_membership=kernel(2.0 * MEMBERSHIP_REACH),
        steps=steps,
        axis_points=axis_points,
    )


def skinning_weights(coords: DigitCoordinates, faces: np.ndarray, smoothing: int = SMOOTHING_STEPS) -> np.ndarray:
    """Linear blend skinning weights.

    Args:
        coords: from :func:`digit_coordinates`.
        faces: (F, 3) the mesh, whose edges the palm/digit shares are smoothed along.
        smoothing: steps of averaging each vertex's shares with its neighbours'. Default: 4.

    Returns:
        (V, 16) float64, non-negative, rows sum to 1.
    """
    n = coords.membership.shape[0]
    # 1. How much of each vertex goes with the palm (column 0) or with each digit (columns 1..5).
    shares = np.zeros((n, 1 + len(DIGITS)))
    shares[:, 1:] = coords.membership * coords.steps[:, :, 0]
    shares[:, 0] = 1.0 - shares[:, 1:].sum(axis=1)
    # 2. Where digit membership switches (the webs, the skin between thumb and index) these shares change abruptly
    # from one vertex to the next; a few steps of averaging over mesh neighbours (a discrete heat flow) smooth them.
    # Paths between two digits run through the webs only, so a digit still does not reach the next one beyond its
    # base. The split of a digit's share among its joints (step 3) is not smoothed, so the joints' transitions
    # along the digit stay as narrow as designed.
    edges = np.unique(np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1), axis=0)
    valence = np.bincount(edges.ravel(), minlength=n)[:, None]
    for _ in range(smoothing):
        acc = np.zeros_like(shares)
        np.add.at(acc, edges[:, 0], shares[edges[:, 1]])
        np.add.at(acc, edges[:, 1], shares[edges[:, 0]])
        shares = 0.5 * shares + 0.5 * acc / valence
    # 3. Skin that is firmly on one digit (past the transition at its base) keeps no share of another digit that
    # the smoothing carried over from a web; the palm and the webs keep theirs.
    firm = smooth_step((coords.wide_membership * coords.steps[:, :, 0] - 0.75) / 0.25)  # (V, 5)
    for i in range(len(DIGITS)):
        shares[:, 1 + i] *= np.clip(1.0 - (firm.sum(axis=1) - firm[:, i]), 0.0, 1.0)
    shares /= shares.sum(axis=1, keepdims=True)
    # 4. Split each digit's share among its three joints by the smooth steps across its second and third joints.
    w = np.zeros((n, NUM_JOINTS))
    w[:, 0] = shares[:, 0]
    for i, name in enumerate(DIGITS):
        a = coords.steps[:, i]
        j1, j2, j3 = DIGIT_JOINTS[name]
        share = shares[:, 1 + i]
        w[:, j1] = share * (1.0 - a[:, 1])
        w[:, j2] = share * (a[:, 1] - a[:, 2])
        w[:, j3] = share * a[:, 2]
    # Drop dust so that a joint's influence ends cleanly; then renormalize.
    w[w < 1e-3] = 0.0
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
