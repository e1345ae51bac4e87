"""The open hand's skin is a closed, 2-manifold, outward-wound, genus-0 surface that does not cross itself."""

from __future__ import annotations

import numpy as np


def _winding_numbers(points: np.ndarray, v: np.ndarray, f: np.ndarray, chunk: int = 128) -> np.ndarray:
    """Generalized winding number of a closed triangle mesh at each point (Jacobson et al. 2013): the sum of the
    triangles' signed solid angles over 4 pi. 1 inside, 0 outside for a closed, outward-wound, non-crossing mesh."""
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    out = np.zeros(len(points))
    for s in range(0, len(points), chunk):
        p = points[s : s + chunk, None, :]
        A, B, C = a[None] - p, b[None] - p, c[None] - p
        la, lb, lc = (np.linalg.norm(x, axis=-1) for x in (A, B, C))
        det = np.einsum("pfi,pfi->pf", A, np.cross(B, C))
        dot = lambda x, y: np.einsum("pfi,pfi->pf", x, y)  # noqa: E731
        den = la * lb * lc + dot(A, B) * lc + dot(B, C) * la + dot(C, A) * lb
        out[s : s + chunk] = (2.0 * np.arctan2(det, den)).sum(axis=1) / (4.0 * np.pi)
    return out


def test_vertex_and_face_counts(asset):
    assert asset["v_template"].shape[0] == 778
    assert asset["faces"].shape[0] == 1552  # 2 V - 4 for a closed genus-0 triangle mesh


def test_every_edge_has_two_faces_with_opposite_directions(asset):
    f = asset["faces"].astype(np.int64)
    directed = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    codes = directed[:, 0] * 1000 + directed[:, 1]
    assert np.unique(codes).size == codes.size, "a directed edge appears twice: winding is inconsistent"
    reverse = directed[:, 1] * 1000 + directed[:, 0]
    assert np.isin(reverse, codes).all(), "an edge has one face only: the skin is open"


def test_euler_characteristic_is_two_and_every_vertex_is_used(asset):
    f = asset["faces"].astype(np.int64)
    edges = np.unique(np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1), axis=0)
    v = asset["v_template"].shape[0]
    assert v - len(edges) + len(f) == 2
    assert np.unique(f).size == v


def test_each_vertex_has_a_single_fan_of_faces(asset):
    # Edge-manifold is not enough: two cones touching at a vertex pass the edge test but not this one.
    f = asset["faces"].astype(np.int64).tolist()
    nxt = {}
    star: dict[int, list[int]] = {}
    for a, b, c in f:
        for x, y, z in ((a, b, c), (b, c, a), (c, a, b)):
            nxt[(x, y)] = z
            star.setdefault(x, []).append(y)
    for v, outs in star.items():
        w, seen = outs[0], 0
        while True:
            w = nxt[(v, w)]
            seen += 1
            if w == outs[0] or seen > len(outs):
                break
        assert seen == len(outs), f"vertex {v} has more than one fan"


def test_faces_are_wound_outwards(asset):
    v = asset["v_template"].astype(np.float64)
    f = asset["faces"].astype(np.int64)
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    volume = np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0
    assert volume > 2e-4  # cubic metres; an adult hand with a short wrist stump holds a few hundred millilitres
    assert volume < 6e-4


def test_no_degenerate_triangles(asset):
    v = asset["v_template"].astype(np.float64)
    t = v[asset["faces"]]
    area = 0.5 * np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1)
    edges = np.linalg.norm(t - np.roll(t, 1, axis=1), axis=2)
    quality = 4 * np.sqrt(3) * area / (edges**2).sum(axis=1)  # 1 for equilateral
    assert quality.min() > 0.2
    assert edges.min() > 5e-4


def test_skin_does_not_cross_itself_in_rest_pose(asset):
    # Just outside every face the winding number must be 0 and just inside it 1; where the skin crosses itself,
    # points near one sheet lie inside another and count 2 (or -1).
    v = asset["v_template"].astype(np.float64)
    f = asset["faces"].astype(np.int64)
    t = v[f]
    n = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    centre = t.mean(axis=1)
    outside = _winding_numbers(centre + 3e-4 * n, v, f)
    inside = _winding_numbers(centre - 3e-4 * n, v, f)
    np.testing.assert_allclose(outside, 0.0, atol=0.05)
    np.testing.assert_allclose(inside, 1.0, atol=0.05)
