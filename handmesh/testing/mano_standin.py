"""A MANO-format stand-in model, for tests and benchmarks on machines without the licensed MANO files.

:func:`standin_mano_dict` returns arrays with MANO's keys, shapes and dtypes (778 vertices, 1538 faces open at the
wrist, 16 joints, 10 betas, 135 pose features, a 45 x 45 pose basis) and random but well-conditioned content:

* the mesh is a closed, flattened tube (48 rings of 16 vertices from the wrist at y = 0 to y = 0.18 m, closed at the
  top by a ring of 9 and a pole); removing the 14-triangle wrist cap leaves MANO's 16-edge wrist opening;
* each of five angular sectors is a "finger" (thumb, index, middle, ring, pinky around the tube) with MANO's three
  joints at three heights; skinning weights and pose blend shapes are finger-local, so bending one finger joint
  moves only that finger's vertices;
* the joint regressor averages vertex rings (rows sum to 1), the pose basis is orthonormal.

:func:`write_mano_style_pickle` writes such a dict the way the official files are written: a Python-2 protocol-2
pickle whose byte strings are py2 ``str``, arrays reconstructed through ``numpy.core.multiarray``, chosen arrays
wrapped in chumpy objects pickled under ``chumpy.ch`` / ``chumpy.reordering``, and ``J_regressor`` a sparse matrix
pickled as ``scipy.sparse.csc.csc_matrix``. scipy is needed to write it (not to read it).
"""

from __future__ import annotations

import os
import pickle
import struct
from pathlib import Path
from typing import Any

import numpy as np

from handmesh.hand_model.keypoints import FINGER_JOINTS_16, MANO_PARENTS
from handmesh.hand_model.mano_pickle import mano_dict_to_arrays
from handmesh.hand_model.model_file import HandModelArrays
from handmesh.utils.atomic import atomic_write_bytes

__all__ = [
    "STANDIN_FINGER_SECTORS",
    "standin_mano_dict",
    "standin_model_arrays",
    "standin_closed_faces",
    "standin_finger_vertices",
    "write_mano_style_pickle",
]

_RINGS, _SEG = 48, 16  # tube rings x vertices per ring
_TOP_RING = 9  # the ring closing the top, then a pole: 48 * 16 + 9 + 1 = 778 vertices
_LENGTH = 0.18  # wrist to top, metres
_WRIST_RINGS = 8  # rings 0..7 follow the wrist only
_BAND_START = (8, 21, 34)  # first ring of each finger joint's band (MCP/CMC, PIP/MCP, DIP/IP)
# Sector k covers tube segments [start, end): thumb, index, middle, ring, pinky around the tube.
STANDIN_FINGER_SECTORS: dict[str, tuple[int, int]] = {
    "thumb": (0, 3),
    "index": (3, 6),
    "middle": (6, 9),
    "ring": (9, 12),
    "pinky": (12, 16),
}


def _ring_strip(a: list[int], b: list[int]) -> list[tuple[int, int, int]]:
    """Triangles between two closed rings (both in increasing angle from 0), consistently oriented."""
    n, m = len(a), len(b)
    tris: list[tuple[int, int, int]] = []
    i = j = 0
    while i < n or j < m:
        # Advance on the ring whose next vertex comes first in angle.
        if j >= m or (i < n and (i + 1) / n <= (j + 1) / m):
            tris.append((a[i], a[(i + 1) % n], b[j % m]))
            i += 1
        else:
            tris.append((a[i % n], b[(j + 1) % m], b[j]))
            j += 1
    return tris


