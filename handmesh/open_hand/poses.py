"""Finger poses of the open hand: its mean pose, named demo poses and the pose PCA basis.

Poses are 45 numbers: an axis-angle rotation (radians) for each of MANO's joints 1..15 (index, middle, pinky,
ring, thumb; three joints each), relative to the parent joint, in the rest frame (MANO's convention).

Each digit joint has two anatomical axes, both taken from the rest skeleton:

- flexion: ``cross(nail side, bone)``; a positive angle curls the digit towards its pad (for the fingers that is
  about ``+z``, as in MANO, whose mean pose also curls the fingers with positive z rotations);
- abduction: the nail side; a positive angle swings the digit towards the thumb side of the hand (for the thumb:
  away from the index finger, in the plane of the nail).

The thumb's first joint also has palmar abduction, which lifts the thumb out of the palm's plane towards the palm
side (``cross(bone, -y)``), and a roll about its own bone (opposition).

The PCA basis (``hands_components``) is computed from poses drawn from a simple anatomical distribution
(:func:`sample_poses`: fingers that curl together with individual variation, spread that shrinks as fingers curl,
a thumb that abducts, opposes and flexes) with a fixed seed, as deviations from ``hands_mean``. The first 21 rows
are the components in order of decreasing variance (sign fixed so each row's largest entry is positive); the
sampled poses use no other directions (no twist about a bone, no sideways bend of a middle joint), so the remaining
24 rows complete an orthonormal basis by Gram-Schmidt on the coordinate axes.
"""

from __future__ import annotations

import numpy as np

from handmesh.open_hand.skeleton import DIGIT_JOINTS, DIGITS
from handmesh.open_hand.surface import HandSurface

FINGERS = ("index", "middle", "ring", "pinky")

#: Seed of the pose sampler behind ``hands_components``.
PCA_SEED = 20261123
PCA_SAMPLES = 20000


def joint_axes(surface: HandSurface) -> dict[str, np.ndarray]:
    """Anatomical rotation axes of the 15 digit joints, in the rest frame.

    Returns:
        ``{"flex": (15, 3), "abduct": (15, 3), "palmar": (3,), "roll": (3,)}``: unit flexion and abduction axes per
        joint (row j - 1 for MANO joint j), and the thumb's first joint's palmar abduction and roll axes.
    """
    flex = np.zeros((15, 3))
    abduct = np.zeros((15, 3))
    for name in DIGITS:
        frame = surface.frames[name]
        for k, j in enumerate(DIGIT_JOINTS[name]):
            axis = np.cross(frame.backs[k], frame.dirs[k])
            flex[j - 1] = axis / np.linalg.norm(axis)
            abduct[j - 1] = frame.backs[k]
    thumb = surface.frames["thumb"]
    palmar = np.cross(thumb.dirs[0], np.array([0.0, -1.0, 0.0]))
    return {
        "flex": flex,
        "abduct": abduct,
        "palmar": palmar / np.linalg.norm(palmar),
        "roll": thumb.dirs[0].copy(),
    }


def compose_pose(
    axes: dict[str, np.ndarray],
    flex: np.ndarray,
    abduct: np.ndarray | None = None,
    thumb_palmar: float = 0.0,
    thumb_roll: float = 0.0,
) -> np.ndarray:
    """Turn anatomical angles into the 45 pose numbers (each joint's rotation vector is the sum of its parts).

    Args:
        axes: from :func:`joint_axes`.
        flex: (15,) flexion angles (radians) per joint 1..15.
        abduct: (15,) abduction angles. Default: zeros.
        thumb_palmar: palmar abduction of the thumb's first joint. Default: 0.
        thumb_roll: roll of the thumb's first joint about its bone. Default: 0.

    Returns:
        (45,) axis-angle pose.
    """
    abduct = np.zeros(15) if abduct is None else np.asarray(abduct, dtype=np.float64)
    rv = np.asarray(flex, dtype=np.float64)[:, None] * axes["flex"] + abduct[:, None] * axes["abduct"]
    rv[12] += thumb_palmar * axes["palmar"] + thumb_roll * axes["roll"]
    return rv.reshape(45)


def _per_joint(values: dict[str, tuple[float, float, float]]) -> np.ndarray:
    out = np.zeros(15)
    for name, vals in values.items():
        for k, j in enumerate(DIGIT_JOINTS[name]):
            out[j - 1] = vals[k]
    return out


