"""The hand model file format (``.npz``) and its in-memory twin, :class:`HandModelArrays`.

One format serves every model (the shipped open hand, MANO after ``handmesh-mano convert``), so the rest of the
package never sees where a model came from. Keys (float32 unless stated; V vertices, F faces, 16 joints):

====================  ===============  ======================================================================
key                   shape            meaning
====================  ===============  ======================================================================
``v_template``        (V, 3)           rest-pose mesh, metres
``faces``             (F, 3) int32     triangles, wound outward (right-hand rule normal leaves the skin)
``shapedirs``         (V, 3, 10)       shape blend shapes, metres per unit beta
``posedirs``          (V, 3, 135)      pose blend shapes over the 15 x 9 entries of (R_j - I), j = 1..15
``J_regressor``       (16, V)          dense joint regressor (joints = J_regressor @ vertices)
``weights``           (V, 16)          skinning weights, rows sum to 1
``parents``           (16,) int32      kinematic tree, ``parents[0] = -1``, ``parents[j] < j``
``hands_components``  (45, 45)         pose PCA basis, one component per row (axis-angle, 15 joints x 3)
``hands_mean``        (45,)            mean finger pose (axis-angle), added when ``flat_hand_mean=False``
``tip_vertex_ids``    (5,) int32       fingertip vertices: thumb, index, middle, ring, pinky
``is_right``          () bool          right (True) or left hand
``name``              () str           ``"open"`` or ``"mano"``
``format_version``    () int32         1
====================  ===============  ======================================================================
"""

from __future__ import annotations

import dataclasses
import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from handmesh.errors import DataError, MissingFileError
from handmesh.utils.atomic import atomic_open

__all__ = [
    "FORMAT_VERSION",
    "MODEL_FILE_KEYS",
    "NUM_JOINTS",
    "NUM_BETAS",
    "HandModelArrays",
    "arrays_from_mapping",
    "read_model_file",
    "write_model_file",
]

FORMAT_VERSION = 1
NUM_JOINTS = 16
NUM_BETAS = 10
NUM_POSE_FEATURES = (NUM_JOINTS - 1) * 9  # 135

# In the order they are checked: the first missing one is the one an error names.
MODEL_FILE_KEYS: tuple[str, ...] = (
    "v_template",
    "faces",
    "shapedirs",
    "posedirs",
    "J_regressor",
    "weights",
    "parents",
    "hands_components",
    "hands_mean",
    "tip_vertex_ids",
    "is_right",
    "name",
    "format_version",
)


