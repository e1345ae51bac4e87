"""A coarse polygon cage of the hand, box-modelled around the implicit skin.

The palm is a tube of 10-vertex rings running from a domed wrist cap to the knuckles. Its distal end is closed by
four quads, one per finger; each finger is extruded from its quad as a tube of 5-vertex rings (the first band
holds one pentagon) ending in a pentagonal cap at the tip. The thumb is extruded the same way from a quad on the
thumb side of the palm. Extrusion keeps the surface a topological sphere (genus 0) and every face wound outwards;
one Catmull-Clark step then turns it into an all-quad mesh (:mod:`handmesh.open_hand.remesh`).

Ring vertices are ordered right-handedly about the tube's direction of travel, so a side face
``(ring_i[j], ring_i[j+1], ring_i+1[j+1], ring_i+1[j])`` faces out of the tube. Each cage vertex is placed along a
ray from the ring's centre, a fixed factor beyond where the ray leaves the skin, so the cage hugs the implicit
surface whatever its design numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from handmesh.open_hand.skeleton import DIGIT_JOINTS, DIGITS
from handmesh.open_hand.surface import HandSurface

#: Finger columns across the knuckle end of the palm, radial (index) to ulnar (little finger).
FINGER_COLUMNS = ("index", "middle", "ring", "pinky")

#: Positions of the palm rings between the wrist end (0) and the knuckles (1).
PALM_FRACTIONS = (0.0, 0.27, 0.52, 0.77, 1.0)

#: The thumb grows from the thumb-side quad between these two rings (indices into the list of all palm rings,
#: whose first two are the wrist stump's).
THUMB_RINGS = (3, 4)

#: Stations of a digit's cage rings as (bone index, fraction along that bone); the last ring, the smaller one
#: on the round tip, is closed by a pentagonal cap.
DIGIT_STATIONS = ((0, 0.5), (1, 0.0), (2, 0.0), (2, 0.5), (2, 0.93))

#: Cage vertices sit this factor beyond the skin along their rays: subdivision pulls a coarse cage inwards.
CAGE_INFLATE = 1.1


@dataclass
class Cage:
    """Polygon control mesh.

    Attributes:
        vertices: (N, 3) metres.
        faces: list of vertex-id lists (quads and pentagons), outward winding.
        vertex_digit: (N,) int, index into :data:`DIGITS` of the digit a vertex was extruded for, -1 for the palm.
    """

    vertices: np.ndarray
    faces: list[list[int]]
    vertex_digit: np.ndarray


def ray_exit(surface: HandSurface, origins: np.ndarray, dirs: np.ndarray, t_max: float = 0.06) -> np.ndarray:
    """Distance along each ray to where it first leaves the skin, (N,) metres.

    Args:
        surface: the implicit skin.
        origins: (N, 3) ray origins, inside the skin.
        dirs: (N, 3) unit directions.
        t_max: search range (metres). Default: 0.06.
    """
    ts = np.arange(0.0, t_max, 0.0005)
    n = origins.shape[0]
    vals = surface.field((origins[:, None, :] + ts[None, :, None] * dirs[:, None, :]).reshape(-1, 3)).reshape(n, -1)
    outside = vals > 0
    first = np.where(outside.any(axis=1), outside.argmax(axis=1), len(ts) - 1)
    lo, hi = ts[np.maximum(first - 1, 0)], ts[first]
    for _ in range(30):  # bisection on the bracket
        mid = 0.5 * (lo + hi)
        out = surface.field(origins + mid[:, None] * dirs) > 0
        hi = np.where(out, mid, hi)
        lo = np.where(out, lo, mid)
    return 0.5 * (lo + hi)


class _Builder:
    def __init__(self, surface: HandSurface) -> None:
        self.surface = surface
        self.vertices: list[np.ndarray] = []
        self.digit: list[int] = []
        self.faces: list[list[int]] = []

    def add_ring(self, centres: np.ndarray, dirs: np.ndarray, digit: int, inflate: float = CAGE_INFLATE) -> list[int]:
        dirs = dirs / np.linalg.norm(dirs, axis=1, keepdims=True)
        t = ray_exit(self.surface, centres, dirs)
        start = len(self.vertices)
        for c, d, ti in zip(centres, dirs, t):
            self.vertices.append(c + inflate * ti * d)
            self.digit.append(digit)
        return list(range(start, start + len(centres)))

    def bridge(self, ring_a: list[int], ring_b: list[int], match: list[int] | None = None) -> None:
        """Faces between two rings; ``match[j]`` is the vertex of ``ring_b`` that ``ring_a[j]`` connects to
        (increasing), so a ring may grow (extra vertices of ``ring_b`` make pentagons). Default: identity."""
        n = len(ring_a)
        match = list(range(n)) if match is None else match
        m = len(ring_b)
        for j in range(n):
            k = (j + 1) % n
            lo, hi = match[j], match[k] if k else match[0] + m
            upper = [ring_b[i % m] for i in range(hi, lo - 1, -1)]
            self.faces.append([ring_a[j], ring_a[k], *upper])


def _palm_columns(surface: HandSurface, fraction: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ring centres of the palm at ``fraction`` of the way from the wrist end to the knuckles.

    Returns:
        ``(centres (5, 3), dorsal dirs (5, 3), palmar dirs (5, 3))`` from the thumb side to the little-finger side.
    """
    j = surface.skeleton.joints
    mcp = np.array([j[DIGIT_JOINTS[d][0]] for d in FINGER_COLUMNS])
    radial = mcp[0] + np.array([0.004, 0.0, 0.5 * surface.frames["index"].radii[0]])
    ulnar = mcp[3] + np.array([0.004, 0.0, -0.5 * surface.frames["pinky"].radii[0]])
    knuckle = np.concatenate([radial[None], 0.5 * (mcp[:-1] + mcp[1:]), ulnar[None]], axis=0)
    knuckle[1:4, 0] += 0.002  # the webs between the knuckles lie a little back from them
    wrist_x = surface.palm.stump[0] + 0.014
    wrist = np.stack([np.full(5, wrist_x), np.full(5, j[0, 1] - 0.001), np.linspace(0.018, -0.020, 5)], axis=1)
    centres = wrist + fraction * (knuckle - wrist)
    tilt = np.array([0.9, 0.35, 0.0, -0.35, -0.9])  # edge columns look out sideways as well
    dorsal = np.stack([np.zeros(5), np.ones(5), tilt], axis=1)
    palmar = np.stack([np.zeros(5), -np.ones(5), tilt], axis=1)
    return centres, dorsal, palmar