def named_poses(surface: HandSurface) -> dict[str, np.ndarray]:
    """Absolute finger poses (45,) for the pictures and tests: ``flat``, ``relaxed`` (= ``hands_mean``),
    ``fist``, ``point`` and ``open``."""
    axes = joint_axes(surface)
    relaxed = compose_pose(
        axes,
        _per_joint(
            {
                "index": (0.22, 0.38, 0.22),
                "middle": (0.28, 0.45, 0.25),
                "ring": (0.32, 0.50, 0.28),
                "pinky": (0.38, 0.55, 0.30),
                "thumb": (0.10, 0.15, 0.25),
            }
        ),
        _per_joint({"index": (0.03, 0, 0), "ring": (-0.03, 0, 0), "pinky": (-0.06, 0, 0)}),
        thumb_palmar=0.35,
        thumb_roll=0.15,
    )
    fist = compose_pose(
        axes,
        _per_joint(
            {
                "index": (1.30, 1.65, 0.80),
                "middle": (1.40, 1.65, 0.80),
                "ring": (1.45, 1.65, 0.80),
                "pinky": (1.50, 1.60, 0.75),
                "thumb": (0.80, 0.25, 0.30),
            }
        ),
        _per_joint(
            {
                "index": (-0.12, 0, 0),
                "middle": (0.05, 0, 0),
                "ring": (0.18, 0, 0),
                "pinky": (0.35, 0, 0),
                "thumb": (-0.40, 0, 0),
            }
        ),
        thumb_palmar=0.0,
        thumb_roll=0.0,
    )
    point = compose_pose(
        axes,
        _per_joint(
            {
                "index": (0.0, 0.05, 0.03),
                "middle": (1.40, 1.65, 0.80),
                "ring": (1.45, 1.65, 0.80),
                "pinky": (1.50, 1.60, 0.75),
                "thumb": (0.80, 0.25, 0.30),
            }
        ),
        _per_joint(
            {
                "index": (-0.05, 0, 0),
                "middle": (0.05, 0, 0),
                "ring": (0.18, 0, 0),
                "pinky": (0.35, 0, 0),
                "thumb": (-0.40, 0, 0),
            }
        ),
    )
    open_ = compose_pose(
        axes,
        _per_joint(
            {
                "index": (-0.08, 0.05, 0.03),
                "middle": (-0.08, 0.05, 0.03),
                "ring": (-0.08, 0.05, 0.03),
                "pinky": (-0.08, 0.05, 0.03),
                "thumb": (-0.10, -0.05, 0.0),
            }
        ),
        _per_joint(
            {
                "index": (0.22, 0, 0),
                "middle": (0.04, 0, 0),
                "ring": (-0.14, 0, 0),
                "pinky": (-0.30, 0, 0),
                "thumb": (0.25, 0, 0),
            }
        ),
    )
    return {"flat": np.zeros(45), "relaxed": relaxed, "fist": fist, "point": point, "open": open_}


def sample_poses(surface: HandSurface, n: int = PCA_SAMPLES, seed: int = PCA_SEED) -> np.ndarray:
    """Draw plausible absolute finger poses.

    Args:
        surface: for the joint axes.
        n: number of poses. Default: 20000.
        seed: generator seed (numpy's PCG64 gives the same numbers on every platform). Default: :data:`PCA_SEED`.

    Returns:
        (n, 45) axis-angle poses.
    """
    rng = np.random.default_rng(seed)
    axes = joint_axes(surface)
    out = np.zeros((n, 45))
    grip = rng.uniform(-0.1, 1.0, size=n)  # how closed the hand is overall
    for i in range(n):
        flex = np.zeros(15)
        abduct = np.zeros(15)
        for name, spread in zip(FINGERS, (0.12, 0.0, -0.10, -0.22)):
            curl = np.clip(grip[i] + rng.normal(0.0, 0.25), -0.1, 1.0)
            j1, j2, j3 = DIGIT_JOINTS[name]
            flex[j1 - 1] = curl * 1.45 + rng.normal(0.0, 0.12)
            flex[j2 - 1] = max(curl, 0.0) * 1.70 + abs(rng.normal(0.0, 0.10))
            flex[j3 - 1] = 0.6 * flex[j2 - 1] + rng.normal(0.0, 0.08)
            open_amount = 1.0 - max(curl, 0.0)
            abduct[j1 - 1] = (spread * rng.uniform(0.0, 1.5) + rng.normal(0.0, 0.05)) * open_amount
        t1, t2, t3 = DIGIT_JOINTS["thumb"]
        thumb = np.clip(grip[i] + rng.normal(0.0, 0.3), 0.0, 1.0)
        flex[t1 - 1] = 0.3 * thumb + rng.normal(0.0, 0.1)
        flex[t2 - 1] = 0.6 * thumb + rng.normal(0.0, 0.12)
        flex[t3 - 1] = 0.8 * thumb + rng.normal(0.0, 0.15)
        abduct[t1 - 1] = rng.normal(0.1, 0.15)
        out[i] = compose_pose(
            axes,
            flex,
            abduct,
            thumb_palmar=0.2 + 0.6 * thumb + rng.normal(0.0, 0.1),
            thumb_roll=0.6 * thumb + rng.normal(0.0, 0.1),
        )
    return out


def pose_components(samples: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Principal directions of ``samples - mean``, completed to a basis of all 45 dimensions.

    The sampled poses span fewer than 45 dimensions (a finger's middle joint only flexes, no joint twists about its
    bone), and the eigenvectors of a zero eigenvalue are arbitrary (they differ between linear algebra libraries).
    So the components with variance come first, in decreasing order, and the rest of the basis is completed by
    Gram-Schmidt on the coordinate axes in order, which is the same everywhere.

    Args:
        samples: (N, 45) poses.
        mean: (45,) the pose the components are deviations from.

    Returns:
        (45, 45) orthonormal rows; each leading row's largest-magnitude entry is positive.
    """
    dev = samples - mean
    cov = dev.T @ dev / dev.shape[0]
    vals, vecs = np.linalg.eigh(cov)
    vals, vecs = vals[::-1], vecs[:, ::-1]
    rank = int(np.sum(vals > 1e-9 * vals[0]))
    comps = list(vecs[:, :rank].T)
    # The sign of an eigenvector is arbitrary; fix it so the basis is the same on every platform.
    comps = [c * np.sign(c[np.argmax(np.abs(c))]) for c in comps]
    for axis in np.eye(45):
        if len(comps) == 45:
            break
        v = axis.copy()
        for _ in range(2):  # twice, for orthogonality to rounding precision
            for c in comps:
                v -= (v @ c) * c
        if np.linalg.norm(v) > 0.1:
            comps.append(v / np.linalg.norm(v))
    return np.array(comps)