@dataclass(frozen=True)
class HandModelArrays:
    """Everything a :class:`~handmesh.hand_model.model.HandModel` is built from, as validated numpy arrays.

    Shapes and units are those of the file format (module docstring); build one with :func:`arrays_from_mapping`
    (which validates) rather than by hand.
    """

    v_template: np.ndarray  # (V, 3) float32, metres
    faces: np.ndarray  # (F, 3) int32, outward winding
    shapedirs: np.ndarray  # (V, 3, 10) float32
    posedirs: np.ndarray  # (V, 3, 135) float32
    J_regressor: np.ndarray  # (16, V) float32
    weights: np.ndarray  # (V, 16) float32
    parents: np.ndarray  # (16,) int32
    hands_components: np.ndarray  # (45, 45) float32
    hands_mean: np.ndarray  # (45,) float32
    tip_vertex_ids: np.ndarray  # (5,) int32
    is_right: bool
    name: str

    @property
    def num_vertices(self) -> int:
        """V."""
        return int(self.v_template.shape[0])

    def replace(self, **changes: Any) -> HandModelArrays:
        """A validated copy with some fields replaced (e.g. ``arrays.replace(is_right=False)``)."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        fields.update(changes)
        return arrays_from_mapping(fields, source="HandModelArrays.replace", require_version=False)

    def to_npz_dict(self) -> dict[str, np.ndarray]:
        """The arrays exactly as the ``.npz`` stores them (dtypes of the format, ``format_version`` added)."""
        out = {f.name: np.asarray(getattr(self, f.name)) for f in dataclasses.fields(self)}
        out["is_right"] = np.array(bool(self.is_right))
        out["name"] = np.array(str(self.name))
        out["format_version"] = np.array(FORMAT_VERSION, dtype=np.int32)
        return out


def _shape_error(source: str, key: str, got: tuple[int, ...], expected: str) -> DataError:
    return DataError(f"{source}: '{key}' has shape {got}, expected {expected}")


def arrays_from_mapping(
    data: Mapping[str, Any], source: str = "hand model", *, require_version: bool = True
) -> HandModelArrays:
    """Validate a mapping of model arrays (an open ``.npz``, a dict) and return :class:`HandModelArrays`.

    Args:
        data: holds at least :data:`MODEL_FILE_KEYS` (``format_version`` only if ``require_version``).
        source: how errors name the data, usually the file path.
        require_version: check ``format_version == 1``. Default: True.

    Returns:
        The arrays cast to the format's dtypes.

    Raises:
        DataError: naming the first missing key, a key with the wrong shape, a non-finite array, or an
            inconsistent kinematic tree, face or fingertip index.
    """
    keys = MODEL_FILE_KEYS if require_version else MODEL_FILE_KEYS[:-1]
    for key in keys:
        if key not in data:
            raise DataError(f"{source}: missing key '{key}' (a hand model file holds: {', '.join(keys)})")
    if require_version:
        version = int(np.asarray(data["format_version"]))
        if version != FORMAT_VERSION:
            raise DataError(
                f"{source}: format_version is {version}, this handmesh reads format_version {FORMAT_VERSION}"
            )

    def arr(key: str, dtype: type) -> np.ndarray:
        value = np.asarray(data[key])
        if value.dtype == object:
            raise DataError(f"{source}: '{key}' is an object array; expected numbers")
        try:
            return np.ascontiguousarray(value, dtype=dtype)
        except (TypeError, ValueError) as e:
            raise DataError(f"{source}: '{key}' cannot be read as {np.dtype(dtype).name}: {e}") from None

    v_template = arr("v_template", np.float32)
    if v_template.ndim != 2 or v_template.shape[1] != 3 or v_template.shape[0] < 1:
        raise _shape_error(source, "v_template", v_template.shape, "(V, 3)")
    V = v_template.shape[0]
    expected = {
        "shapedirs": (V, 3, NUM_BETAS),
        "posedirs": (V, 3, NUM_POSE_FEATURES),
        "J_regressor": (NUM_JOINTS, V),
        "weights": (V, NUM_JOINTS),
        "parents": (NUM_JOINTS,),
        "hands_components": (45, 45),
        "hands_mean": (45,),
        "tip_vertex_ids": (5,),
    }
    int_keys = {"parents", "tip_vertex_ids"}
    out: dict[str, Any] = {"v_template": v_template}
    faces = arr("faces", np.int64)
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise _shape_error(source, "faces", faces.shape, "(F, 3)")
    for key, shape in expected.items():
        value = arr(key, np.int64 if key in int_keys else np.float32)
        if value.shape != shape:
            raise _shape_error(source, key, value.shape, str(shape))
        out[key] = value
    for key in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "hands_components", "hands_mean"):
        if not np.isfinite(out[key]).all():
            raise DataError(f"{source}: '{key}' contains NaN or Inf")

    parents = out["parents"]
    if parents[0] != -1 or any(not 0 <= parents[j] < j for j in range(1, NUM_JOINTS)):
        raise DataError(
            f"{source}: 'parents' must have parents[0] = -1 and 0 <= parents[j] < j, got {parents.tolist()}"
        )
    if faces.size and (faces.min() < 0 or faces.max() >= V):
        raise DataError(f"{source}: 'faces' indexes vertices {faces.min()}..{faces.max()}, expected 0..{V - 1}")
    tips = out["tip_vertex_ids"]
    if tips.min() < 0 or tips.max() >= V:
        raise DataError(f"{source}: 'tip_vertex_ids' {tips.tolist()} out of range 0..{V - 1}")
    row_sums = out["weights"].sum(axis=1)
    if np.abs(row_sums - 1.0).max() > 1e-3:
        worst = int(np.abs(row_sums - 1.0).argmax())
        raise DataError(f"{source}: 'weights' rows must sum to 1; vertex {worst} sums to {row_sums[worst]:.6f}")

    name = str(np.asarray(data["name"]).item()) if np.asarray(data["name"]).shape == () else None
    if name is None:
        raise _shape_error(source, "name", np.asarray(data["name"]).shape, "() (a string)")
    is_right_arr = np.asarray(data["is_right"])
    if is_right_arr.shape != ():
        raise _shape_error(source, "is_right", is_right_arr.shape, "() (a bool)")
    return HandModelArrays(
        v_template=v_template,
        faces=faces.astype(np.int32),
        shapedirs=out["shapedirs"],
        posedirs=out["posedirs"],
        J_regressor=out["J_regressor"],
        weights=out["weights"],
        parents=parents.astype(np.int32),
        hands_components=out["hands_components"],
        hands_mean=out["hands_mean"],
        tip_vertex_ids=tips.astype(np.int32),
        is_right=bool(is_right_arr),
        name=name,
    )


def read_model_file(path: str | os.PathLike) -> HandModelArrays:
    """Read and validate a hand model ``.npz``.

    Args:
        path: the file.

    Returns:
        The validated arrays.

    Raises:
        MissingFileError: the file does not exist.
        DataError: not an ``.npz``, pickled content, or a validation failure (see :func:`arrays_from_mapping`).
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"hand model file not found: {path}")
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path}: not a readable .npz file (not a zip archive)")
    try:
        # allow_pickle=False: a model file is plain arrays; refusing pickles means opening one cannot run code.
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except ValueError as e:
        if "allow_pickle" in str(e):
            raise DataError(f"{path}: holds pickled objects; a hand model file holds plain arrays only") from None
        raise DataError(f"{path}: not a readable .npz file ({e})") from None
    except (OSError, zipfile.BadZipFile, EOFError) as e:
        raise DataError(f"{path}: not a readable .npz file ({e})") from None
    return arrays_from_mapping(data, source=str(path))


def write_model_file(path: str | os.PathLike, arrays: HandModelArrays, *, compress: bool = False) -> Path:
    """Write a hand model ``.npz`` atomically (a reader never sees half a file).

    Args:
        path: destination; the folder is created if needed.
        arrays: what to write (validated again on the way out).
        compress: zip-deflate the arrays. Default: False: a MANO-sized file is then ~1.5 MB (the pickle is 3.4 MB)
            and reads in ~2 ms; deflate saves ~15% on MANO's dense blend shapes but triples the read time.

    Returns:
        The path written.
    """
    path = Path(path)
    arrays = arrays_from_mapping(
        {f.name: getattr(arrays, f.name) for f in dataclasses.fields(arrays)}, source=str(path), require_version=False
    )
    payload = arrays.to_npz_dict()
    with atomic_open(path, "wb") as f:
        (np.savez_compressed if compress else np.savez)(f, **payload)
    return path
