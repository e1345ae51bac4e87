"""Writing hand meshes as Wavefront OBJ (text) or PLY (binary little-endian), atomically.

Both keep the vertex order and the faces' winding, so a file opens in Blender, MeshLab or open3d with outward
normals. Coordinates are written as given (the library's camera frame: x right, y down, z forward, metres), so a
viewer with a y-up convention shows the hand upside down unless it flips y.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from handmesh.errors import ConfigError
from handmesh.utils.atomic import atomic_write_bytes

MESH_FORMATS = ("obj", "ply")


def _check(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    v = np.asarray(vertices, dtype=np.float32)
    f = np.asarray(faces)
    if v.ndim != 2 or v.shape[1] != 3:
        raise ValueError(f"write_mesh: vertices must have shape (V, 3), got {v.shape}")
    if f.ndim != 2 or f.shape[1] != 3 or not np.issubdtype(f.dtype, np.integer):
        raise ValueError(f"write_mesh: faces must be an integer array of shape (F, 3), got {f.dtype} {f.shape}")
    if f.size and (f.min() < 0 or f.max() >= len(v)):
        raise ValueError(f"write_mesh: faces index vertices 0..{len(v) - 1}, found {f.min()}..{f.max()}")
    return v, f.astype(np.int32)


def obj_bytes(vertices: np.ndarray, faces: np.ndarray) -> bytes:
    """An OBJ file's bytes: ``v x y z`` lines (6 decimals, micrometres), then 1-based ``f a b c`` lines."""
    v, f = _check(vertices, faces)
    buf = io.StringIO()
    buf.write("# handmesh hand mesh; camera frame (x right, y down, z forward), metres\n")
    np.savetxt(buf, v, fmt="v %.6f %.6f %.6f")
    np.savetxt(buf, f + 1, fmt="f %d %d %d")
    return buf.getvalue().encode("ascii")


def ply_bytes(vertices: np.ndarray, faces: np.ndarray) -> bytes:
    """A binary little-endian PLY file's bytes: float32 vertices, uint8-counted int32 faces."""
    v, f = _check(vertices, faces)
    header = (
        "ply\nformat binary_little_endian 1.0\n"
        "comment handmesh hand mesh; camera frame (x right, y down, z forward), metres\n"
        f"element vertex {len(v)}\nproperty float x\nproperty float y\nproperty float z\n"
        f"element face {len(f)}\nproperty list uchar int vertex_indices\nend_header\n"
    ).encode("ascii")
    face_rec = np.zeros(len(f), dtype=[("n", "u1"), ("idx", "<i4", (3,))])
    face_rec["n"] = 3
    face_rec["idx"] = f
    return header + v.astype("<f4").tobytes() + face_rec.tobytes()


def write_mesh(path: str | os.PathLike, vertices: np.ndarray, faces: np.ndarray) -> Path:
    """Write a triangle mesh to ``path`` atomically; the suffix (``.obj`` or ``.ply``) picks the format.

    Args:
        path: destination; its folder is created.
        vertices: ``(V, 3)`` float.
        faces: ``(F, 3)`` int, 0-based.

    Returns:
        ``path`` as a :class:`Path`.

    Raises:
        ConfigError: the suffix is neither ``.obj`` nor ``.ply``.
    """
    path = Path(path)
    kind = path.suffix.lower().lstrip(".")
    if kind not in MESH_FORMATS:
        raise ConfigError(f"mesh file {path}: expected a .obj or .ply suffix")
    atomic_write_bytes(path, obj_bytes(vertices, faces) if kind == "obj" else ply_bytes(vertices, faces))
    return path
