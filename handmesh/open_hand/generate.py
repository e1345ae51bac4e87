"""Generate the open hand: skeleton -> implicit skin -> mesh -> weights, regressor, shape directions, poses -> the
model file ``handmesh/assets/open_hand_right.npz``.

The generator is deterministic (no randomness except a seeded, platform-independent pose sampler; ties broken by
ids) and writes the file byte for byte the same every time: arrays are stored uncompressed, in a fixed order,
with fixed zip timestamps and ``.npy`` headers written here, so neither the clock nor the zlib or numpy version
changes a byte.

    python -m handmesh.open_hand            # rewrite the shipped asset
    python -m handmesh.open_hand --check    # exit 1 if regenerating would change it
"""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from handmesh.hand_model.model_file import FORMAT_VERSION, MODEL_FILE_KEYS
from handmesh.open_hand.mesh import NUM_VERTICES, RestMesh, build_rest_mesh
from handmesh.open_hand.poses import named_poses, pose_components, sample_poses
from handmesh.open_hand.shape_space import build_shapedirs
from handmesh.open_hand.skeleton import DIGIT_SPECS, DIGITS, PARENTS, Skeleton, build_skeleton
from handmesh.open_hand.skinning import digit_coordinates, joint_regressor, skinning_weights
from handmesh.open_hand.surface import HandSurface
from handmesh.utils.atomic import atomic_write_bytes

#: Where the package ships the asset.
ASSET_PATH = Path(__file__).resolve().parents[1] / "assets" / "open_hand_right.npz"

#: Grid the float arrays are rounded to before they are stored (see :func:`_to_float32`).
QUANTUM = 1e-7

#: Keys in the order they are written: the model file format's own list.
ASSET_KEYS = MODEL_FILE_KEYS


@dataclass(frozen=True)
class OpenHand:
    """The generated open hand (float64 working precision) plus what it was built from.

    Attributes:
        arrays: the model file's arrays, with the file's dtypes (see :func:`asset_arrays`).
        skeleton: the design skeleton; ``arrays["J_regressor"] @ arrays["v_template"]`` reproduces its joints.
        surface: the implicit skin the mesh lies on.
        mesh: the rest mesh with its per-vertex digit labels.
        poses: named absolute finger poses (45,) (``flat``, ``relaxed``, ``fist``, ``point``, ``open``).
    """

    arrays: dict[str, np.ndarray]
    skeleton: Skeleton
    surface: HandSurface
    mesh: RestMesh
    poses: dict[str, np.ndarray]


def _to_float32(x: np.ndarray) -> np.ndarray:
    """Round to a grid of 1e-7 (0.1 micrometre for lengths) before casting to float32: a last-bit difference in
    the float64 pipeline (another CPU's math library) then almost never reaches the file. Adding 0 turns -0.0,
    whose sign is such a last-bit accident, into +0.0."""
    return (np.round(np.asarray(x, dtype=np.float64) / QUANTUM) * QUANTUM + 0.0).astype(np.float32)


def build_surface() -> HandSurface:
    """The implicit skin on the design skeleton."""
    skeleton = build_skeleton()
    return HandSurface(skeleton, {d: DIGIT_SPECS[d].radii for d in DIGITS})


def generate_open_hand() -> OpenHand:
    """Run the whole generator (a few seconds).

    Returns:
        The :class:`OpenHand`.
    """
    surface = build_surface()
    skeleton = surface.skeleton
    mesh = build_rest_mesh(surface)
    v = mesh.vertices
    coords = digit_coordinates(surface, v)
    weights = skinning_weights(coords, mesh.faces)
    regressor = joint_regressor(surface, v, skeleton.joints, coords)
    shapedirs = build_shapedirs(surface, v, coords)
    poses = named_poses(surface)
    components = pose_components(sample_poses(surface), poses["relaxed"])
    arrays = {
        "v_template": _to_float32(v),
        "faces": mesh.faces.astype(np.int32),
        "shapedirs": _to_float32(shapedirs),
        # No pose-dependent corrections: linear blend skinning only.
        "posedirs": np.zeros((NUM_VERTICES, 3, 135), dtype=np.float32),
        "J_regressor": _to_float32(regressor),
        "weights": _to_float32(weights),
        "parents": PARENTS.astype(np.int32),
        "hands_components": _to_float32(components),
        "hands_mean": _to_float32(poses["relaxed"]),
        "tip_vertex_ids": mesh.tip_ids.astype(np.int32),
        "is_right": np.array(True),
        "name": np.array("open"),
        "format_version": np.array(FORMAT_VERSION, dtype=np.int32),
    }
    return OpenHand(arrays=arrays, skeleton=skeleton, surface=surface, mesh=mesh, poses=poses)


def _npy_bytes(array: np.ndarray) -> bytes:
    """The ``.npy`` (format 1.0) encoding of a plain array, with a header written here so it never depends on the
    numpy version: magic, version, header length, then the header padded with spaces to a multiple of 64 bytes."""
    array = np.array(array, order="C", copy=True)  # not ascontiguousarray: that turns 0-d arrays into 1-d ones
    dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
    array = array.astype(dtype, copy=False)
    shape = f"({array.shape[0]},)" if array.ndim == 1 else "(" + ", ".join(str(n) for n in array.shape) + ")"
    header = f"{{'descr': '{dtype.str}', 'fortran_order': False, 'shape': {shape}, }}"
    pad = (-(10 + len(header) + 1)) % 64
    header = (header + " " * pad + "\n").encode("latin1")
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + array.tobytes()


def asset_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """The model file as bytes: an uncompressed zip of ``<key>.npy`` members in :data:`ASSET_KEYS` order, with
    fixed timestamps and permissions (readable by :func:`numpy.load`)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as zf:
        for key in ASSET_KEYS:
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.create_system = 3  # unix, whatever the host
            zf.writestr(info, _npy_bytes(arrays[key]))
    return buffer.getvalue()


def write_asset(path: str | os.PathLike = ASSET_PATH) -> Path:
    """Generate the open hand and write its model file atomically.

    Args:
        path: destination. Default: the shipped asset, :data:`ASSET_PATH`.

    Returns:
        The path written.
    """
    path = Path(path)
    atomic_write_bytes(path, asset_bytes(generate_open_hand().arrays))
    os.chmod(path, 0o644)  # a shipped file, readable by all (the atomic writer's temporary file is private)
    return path
