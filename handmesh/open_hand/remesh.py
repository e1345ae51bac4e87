"""Mesh operations the open hand is built with: Catmull-Clark subdivision, triangulation, local edits for
isotropic remeshing (edge split, collapse, flip), tangential relaxation onto an implicit surface, topology checks.

All functions are deterministic (no randomness; ties broken by vertex ids) and keep a closed, consistently wound
triangle mesh closed and consistently wound.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def catmull_clark(
    vertices: np.ndarray, faces: list[list[int]], labels: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """One step of Catmull-Clark subdivision of a closed polygon mesh (Catmull and Clark, CAD 1978).

    Args:
        vertices: (N, 3).
        faces: polygons as vertex-id lists, consistently wound.
        labels: optional (N,) int per vertex; new edge and face points take the largest label of their parents
            (digits win over the palm, -1).

    Returns:
        ``(vertices (N + E + F, 3), quads (sum of face sizes, 4), labels or None)``: old vertices first, then edge
        points (edges sorted by vertex ids), then face points. Winding is preserved.
    """
    n = vertices.shape[0]
    directed = np.array([(f[i], f[(i + 1) % len(f)]) for f in faces for i in range(len(f))], dtype=np.int64)
    owner = np.array([fi for fi, f in enumerate(faces) for _ in f], dtype=np.int64)
    edges, inverse = np.unique(np.sort(directed, axis=1), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    n_edges = edges.shape[0]
    if np.any(np.bincount(inverse, minlength=n_edges) != 2):
        raise ValueError("catmull_clark: the mesh is not closed and 2-manifold")
    face_pts = np.array([vertices[f].mean(axis=0) for f in faces])
    edge_face_sum = np.zeros((n_edges, 3))
    np.add.at(edge_face_sum, inverse, face_pts[owner])
    edge_pts = (vertices[edges[:, 0]] + vertices[edges[:, 1]] + edge_face_sum) / 4
    # Vertex points: (Q + 2R + (n - 3) S) / n, n the valence.
    valence = np.bincount(edges.ravel(), minlength=n).astype(np.float64)
    face_sum = np.zeros((n, 3))
    face_cnt = np.zeros(n)
    np.add.at(face_sum, directed[:, 0], face_pts[owner])
    np.add.at(face_cnt, directed[:, 0], 1.0)
    mid = 0.5 * (vertices[edges[:, 0]] + vertices[edges[:, 1]])
    mid_sum = np.zeros((n, 3))
    np.add.at(mid_sum, edges[:, 0], mid)
    np.add.at(mid_sum, edges[:, 1], mid)
    q = face_sum / face_cnt[:, None]
    r = mid_sum / valence[:, None]
    vert_pts = (q + 2 * r + (valence - 3)[:, None] * vertices) / valence[:, None]
    new_vertices = np.concatenate([vert_pts, edge_pts, face_pts], axis=0)
    quads = []
    pos = 0
    for fi, f in enumerate(faces):
        k = len(f)
        e_ids = n + inverse[pos : pos + k]  # edge i runs from corner i to corner i + 1
        for i in range(k):
            quads.append((f[i], e_ids[i], n + n_edges + fi, e_ids[i - 1]))
        pos += k
    new_labels = None
    if labels is not None:
        e_lab = np.maximum(labels[edges[:, 0]], labels[edges[:, 1]])
        f_lab = np.array([labels[f].max() for f in faces])
        new_labels = np.concatenate([labels, e_lab, f_lab])
    return new_vertices, np.array(quads, dtype=np.int64), new_labels


def triangulate_quads(vertices: np.ndarray, quads: np.ndarray) -> np.ndarray:
    """Split each quad along its shorter diagonal, keeping the winding.

    Args:
        vertices: (N, 3).
        quads: (M, 4) int.

    Returns:
        (2M, 3) int64 triangles.
    """
    a, b, c, d = quads.T
    ac = np.linalg.norm(vertices[a] - vertices[c], axis=1)
    bd = np.linalg.norm(vertices[b] - vertices[d], axis=1)
    use_ac = ac <= bd
    t1 = np.where(use_ac[:, None], np.stack([a, b, c], 1), np.stack([a, b, d], 1))
    t2 = np.where(use_ac[:, None], np.stack([a, c, d], 1), np.stack([b, c, d], 1))
    return np.stack([t1, t2], axis=1).reshape(-1, 3).astype(np.int64)


class EditableMesh:
    """A closed triangle mesh with local edits (split, collapse, flip) that keep it closed, manifold and
    consistently wound; used for isotropic remeshing (Botsch and Kobbelt, "A remeshing approach to multiresolution
    modeling", SGP 2004).

    Args:
        vertices: (N, 3).
        faces: (F, 3) int, closed and consistently wound.
        labels: (N,) int, carried through the edits (a split vertex takes the smaller label of its edge; a
            collapse keeps the surviving vertex's label).
    """

    def __init__(self, vertices: np.ndarray, faces: np.ndarray, labels: np.ndarray) -> None:
        self.v = [np.asarray(p, dtype=np.float64) for p in vertices]
        self.f: list[list[int] | None] = [list(t) for t in faces.tolist()]
        self.labels = list(labels.tolist())
        self.alive = [True] * len(self.v)
        self.vf: list[set[int]] = [set() for _ in self.v]
        for i, t in enumerate(self.f):
            for x in t:
                self.vf[x].add(i)

    # -- queries ---------------------------------------------------------------------------------------------
    def edges(self) -> list[tuple[int, int]]:
        """Undirected edges (a < b), sorted."""
        out = set()
        for t in self.f:
            if t is not None:
                for i in range(3):
                    a, b = t[i], t[(i + 1) % 3]
                    out.add((a, b) if a < b else (b, a))
        return sorted(out)

    def length(self, a: int, b: int) -> float:
        return float(np.linalg.norm(self.v[a] - self.v[b]))

    def neighbours(self, a: int) -> set[int]:
        return {x for fi in self.vf[a] for x in self.f[fi] if x != a}

    def _wings(self, a: int, b: int) -> tuple[int, int, int, int]:
        """Faces (f1 with a->b, f2 with b->a) of an edge and their opposite vertices (c, d)."""
        f1 = f2 = c = d = -1
        for fi in self.vf[a] & self.vf[b]:
            t = self.f[fi]
            i = t.index(a)
            if t[(i + 1) % 3] == b:
                f1, c = fi, t[(i + 2) % 3]
            else:
                f2, d = fi, t[(i + 1) % 3]
        return f1, f2, c, d

    def _set_face(self, fi: int, tri: list[int]) -> None:
        old = self.f[fi]
        if old is not None:
            for x in old:
                self.vf[x].discard(fi)
        self.f[fi] = tri
        for x in tri:
            self.vf[x].add(fi)

    # -- edits -----------------------------------------------------------------------------------------------
    def split(self, a: int, b: int, position: np.ndarray) -> int:
        """Split edge (a, b) at ``position``; returns the new vertex."""
        f1, f2, c, d = self._wings(a, b)
        m = len(self.v)
        self.v.append(np.asarray(position, dtype=np.float64))
        self.labels.append(min(self.labels[a], self.labels[b]))
        self.alive.append(True)
        self.vf.append(set())
        self._set_face(f1, [a, m, c])
        self._set_face(f2, [b, m, d])
        self.f.append(None)
        self._set_face(len(self.f) - 1, [m, b, c])
        self.f.append(None)
        self._set_face(len(self.f) - 1, [m, a, d])
        return m

    def collapse(self, a: int, b: int, position: np.ndarray, max_length: float) -> bool:
        """Merge vertex ``a`` into ``b`` (moved to ``position``) if that keeps the mesh manifold, does not fold a
        face over (normals turn by less than 60 degrees) and creates no edge longer than ``max_length``."""
        f1, f2, c, d = self._wings(a, b)
        if self.neighbours(a) & self.neighbours(b) != {c, d}:
            return False  # link condition
        if len(self.vf[c]) <= 3 or len(self.vf[d]) <= 3:
            return False
        moved = (self.vf[a] | self.vf[b]) - {f1, f2}
        for fi in moved:
            t = self.f[fi]
            old = _face_normal(np.array([self.v[x] for x in t]))
            new = _face_normal(np.array([position if x in (a, b) else self.v[x] for x in t]))
            if old @ new < 0.5:
                return False
        for x in self.neighbours(a) | self.neighbours(b):
            if x not in (a, b) and np.linalg.norm(self.v[x] - position) > max_length:
                return False
        for fi in (f1, f2):
            for x in self.f[fi]:
                self.vf[x].discard(fi)
            self.f[fi] = None
        for fi in list(self.vf[a]):
            self._set_face(fi, [b if x == a else x for x in self.f[fi]])
        self.v[b] = np.asarray(position, dtype=np.float64)
        self.alive[a] = False
        self.vf[a] = set()
        return True

    def flip(self, a: int, b: int) -> bool:
        """Flip edge (a, b) if that brings the four vertices' valences closer to 6 without folding the surface."""
        f1, f2, c, d = self._wings(a, b)
        if c == d or d in self.neighbours(c):
            return False
        val = {x: len(self.vf[x]) for x in (a, b, c, d)}
        before = sum((val[x] - 6) ** 2 for x in (a, b, c, d))
        after = (val[a] - 7) ** 2 + (val[b] - 7) ** 2 + (val[c] - 5) ** 2 + (val[d] - 5) ** 2
        if after >= before or val[a] <= 3 or val[b] <= 3:
            return False
        p = self.v
        old1, old2 = _face_normal(np.array([p[a], p[b], p[c]])), _face_normal(np.array([p[b], p[a], p[d]]))
        new1, new2 = _face_normal(np.array([p[c], p[d], p[b]])), _face_normal(np.array([p[d], p[c], p[a]]))
        if min(new1 @ new2, new1 @ old1, new2 @ old2, new1 @ old2, new2 @ old1) < np.cos(np.pi / 4):
            return False
        self._set_face(f1, [c, d, b])
        self._set_face(f2, [d, c, a])
        return True

    def compact(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(vertices, faces, labels)`` without the removed vertices and faces (order otherwise kept)."""
        keep = np.flatnonzero(self.alive)
        remap = -np.ones(len(self.v), dtype=np.int64)
        remap[keep] = np.arange(keep.size)
        faces = np.array([remap[t] for t in self.f if t is not None], dtype=np.int64)
        return np.array([self.v[i] for i in keep]), faces, np.array(self.labels, dtype=np.int64)[keep]


def _face_normal(p: np.ndarray) -> np.ndarray:
    n = np.cross(p[1] - p[0], p[2] - p[0])
    return n / max(np.linalg.norm(n), 1e-18)


def _key(length: float) -> float:
    # Lengths are rounded before they are compared so that a last-bit difference between platforms cannot change
    # which edge an edit picks.
    return round(length, 9)


def remesh_region(
    mesh: EditableMesh,
    target: float,
    editable: Callable[[int, int], bool],
    place: Callable[[np.ndarray], np.ndarray],
) -> None:
    """One pass of isotropic remeshing on the editable edges: split those longer than 4/3 of ``target``, then
    collapse those shorter than 4/5 of it, then flip towards valence 6.

    Args:
        mesh: edited in place.
        target: wanted edge length (metres).
        editable: ``editable(a, b)`` says whether edge (a, b) may be split, collapsed or flipped.
        place: maps a (3,) point onto the surface.
    """
    for a, b in sorted(mesh.edges(), key=lambda e: (-_key(mesh.length(*e)), e)):
        if mesh.alive[a] and mesh.alive[b] and b in mesh.neighbours(a) and editable(a, b):
            if mesh.length(a, b) > 4.0 / 3.0 * target:
                mesh.split(a, b, place(0.5 * (mesh.v[a] + mesh.v[b])))
    for a, b in sorted(mesh.edges(), key=lambda e: (_key(mesh.length(*e)), e)):
        if mesh.alive[a] and mesh.alive[b] and b in mesh.neighbours(a) and editable(a, b):
            if mesh.length(a, b) < 0.8 * target:
                collapse_edge(mesh, a, b, place, 4.0 / 3.0 * target)
    flip_edges(mesh, editable)


def collapse_edge(
    mesh: EditableMesh, a: int, b: int, place: Callable[[np.ndarray], np.ndarray], max_length: float
) -> bool:
    """Collapse edge (a, b) towards the vertex with the larger label (digit vertices keep their place), else to
    the projected midpoint. Returns whether it happened."""
    la, lb = mesh.labels[a], mesh.labels[b]
    if la > lb:
        return mesh.collapse(b, a, mesh.v[a], max_length)
    if lb > la:
        return mesh.collapse(a, b, mesh.v[b], max_length)
    return mesh.collapse(a, b, place(0.5 * (mesh.v[a] + mesh.v[b])), max_length)


def flip_edges(mesh: EditableMesh, editable: Callable[[int, int], bool], passes: int = 3) -> None:
    """Flip editable edges towards valence 6 until nothing changes (at most ``passes`` sweeps)."""
    for _ in range(passes):
        changed = False
        for a, b in mesh.edges():
            if b in mesh.neighbours(a) and editable(a, b) and mesh.flip(a, b):
                changed = True
        if not changed:
            break


def set_vertex_count(
    mesh: EditableMesh,
    count: int,
    editable: Callable[[int, int], bool],
    place: Callable[[np.ndarray], np.ndarray],
    max_length: float,
) -> None:
    """Split the longest or collapse the shortest editable edges until exactly ``count`` vertices are alive."""
    while sum(mesh.alive) != count:
        grow = sum(mesh.alive) < count
        order = sorted(mesh.edges(), key=lambda e: ((-1 if grow else 1) * _key(mesh.length(*e)), e))
        for a, b in order:
            if not editable(a, b):
                continue
            if grow:
                mesh.split(a, b, place(0.5 * (mesh.v[a] + mesh.v[b])))
                break
            if collapse_edge(mesh, a, b, place, max_length):
                break
        else:
            raise RuntimeError("set_vertex_count: no edge can be edited")


def vertex_neighbours(faces: np.ndarray, n_vertices: int) -> tuple[np.ndarray, np.ndarray]:
    """Unique undirected edges of a triangle mesh as ``(edges (E, 2) sorted, valence (N,))``."""
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]], axis=0)
    e = np.unique(np.sort(e, axis=1), axis=0)
    valence = np.bincount(e.ravel(), minlength=n_vertices)
    return e, valence


def relax_on_surface(
    vertices: np.ndarray,
    faces: np.ndarray,
    project: Callable[[np.ndarray], np.ndarray],
    normals: Callable[[np.ndarray], np.ndarray],
    iterations: int = 10,
    step: float = 0.5,
    pinned: np.ndarray | None = None,
    axial: np.ndarray | None = None,
) -> np.ndarray:
    """Even out vertex spacing by tangential Laplacian smoothing, re-projecting onto the surface after each step.

    Args:
        vertices: (N, 3) on the surface.
        faces: (F, 3) int.
        project: maps (N, 3) points onto the surface.
        normals: maps (N, 3) surface points to unit normals.
        iterations: smoothing steps. Default: 10.
        step: fraction of the move towards the neighbours' centroid per step. Default: 0.5.
        pinned: optional (N,) bool, vertices that do not move.
        axial: optional (N, 3) unit vectors; the move along them is removed, so rings of vertices across a digit
            stay where they were put (on the creases at the joints).

    Returns:
        (N, 3) relaxed vertices.
    """
    n = vertices.shape[0]
    edges, valence = vertex_neighbours(faces, n)
    v = vertices.copy()
    for _ in range(iterations):
        acc = np.zeros_like(v)
        np.add.at(acc, edges[:, 0], v[edges[:, 1]])
        np.add.at(acc, edges[:, 1], v[edges[:, 0]])
        move = acc / valence[:, None] - v
        nrm = normals(v)
        move -= np.einsum("ij,ij->i", move, nrm)[:, None] * nrm
        if axial is not None:
            move -= np.einsum("ij,ij->i", move, axial)[:, None] * axial
        if pinned is not None:
            move[pinned] = 0.0
        v = project(v + step * move)
    return v


def check_closed_manifold(faces: np.ndarray, n_vertices: int) -> None:
    """Raise ``ValueError`` unless every edge is shared by exactly two faces with opposite directions, every
    vertex is used, each vertex's faces form a single fan, and the Euler characteristic is 2 (a sphere)."""
    directed = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]], axis=0)
    uniq, counts = np.unique(directed, axis=0, return_counts=True)
    if np.any(counts != 1):
        raise ValueError("mesh: a directed edge appears twice (inconsistent winding or non-manifold edge)")
    rev = set(map(tuple, directed[:, ::-1].tolist()))
    if any(tuple(e) not in rev for e in uniq.tolist()):
        raise ValueError("mesh: an edge has only one face (the surface is open)")
    if np.unique(faces).size != n_vertices:
        raise ValueError("mesh: some vertices are not used by any face")
    n_edges = uniq.shape[0] // 2
    chi = n_vertices - n_edges + faces.shape[0]
    if chi != 2:
        raise ValueError(f"mesh: Euler characteristic {chi}, expected 2")
    # One fan per vertex: walking around a vertex through its faces must visit all of them.
    nxt: dict[tuple[int, int], int] = {}
    for a, b, c in faces.tolist():
        nxt[(a, b)] = c
        nxt[(b, c)] = a
        nxt[(c, a)] = b
    star: dict[int, list[int]] = {}
    for a, b in directed.tolist():
        star.setdefault(a, []).append(b)
    for v, outs in star.items():
        seen, w = 0, outs[0]
        while True:
            w = nxt[(v, w)]
            seen += 1
            if w == outs[0] or seen > len(outs):
                break
        if seen != len(outs):
            raise ValueError(f"mesh: vertex {v} is non-manifold (its faces form more than one fan)")


def signed_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    """Volume enclosed by a closed mesh (cubic metres); positive when faces are wound outwards."""
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)
