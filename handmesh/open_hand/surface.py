"""The open hand's skin as an implicit surface: a smooth union of rounded solids built on the skeleton.

The skin is the zero set of ``f(p)``, negative inside, roughly a signed distance in metres:

- palm: the four finger metacarpals as tapered, slightly flattened capsules from the carpus to the knuckles,
  blended with a flat ellipsoid core, so the back of the hand shows the metacarpals and arches across;
- wrist: a rounded elliptic stump about 2.5 cm long beyond the wrist joint, closed by a dome (the "wrist cap");
- pads: thenar (thumb ball) and hypothenar ellipsoids, and a low ridge under the knuckles;
- each digit: a chain of tapered round cones (slightly flattened front to back) from its first joint to a round
  tip, widened at the knuckles, with shallow creases on the palm side at the joints and at the base of each finger.

Solids are merged with the polynomial smooth minimum (Quilez, "smooth minimum", 2013), which grows the webs
between fingers and the fleshy joins between palm and digits. The mesh is built elsewhere and projected onto this
surface (:meth:`HandSurface.project`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from handmesh.open_hand.skeleton import DIGITS, DORSAL, RADIAL, Skeleton

#: Front-to-back squash of the digits' cross-sections (fingers are a little wider than deep).
DIGIT_DEPTH_RATIO = 0.92


def smooth_min(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth minimum of two distance fields; equals ``min(a, b)`` where they differ by more than ``k``.

    Args:
        a, b: (N,) field values (metres).
        k: blend radius (metres).

    Returns:
        (N,) blended field.
    """
    h = np.maximum(k - np.abs(a - b), 0.0) / k
    return np.minimum(a, b) - h * h * k * 0.25


