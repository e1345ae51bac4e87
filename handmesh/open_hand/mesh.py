"""The open hand's rest mesh: exactly 778 vertices on a closed, genus-0 skin.

Steps (all deterministic):

1. build the polygon cage around the skeleton (:mod:`~handmesh.open_hand.cage`): 195 vertices, 188 faces;
2. one Catmull-Clark step (V + E + F = 764 vertices, all quads) and projection onto the implicit skin;
3. triangulate each quad along its shorter diagonal (F = 2 V - 4);
4. remesh the palm and wrist isotropically (split long edges, collapse short ones, flip towards valence 6, relax
   tangentially on the skin) to a target edge length, a few rounds; the digits keep the rings the cage gave them
   (on the joints, where the creases are), and only relax across the digit, not along it;
5. split or collapse palm edges until exactly 778 vertices remain (F = 2 V - 4 = 1552 on a sphere), flip, relax,
   and check that the result is closed, 2-manifold and of genus 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from handmesh.open_hand import remesh
from handmesh.open_hand.cage import build_cage
from handmesh.open_hand.skeleton import DIGITS
from handmesh.open_hand.surface import HandSurface

#: Vertex count of MANO, kept so that FreiHAND-format vertex files work with either model.
NUM_VERTICES = 778


@dataclass(frozen=True)
class RestMesh:
    """The rest-pose mesh.

    Attributes:
        vertices: (778, 3) float64 metres.
        faces: (1552, 3) int64, wound outwards.
        digit: (778,) int64 index into :data:`DIGITS` of the digit a vertex was grown for, -1 for palm and wrist.
        tip_ids: (5,) int64 vertex at the end of each digit (thumb, index, middle, ring, pinky).
    """

    vertices: np.ndarray
    faces: np.ndarray
    digit: np.ndarray
    tip_ids: np.ndarray


def _digit_axes(surface: HandSurface, vertices: np.ndarray, digit: np.ndarray) -> np.ndarray:
    """Unit axis of the digit bone nearest each digit vertex, zero for palm vertices, (N, 3)."""
    axial = np.zeros_like(vertices)
    for i, name in enumerate(DIGITS):
        sel = digit == i
        if not np.any(sel):
            continue
        frame = surface.frames[name]
        p = vertices[sel]
        best = np.full(p.shape[0], np.inf)
        out = np.zeros_like(p)
        for k in range(3):
            a, b = frame.points[k], frame.points[k + 1]
            seg = b - a
            t = np.clip((p - a) @ seg / (seg @ seg), 0.0, 1.0)
            dist = np.linalg.norm(p - (a + t[:, None] * seg), axis=1)
            take = dist < best
            best = np.where(take, dist, best)
            # Beyond the centre of the round tip the vertices may slide towards the tip: that rounds it.
            out[take] = np.where((k == 2) & (t[take, None] >= 1.0), 0.0, frame.dirs[k])
        axial[sel] = out
    return axial


def find_tip_ids(surface: HandSurface, vertices: np.ndarray, digit: np.ndarray) -> np.ndarray:
    """The vertex farthest along each digit's last bone, among that digit's vertices, (5,) int64."""
    ids = []
    for i, name in enumerate(DIGITS):
        frame = surface.frames[name]
        reach = (vertices - frame.points[2]) @ frame.dirs[2]
        reach = np.where(digit == i, reach, -np.inf)
        ids.append(int(np.argmax(reach)))
    return np.array(ids, dtype=np.int64)


def build_rest_mesh(surface: HandSurface, palm_edge: float = 0.0090, rounds: int = 4) -> RestMesh:
    """Build the rest mesh on the implicit skin.

    Args:
        surface: the implicit skin.
        palm_edge: target edge length on the palm and wrist (metres). Default: 0.009.
        rounds: remeshing rounds (split, collapse, flip, relax). Default: 4.

    Returns:
        The :class:`RestMesh`.
    """
    cage = build_cage(surface)
    v, quads, digit = remesh.catmull_clark(cage.vertices, cage.faces, cage.vertex_digit)
    v = surface.project(v, iterations=12)
    faces = remesh.triangulate_quads(v, quads)

    def place(p: np.ndarray) -> np.ndarray:
        # New vertices start at edge midpoints; the relaxation that follows every round projects all at once.
        return p

    def relax(v: np.ndarray, faces: np.ndarray, digit: np.ndarray, iterations: int) -> np.ndarray:
        pinned = np.zeros(v.shape[0], dtype=bool)
        pinned[find_tip_ids(surface, v, digit)] = True
        return remesh.relax_on_surface(
            v,
            faces,
            project=lambda p: surface.project(p, iterations=4),
            normals=surface.normals,
            iterations=iterations,
            pinned=pinned,
            axial=_digit_axes(surface, v, digit),
        )

    # The digits keep the ring structure the cage gave them (rings on the joints); the palm, where the cage is
    # coarse and uneven, is remeshed to even triangles.
    for _ in range(rounds):
        em = remesh.EditableMesh(v, faces, digit)
        remesh.remesh_region(em, palm_edge, lambda a, b, em=em: em.labels[a] < 0 or em.labels[b] < 0, place)
        v, faces, digit = em.compact()
        v = relax(v, faces, digit, 4)
    em = remesh.EditableMesh(v, faces, digit)
    editable = lambda a, b: em.labels[a] < 0 or em.labels[b] < 0  # noqa: E731
    remesh.set_vertex_count(em, NUM_VERTICES, editable, place, 4.0 / 3.0 * palm_edge)
    remesh.flip_edges(em, editable)
    v, faces, digit = em.compact()
    v = relax(v, faces, digit, 10)
    remesh.check_closed_manifold(faces, v.shape[0])
    if remesh.signed_volume(v, faces) <= 0:
        raise RuntimeError("open hand mesh: faces are wound inwards")
    return RestMesh(vertices=v, faces=faces, digit=digit, tip_ids=find_tip_ids(surface, v, digit))