def _closed_faces_and_rings() -> tuple[np.ndarray, list[list[int]]]:
    rings = [list(range(r * _SEG, (r + 1) * _SEG)) for r in range(_RINGS)]
    top = list(range(_RINGS * _SEG, _RINGS * _SEG + _TOP_RING))
    pole = _RINGS * _SEG + _TOP_RING
    tris: list[tuple[int, int, int]] = []
    for r in range(_RINGS - 1):
        tris += _ring_strip(rings[r], rings[r + 1])
    tris += _ring_strip(rings[-1], top)
    tris += [(top[j], top[(j + 1) % _TOP_RING], pole) for j in range(_TOP_RING)]
    # The wrist cap last, so dropping the last 14 triangles gives MANO's open wrist.
    a = rings[0]
    tris += [(a[0], a[k + 1], a[k]) for k in range(1, _SEG - 1)]
    return np.asarray(tris, dtype=np.int64), rings + [top, [pole]]


def _template(rng: np.random.Generator) -> np.ndarray:
    verts = np.zeros((778, 3))
    for r in range(_RINGS):
        y = _LENGTH * r / (_RINGS - 0.5)
        phi = 2 * np.pi * np.arange(_SEG) / _SEG
        # A flattened tube, narrowing towards the top, with a little smooth random wobble.
        width = 0.042 * (1.0 - 0.35 * (y / _LENGTH) ** 2) * (1 + 0.03 * np.sin(3 * phi + rng.uniform(0, 6)))
        ring = np.stack([width * np.cos(phi), np.full(_SEG, y), 0.4 * width * np.sin(phi)], axis=1)
        verts[r * _SEG : (r + 1) * _SEG] = ring
    phi = 2 * np.pi * np.arange(_TOP_RING) / _TOP_RING
    verts[768:777] = np.stack([0.015 * np.cos(phi), np.full(_TOP_RING, _LENGTH + 0.004), 0.006 * np.sin(phi)], 1)
    verts[777] = (0.0, _LENGTH + 0.008, 0.0)
    return verts


def _sector_of(angle_fraction: float) -> str:
    k = int(np.floor(angle_fraction * _SEG)) % _SEG
    return next(f for f, (s, e) in STANDIN_FINGER_SECTORS.items() if s <= k < e)


def _vertex_layout() -> tuple[list[str], list[int]]:
    """Per vertex: its finger sector and its height in rings (the top ring and pole count as ring 48)."""
    finger, ring = [], []
    for r in range(_RINGS):
        for k in range(_SEG):
            finger.append(_sector_of(k / _SEG))
            ring.append(r)
    for j in range(_TOP_RING):
        finger.append(_sector_of(j / _TOP_RING))
        ring.append(_RINGS)
    finger.append("middle")
    ring.append(_RINGS)
    return finger, ring


def standin_finger_vertices() -> dict[str, np.ndarray]:
    """Vertex ids whose skinning weights involve each finger's joints (``{"index": ids, ...}``)."""
    weights = _weights()
    return {f: np.nonzero(weights[:, list(js)].sum(1) > 0)[0] for f, js in FINGER_JOINTS_16.items()}


def _weights() -> np.ndarray:
    finger, ring = _vertex_layout()
    w = np.zeros((778, 16))
    for v, (f, r) in enumerate(zip(finger, ring)):
        if r < _WRIST_RINGS:
            w[v, 0] = 1.0
            continue
        band = max(b for b, s in enumerate(_BAND_START) if r >= s)
        joint = FINGER_JOINTS_16[f][band]
        parent = MANO_PARENTS[joint]
        own = float(np.clip(0.5 + (r - _BAND_START[band]) / 6.0, 0.5, 1.0))  # blend with the parent just above a joint
        w[v, joint] += own
        w[v, parent] += 1.0 - own
    return w


def _regressor(rings: list[list[int]]) -> np.ndarray:
    finger, _ = _vertex_layout()
    J = np.zeros((16, 778))
    J[0, rings[4]] = 1.0 / _SEG
    for f, joints in FINGER_JOINTS_16.items():
        for band, joint in enumerate(joints):
            ids = [v for v in rings[_BAND_START[band]] if finger[v] == f]
            J[joint, ids] = 1.0 / len(ids)
    return J