def _smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _normalize(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _rounded_box(q: np.ndarray, half: np.ndarray, rounding: np.ndarray) -> np.ndarray:
    """Signed distance to a box with rounded edges, in box-centred coordinates.

    Args:
        q: (N, 3) points relative to the box centre, box axes aligned with the coordinate axes.
        half: (N, 3) half extents (per point, so the box may vary smoothly in space).
        rounding: (N,) edge rounding radius.

    Returns:
        (N,) distance (metres).
    """
    d = np.abs(q) - (half - rounding[:, None])
    outside = np.linalg.norm(np.maximum(d, 0.0), axis=1)
    inside = np.minimum(d.max(axis=1), 0.0)
    return outside + inside - rounding


def _ellipsoid(p: np.ndarray, centre: np.ndarray, axes: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Approximate signed distance to an ellipsoid (the bound of Quilez's ``sdEllipsoid``).

    Args:
        p: (N, 3) points.
        centre: (3,) centre.
        axes: (3, 3) rows are the ellipsoid's unit axes.
        radii: (3,) semi-axes along those rows.
    """
    q = (p - centre) @ axes.T
    k0 = np.linalg.norm(q / radii, axis=1)
    k1 = np.linalg.norm(q / (radii * radii), axis=1)
    return k0 * (k0 - 1.0) / np.maximum(k1, 1e-12)


@dataclass(frozen=True)
class DigitFrame:
    """Per-bone frames of one digit's chain (rest pose).

    Attributes:
        points: (4, 3) joints and tip-sphere centre, metres.
        radii: (4,) skin radius at those points.
        dirs: (3, 3) unit bone directions.
        backs: (3, 3) unit "nail side" directions, orthogonal to ``dirs``.
        arc: (4,) arc length of each point from the first joint.
    """

    points: np.ndarray
    radii: np.ndarray
    dirs: np.ndarray
    backs: np.ndarray
    arc: np.ndarray


def digit_frame(skeleton: Skeleton, digit: str, radii: tuple[float, float, float, float]) -> DigitFrame:
    """Frames of one digit, with the chain ending at the centre of the round tip.

    The thumb is rolled about its own axis (its nail faces partly away from the palm, towards ``+y`` and outwards),
    the fingers' nails face ``+y``.

    Args:
        skeleton: rest joints and tips.
        digit: one of :data:`DIGITS`.
        radii: skin radius at the three joints and at the tip.
    """
    chain = skeleton.chain(digit)
    r = np.asarray(radii, dtype=np.float64)
    dirs = _normalize(np.diff(chain, axis=0))
    pts = chain.copy()
    pts[3] = chain[3] - r[3] * dirs[2]  # the tip sphere's centre, so the skin ends at the tip point
    backs = np.zeros((3, 3))
    for k in range(3):
        up = DORSAL.copy()
        if digit == "thumb":
            outward = np.cross(DORSAL, dirs[k])  # in the palm plane, away from the fingers
            up = _normalize(DORSAL + 0.9 * _normalize(outward))
        up = up - np.dot(up, dirs[k]) * dirs[k]
        backs[k] = up / np.linalg.norm(up)
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))])
    return DigitFrame(points=pts, radii=r, dirs=dirs, backs=backs, arc=arc)


def digit_field(p: np.ndarray, frame: DigitFrame, creases: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distance field of one digit (a chain of tapered, slightly flattened round cones).

    Args:
        p: (N, 3) points (metres).
        frame: the digit's frames.
        creases: add the palm-side creases and the knuckle swellings.

    Returns:
        ``(d, s, side)``: (N,) distance (metres), (N,) arc-length coordinate of the nearest axis point (metres from
        the digit's first joint), (N,) cosine of the angle between the radial offset and the nail side.
    """
    n = p.shape[0]
    best = np.full(n, np.inf)
    best_s = np.zeros(n)
    best_side = np.zeros(n)
    for k in range(3):
        a, b = frame.points[k], frame.points[k + 1]
        seg = b - a
        length = np.linalg.norm(seg)
        t = np.clip((p - a) @ seg / (length * length), 0.0, 1.0)
        q = p - (a + t[:, None] * seg)
        qa = q @ frame.dirs[k]
        qn = q @ frame.backs[k]
        ql = q @ np.cross(frame.dirs[k], frame.backs[k])
        rho = np.sqrt(qa * qa + ql * ql + (qn / DIGIT_DEPTH_RATIO) ** 2)
        radius = frame.radii[k] + t * (frame.radii[k + 1] - frame.radii[k])
        s = frame.arc[k] + t * length
        if creases:
            # Knuckles are the widest part of a finger; the shaft between them is slightly waisted.
            for j in (1, 2):
                radius = radius + 0.0006 * np.exp(-(((s - frame.arc[j]) / 0.0045) ** 2))
        d = rho - radius
        side = qn / np.maximum(np.sqrt(qa * qa + ql * ql + qn * qn), 1e-12)
        take = d < best
        best = np.where(take, d, best)
        best_s = np.where(take, s, best_s)
        best_side = np.where(take, side, best_side)
    if creases:
        palmar = _smoothstep(-0.15, -0.65, best_side)
        # Flexion creases at the two distal joints and at the base of the digit (the skin fold where it meets the
        # palm, about a third of the way along the first bone).
        spots = ((frame.arc[1], 0.0007, 0.0022), (frame.arc[2], 0.0006, 0.0020), (0.33 * frame.arc[1], 0.0005, 0.0025))
        for centre, depth, width in spots:
            best = best + depth * palmar * np.exp(-(((best_s - centre) / width) ** 2))
    return best, best_s, best_side


def round_cone(p: np.ndarray, a: np.ndarray, b: np.ndarray, ra: float, rb: float, squash: float = 1.0) -> np.ndarray:
    """Approximate signed distance to a tapered capsule from ``a`` (radius ``ra``) to ``b`` (radius ``rb``).

    Args:
        p: (N, 3) points.
        a, b: (3,) end centres.
        ra, rb: end radii (metres).
        squash: scale of the capsule's thickness along ``y`` (dorsal-palmar), 1 for round.

    Returns:
        (N,) distance (metres).
    """
    seg = b - a
    t = np.clip((p - a) @ seg / (seg @ seg), 0.0, 1.0)
    q = p - (a + t[:, None] * seg)
    q = q * np.array([1.0, 1.0 / squash, 1.0])
    return np.linalg.norm(q, axis=1) - (ra + t * (rb - ra))


@dataclass(frozen=True)
class PalmParams:
    """Design numbers of the palm, wrist and pads (metres).

    Attributes:
        carpal: (4, 3) proximal ends of the index, middle, ring and little finger metacarpals.
        carpal_radius: radius of the metacarpal cones at their proximal ends.
        head_scale: radius of the metacarpal heads relative to the finger's base radius.
        squash: dorsal-palmar thickness scale of the metacarpal cones.
        core_centre, core_radii: flattened ellipsoid filling the middle of the palm.
        stump: (x start, x end, half width in z, half thickness in y) of the wrist stump, which ends in a dome.
        thenar_radii: semi-axes of the thumb ball (along the thumb metacarpal, up, sideways).
        hypothenar_centre, hypothenar_radii: the pad on the little-finger side of the palm.
        pad_offset: (distal, palmar) offset of the pad under the knuckles from the knuckle joints.
        pad_radius: radius of that pad.
    """

    carpal: tuple[tuple[float, float, float], ...] = (
        (0.0830, 0.0065, 0.0165),
        (0.0845, 0.0075, 0.0045),
        (0.0815, 0.0055, -0.0075),
        (0.0785, 0.0025, -0.0185),
    )
    carpal_radius: float = 0.0105
    head_scale: float = 1.04
    squash: float = 0.88
    core_centre: tuple[float, float, float] = (0.0500, 0.0005, -0.0030)
    core_radii: tuple[float, float, float] = (0.0380, 0.0115, 0.0320)
    stump: tuple[float, float, float, float] = (0.0800, 0.1205, 0.0250, 0.0165)
    thenar_radii: tuple[float, float, float] = (0.0225, 0.0105, 0.0115)
    hypothenar_centre: tuple[float, float, float] = (0.0590, -0.0030, -0.0285)
    hypothenar_radii: tuple[float, float, float] = (0.0260, 0.0105, 0.0095)
    pad_offset: tuple[float, float] = (0.0030, 0.0050)
    pad_radius: float = 0.0066


class HandSurface:
    """Implicit skin of the open hand in rest pose.

    Args:
        skeleton: rest joints and tips (metres).
        digit_radii: per digit name, the skin radius at its three joints and its tip.
        palm: palm design numbers. Default: :class:`PalmParams` ().
    """

    def __init__(
        self,
        skeleton: Skeleton,
        digit_radii: dict[str, tuple[float, float, float, float]],
        palm: PalmParams | None = None,
    ) -> None:
        self.skeleton = skeleton
        self.palm = PalmParams() if palm is None else palm
        self.frames = {d: digit_frame(skeleton, d, digit_radii[d]) for d in DIGITS}

    # ----------------------------------------------------------------------------------------------------------
    # palm
    def metacarpal_field(self, p: np.ndarray) -> np.ndarray:
        """The four finger metacarpals as tapered capsules from the carpus to the knuckles, blended, (N,)."""
        pp = self.palm
        out = None
        for carpal, digit in zip(pp.carpal, ("index", "middle", "ring", "pinky")):
            frame = self.frames[digit]
            d = round_cone(
                p, np.asarray(carpal), frame.points[0], pp.carpal_radius, pp.head_scale * frame.radii[0], pp.squash
            )
            out = d if out is None else smooth_min(out, d, 0.012)
        return out

    def stump_field(self, p: np.ndarray) -> np.ndarray:
        """Distance field of the wrist stump ending in a dome, (N,) metres."""
        x0, x1, hz, hy = self.palm.stump
        j0 = self.skeleton.joints[0]
        centre = np.array([0.5 * (x0 + x1), j0[1] - 0.001, j0[2] - 0.002])
        half = np.array([0.5 * (x1 - x0), hy, hz])
        n = p.shape[0]
        return _rounded_box(p - centre, np.broadcast_to(half, (n, 3)), np.full(n, 0.97 * hy))

    def pads_field(self, p: np.ndarray) -> np.ndarray:
        """Thenar (thumb ball), hypothenar and the pad under the knuckles, (N,) metres."""
        pp = self.palm
        j = self.skeleton.joints
        thumb_dir = _normalize(j[14] - j[13])
        side = _normalize(np.cross(DORSAL, thumb_dir))
        up = np.cross(thumb_dir, side)
        centre = 0.55 * j[13] + 0.45 * j[14] + np.array([0.004, -0.001, -0.009])
        thenar = _ellipsoid(p, centre, np.stack([thumb_dir, up, side]), np.asarray(pp.thenar_radii))
        axes = np.stack([np.array([1.0, 0.0, 0.0]), DORSAL, RADIAL])
        hypothenar = _ellipsoid(p, np.asarray(pp.hypothenar_centre), axes, np.asarray(pp.hypothenar_radii))
        # Pad under the knuckles: a capsule chain through the four knuckles, shifted towards the fingers and palm.
        offset = np.array([-pp.pad_offset[0], -pp.pad_offset[1], 0.0])
        knuckles = [self.frames[d].points[0] + offset for d in ("index", "middle", "ring", "pinky")]
        pad = None
        for a, b in zip(knuckles[:-1], knuckles[1:]):
            d = round_cone(p, a, b, pp.pad_radius, pp.pad_radius)
            pad = d if pad is None else smooth_min(pad, d, 0.004)
        return smooth_min(smooth_min(thenar, hypothenar, 0.006), pad, 0.006)

    def palm_field(self, p: np.ndarray) -> np.ndarray:
        """Palm and wrist without the digits, (N,) metres."""
        pp = self.palm
        core = _ellipsoid(p, np.asarray(pp.core_centre), np.eye(3), np.asarray(pp.core_radii))
        body = smooth_min(self.metacarpal_field(p), core, 0.012)
        body = smooth_min(body, self.stump_field(p), 0.014)
        return smooth_min(body, self.pads_field(p), 0.009)

    # ----------------------------------------------------------------------------------------------------------
    def field(self, p: np.ndarray) -> np.ndarray:
        """Implicit skin ``f(p)``: negative inside, zero on the skin, about the distance in metres.

        Args:
            p: (N, 3) points (metres).

        Returns:
            (N,) values.
        """
        body = self.palm_field(p)
        for digit in ("index", "middle", "ring", "pinky"):
            body = smooth_min(body, digit_field(p, self.frames[digit])[0], 0.005)
        return smooth_min(body, digit_field(p, self.frames["thumb"])[0], 0.008)

    def gradient(self, p: np.ndarray, h: float = 1e-6) -> np.ndarray:
        """Central-difference gradient of :meth:`field`, (N, 3)."""
        g = np.zeros_like(p)
        for axis in range(3):
            e = np.zeros(3)
            e[axis] = h
            g[:, axis] = (self.field(p + e) - self.field(p - e)) / (2 * h)
        return g

    def normals(self, p: np.ndarray) -> np.ndarray:
        """Outward unit normals of the level set through ``p``, (N, 3)."""
        return _normalize(self.gradient(p))

    def project(self, p: np.ndarray, iterations: int = 8, max_step: float = 0.002) -> np.ndarray:
        """Move points onto the skin by Newton steps along the field's gradient.

        Args:
            p: (N, 3) points near the skin (metres).
            iterations: Newton steps. Default: 8.
            max_step: largest move per step (metres), so a point never jumps to another digit. Default: 0.002.

        Returns:
            (N, 3) projected points.
        """
        p = p.copy()
        for _ in range(iterations):
            f = self.field(p)
            g = self.gradient(p)
            step = -(f / np.maximum(np.einsum("ij,ij->i", g, g), 1e-12))[:, None] * g
            norm = np.linalg.norm(step, axis=1, keepdims=True)
            p = p + step * np.minimum(1.0, max_step / np.maximum(norm, 1e-15))
        return p