def _stump_ring(surface: HandSurface, x: float, builder: _Builder) -> list[int]:
    j0 = surface.skeleton.joints[0]
    centre = np.array([x, j0[1] - 0.001, j0[2] - 0.002])
    angles = np.deg2rad([70.0, 35.0, 0.0, -35.0, -70.0])
    dorsal = np.stack([np.zeros(5), np.cos(angles), np.sin(angles)], axis=1)
    palmar = np.stack([np.zeros(5), -np.cos(angles), np.sin(angles)], axis=1)[::-1]
    dirs = np.concatenate([dorsal, palmar], axis=0)
    return builder.add_ring(np.broadcast_to(centre, (10, 3)), dirs, -1)


def _palm_ring(surface: HandSurface, fraction: float, builder: _Builder) -> list[int]:
    centres, dorsal, palmar = _palm_columns(surface, fraction)
    return builder.add_ring(
        np.concatenate([centres, centres[::-1]], axis=0), np.concatenate([dorsal, palmar[::-1]], axis=0), -1
    )


def _digit_ring(surface: HandSurface, digit: str, station: tuple[int, float], first_angle: float) -> tuple:
    """Centres and directions of one pentagonal ring of a digit (regular pentagon starting at ``first_angle``)."""
    frame = surface.frames[digit]
    bone, frac = station
    a, b = frame.points[bone], frame.points[bone + 1]
    if bone == 2:
        b = b + frame.radii[3] * frame.dirs[2]  # fractions of the last bone run to the skin at the tip
    centre = a + frac * (b - a)
    d = frame.dirs[bone] if frac > 0 else frame.dirs[bone] + frame.dirs[max(bone - 1, 0)]
    d = d / np.linalg.norm(d)
    back = frame.backs[bone] - np.dot(frame.backs[bone], d) * d
    back /= np.linalg.norm(back)
    lat = np.cross(d, back)
    angles = first_angle + 2 * np.pi / 5 * np.arange(5)
    dirs = np.cos(angles)[:, None] * back + np.sin(angles)[:, None] * lat
    return np.broadcast_to(centre, (5, 3)), dirs


def build_cage(surface: HandSurface) -> Cage:
    """Build the polygon cage of the hand around the implicit skin.

    Args:
        surface: the implicit skin; its skeleton places the rings.

    Returns:
        The :class:`Cage` (195 vertices, 188 faces).
    """
    bld = _Builder(surface)
    x0, x1 = surface.palm.stump[0], surface.palm.stump[1]
    rings = [_stump_ring(surface, x1 - 0.006, bld), _stump_ring(surface, x0 + 0.027, bld)]
    rings += [_palm_ring(surface, f, bld) for f in PALM_FRACTIONS]
    # Wrist cap: the first ring's 10-gon split into four quads, wound to face +x (out of the wrist).
    dorsal, palmar = rings[0][:5], rings[0][5:][::-1]
    for i in range(4):
        bld.faces.append([dorsal[i + 1], dorsal[i], palmar[i], palmar[i + 1]])
    for a, b in zip(rings[:-1], rings[1:]):
        bld.bridge(a, b)

    def extrude(digit: str, base: list[int]) -> None:
        frame = surface.frames[digit]
        rel = bld.vertices[base[0]] - frame.points[0]
        lat = np.cross(frame.dirs[0], frame.backs[0])
        # The pentagon's first corner sits 9 degrees past the base quad's first corner; the extra corner falls
        # between the base's third and fourth corners (the palm side of a finger).
        first = np.arctan2(rel @ lat, rel @ frame.backs[0]) + np.deg2rad(9.0)
        ring = base
        for k, station in enumerate(DIGIT_STATIONS):
            centres, dirs = _digit_ring(surface, digit, station, first)
            nxt = bld.add_ring(centres, dirs, DIGITS.index(digit))
            bld.bridge(ring, nxt, match=[0, 1, 2, 4] if k == 0 else None)
            ring = nxt
        bld.faces.append(list(ring))

    knuckles = rings[-1]
    dorsal, palmar = knuckles[:5], knuckles[5:][::-1]
    for i, digit in enumerate(FINGER_COLUMNS):
        extrude(digit, [dorsal[i], dorsal[i + 1], palmar[i + 1], palmar[i]])
    # The thumb grows from the side face (last vertex, first vertex) of the bridge between two palm rings.
    ra, rb = rings[THUMB_RINGS[0]], rings[THUMB_RINGS[1]]
    side = [ra[9], ra[0], rb[0], rb[9]]
    bld.faces.remove(side)
    extrude("thumb", side)
    return Cage(
        vertices=np.array(bld.vertices),
        faces=bld.faces,
        vertex_digit=np.array(bld.digit, dtype=np.int64),
    )