def standin_closed_faces() -> np.ndarray:
    """``(1552, 3)`` int64 triangles of the closed stand-in surface, wound outward (its first 1538 are ``f``)."""
    faces, _ = _closed_faces_and_rings()
    verts = _template(np.random.default_rng(0))
    tri = verts[faces]
    signed_volume = np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6.0
    return faces if signed_volume > 0 else faces[:, [0, 2, 1]]


def standin_mano_dict(seed: int = 0) -> dict[str, Any]:
    """Arrays in MANO's pickle layout (keys, shapes, dtypes), dense ``J_regressor``, for a right hand.

    Args:
        seed: seeds the random content (template wobble, blend shapes, pose basis). Default: 0.

    Returns:
        ``v_template (778,3) f8, f (1538,3) u4, shapedirs (778,3,10), posedirs (778,3,135), J_regressor (16,778),
        weights (778,16), kintree_table (2,16) i8, hands_components (45,45), hands_mean (45,), hands_coeffs
        (1554,45), J (16,3)``, and the strings ``bs_style``, ``bs_type``.
    """
    rng = np.random.default_rng(seed)
    _, rings = _closed_faces_and_rings()
    faces = standin_closed_faces()
    v_template = _template(rng)
    weights = _weights()
    J_regressor = _regressor(rings)
    # Shape blend shapes: smooth fields of the rest positions, a few millimetres per unit beta.
    basis = np.concatenate([v_template / 0.1, np.sin(v_template / 0.05), np.ones((778, 1))], axis=1)  # (778, 7)
    shapedirs = np.einsum("vb,bck->vck", basis, rng.normal(scale=1.5e-3, size=(7, 3, 10)))
    # Pose blend shapes: joint j's 9 features move only the vertices that joint j skins.
    posedirs = np.zeros((778, 3, 135))
    for j in range(1, 16):
        ids = np.nonzero(weights[:, j] > 0)[0]
        posedirs[ids, :, 9 * (j - 1) : 9 * j] = rng.normal(scale=2e-3, size=(len(ids), 3, 9))
    hands_components = np.linalg.qr(rng.normal(size=(45, 45)))[0].T  # orthonormal rows
    kintree = np.array([[4294967295] + list(MANO_PARENTS[1:]), list(range(16))], dtype=np.int64)
    return {
        "v_template": v_template,
        "f": faces[:1538].astype(np.uint32),
        "shapedirs": shapedirs,
        "posedirs": posedirs,
        "J_regressor": J_regressor,
        "weights": weights,
        "kintree_table": kintree,
        "hands_components": hands_components,
        "hands_mean": rng.normal(scale=0.15, size=45),
        "hands_coeffs": rng.normal(scale=0.5, size=(1554, 45)),
        "J": J_regressor @ v_template,
        "bs_style": "lbs",
        "bs_type": "lrotmin",
    }


def standin_model_arrays(seed: int = 0, *, tip_vertex_ids: tuple[int, ...] | None = None) -> HandModelArrays:
    """The stand-in as :class:`HandModelArrays` (right hand, ``name="mano"``).

    Args:
        seed: see :func:`standin_mano_dict`. Default: 0.
        tip_vertex_ids: Default: None (the top-ring vertex at the middle of each finger's sector).
    """
    if tip_vertex_ids is None:
        finger, ring = _vertex_layout()
        tip_vertex_ids = tuple(
            next(v for v in range(768, 777) if finger[v] == f) for f in ("thumb", "index", "middle", "ring", "pinky")
        )
    return mano_dict_to_arrays(standin_mano_dict(seed), "stand-in", is_right=True, tip_vertex_ids=tip_vertex_ids)


# ------------------------------------------------------------------------------------------------------------------
# Writing pickles the way the official (Python 2, chumpy, old scipy) files are written


class _PickledAs:
    """Base for objects pickled under a foreign class name; the state is the instance ``__dict__``."""

    def __init__(self, **state: Any) -> None:
        self.__dict__.update(state)


