"""Simple closed meshes wound outward: boxes and UV ellipsoids, for tests, benchmarks and synthetic occluders."""

from __future__ import annotations

import numpy as np


def box(
    size: tuple[float, float, float] = (1.0, 1.0, 1.0), center: tuple[float, float, float] = (0.0, 0.0, 0.0)
) -> tuple[np.ndarray, np.ndarray]:
    """An axis-aligned box.

    Args:
        size: ``(3,)`` edge lengths along x, y, z (metres). Default: unit cube.
        center: ``(3,)`` centre. Default: the origin.

    Returns:
        ``vertices (8, 3)`` float32 and ``faces (12, 3)`` int32, wound outward.
    """
    s = np.asarray(size, np.float64) / 2.0
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], np.float64)
    verts = corners * s + np.asarray(center, np.float64)
    # Corner index = 4*[x>0] + 2*[y>0] + [z>0]; each quad is listed counter-clockwise seen from outside.
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    faces = [f for a, b, c, d in quads for f in ((a, b, c), (a, c, d))]
    return verts.astype(np.float32), np.array(faces, np.int32)


def ellipsoid(
    radii: tuple[float, float, float] = (1.0, 1.0, 1.0),
    center: tuple[float, float, float] = (0.0, 0.0, 0.0),
    rings: int = 25,
    segments: int = 32,
) -> tuple[np.ndarray, np.ndarray]:
    """A UV ellipsoid (latitude/longitude grid with a vertex at each pole).

    The defaults give 770 vertices and 1,536 faces, close to a hand mesh (778 and 1,538-1,552).

    Args:
        radii: ``(3,)`` semi-axes along x, y, z (metres). Default: unit sphere.
        center: ``(3,)`` centre. Default: the origin.
        rings: latitude bands, >= 2. Default: 25.
        segments: longitude segments, >= 3. Default: 32.

    Returns:
        ``vertices (2 + (rings - 1) * segments, 3)`` float32 and ``faces (2 * segments * (rings - 1), 3)`` int32,
        wound outward.
    """
    if rings < 2 or segments < 3:
        raise ValueError(f"ellipsoid needs rings >= 2 and segments >= 3, got {rings}, {segments}")
    theta = np.pi * np.arange(1, rings) / rings  # polar angle of the inner latitude circles
    phi = 2.0 * np.pi * np.arange(segments) / segments
    st, ct = np.sin(theta)[:, None], np.cos(theta)[:, None]
    ring_pts = np.stack([st * np.cos(phi), st * np.sin(phi), np.broadcast_to(ct, (rings - 1, segments))], -1)
    unit = np.concatenate([[[0.0, 0.0, 1.0]], ring_pts.reshape(-1, 3), [[0.0, 0.0, -1.0]]])
    verts = unit * np.asarray(radii, np.float64) + np.asarray(center, np.float64)
    top, bottom = 0, len(unit) - 1

    def vid(r: int, s: int) -> int:
        return 1 + r * segments + (s % segments)

    faces = []
    for s in range(segments):
        faces.append((top, vid(0, s), vid(0, s + 1)))
        for r in range(rings - 2):
            a, b, c, d = vid(r, s), vid(r + 1, s), vid(r + 1, s + 1), vid(r, s + 1)
            faces += [(a, b, c), (a, c, d)]
        faces.append((bottom, vid(rings - 2, s + 1), vid(rings - 2, s)))
    return verts.astype(np.float32), np.array(faces, np.int32)