def _chumpy_state(**terms: Any) -> dict[str, Any]:
    # What chumpy's Ch.__getstate__ leaves: its terms plus bookkeeping fields (_parents and _cache removed).
    return {
        **terms,
        "_dirty_vars": set(terms),
        "_itr": None,
        "_make_dense": False,
        "_make_sparse": False,
        "_depends_on_deps": {},
    }


class _Py2Pickler(pickle._Pickler):  # the pure-Python pickler exposes the opcode writers we need
    """Protocol 2 with py2 ``str`` for text and bytes, and chosen globals written under given module paths."""

    dispatch = dict(pickle._Pickler.dispatch)

    def __init__(self, file: Any, global_names: dict[int, tuple[str, str]]) -> None:
        super().__init__(file, protocol=2)
        self._global_names = global_names

    def _save_py2_string(self, data: bytes, obj: Any) -> None:
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    def save_bytes(self, obj: bytes) -> None:
        self._save_py2_string(obj, obj)

    def save_str(self, obj: str) -> None:
        self._save_py2_string(obj.encode("latin1"), obj)

    dispatch[bytes] = save_bytes
    dispatch[str] = save_str

    def save_global(self, obj: Any, name: str | None = None) -> None:
        if id(obj) in self._global_names:
            module, qualname = self._global_names[id(obj)]
            self.write(pickle.GLOBAL + f"{module}\n{qualname}\n".encode())
            self.memoize(obj)
            return
        super().save_global(obj, name)


def write_mano_style_pickle(
    path: str | os.PathLike,
    data: dict[str, Any],
    *,
    chumpy_keys: tuple[str, ...] = ("shapedirs",),
    reshape_keys: tuple[str, ...] = (),
    sparse_module: str = "scipy.sparse.csc",
) -> Path:
    """Write ``data`` as an official-style MANO pickle (Python 2 protocol 2, chumpy objects, sparse regressor).

    Args:
        path: destination (written atomically).
        data: MANO-layout arrays, e.g. from :func:`standin_mano_dict` (``J_regressor`` dense or scipy sparse).
        chumpy_keys: arrays stored as ``chumpy.ch.Ch``. Default: ``("shapedirs",)`` as in MANO's files.
        reshape_keys: arrays stored as ``chumpy.reordering.Reshape`` of a flat ``Ch``. Default: none.
        sparse_module: module path the csc matrix is pickled under. Default: ``"scipy.sparse.csc"`` (scipy < 1.8).

    Returns:
        The path written.
    """
    import scipy.sparse

    ch_cls = type("Ch", (_PickledAs,), {})
    reshape_cls = type("Reshape", (_PickledAs,), {})
    csc_cls = type("csc_matrix", (_PickledAs,), {})
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key == "J_regressor":
            csc = scipy.sparse.csc_matrix(value)
            out[key] = csc_cls(**{k: csc.__dict__[k] for k in ("_shape", "maxprint", "indptr", "indices", "data")})
        elif key in reshape_keys:
            arr = np.asarray(value, dtype=np.float64)
            flat = ch_cls(**_chumpy_state(x=arr.ravel()))
            out[key] = reshape_cls(**_chumpy_state(a=flat, newshape=arr.shape))
        elif key in chumpy_keys:
            out[key] = ch_cls(**_chumpy_state(x=np.asarray(value, dtype=np.float64)))
        else:
            out[key] = value
    reconstruct = np.ndarray.__reduce__(np.zeros(1))[0]
    scalar = np.float64(0).__reduce__()[0]
    names = {
        id(ch_cls): ("chumpy.ch", "Ch"),
        id(reshape_cls): ("chumpy.reordering", "Reshape"),
        id(csc_cls): (sparse_module, "csc_matrix"),
        id(reconstruct): ("numpy.core.multiarray", "_reconstruct"),
        id(scalar): ("numpy.core.multiarray", "scalar"),
    }
    import io

    buf = io.BytesIO()
    _Py2Pickler(buf, names).dump(out)
    path = Path(path)
    atomic_write_bytes(path, buf.getvalue())
    return path
