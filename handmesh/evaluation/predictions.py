"""The CodaLab ``pred.json``: reading it (with its structure and plausibility checks) and writing it.

``pred.json`` is ``[xyz_list, verts_list]``: N lists of 21 keypoints and N lists of 778 vertices, each ``[x, y, z]``
in metres in the camera frame, in the order of the evaluation images (the format the FreiHAND CodaLab server reads).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from handmesh.datasets.freihand_format import NUM_JOINTS, OFFICIAL_COUNTS
from handmesh.errors import DataError, MissingFileError
from handmesh.utils.atomic import atomic_open


@dataclass
class Predictions:
    """Predictions in dataset order.

    Attributes:
        xyz: (N, 21, 3) float64 keypoints, metres, camera frame.
        verts: (N, V, 3) float64 vertices, metres, camera frame.
        skipped: positions whose image could not be read (their rows are zeros, as the FreiHAND zero predictor
            writes, so that a submission file stays complete).
    """

    xyz: np.ndarray
    verts: np.ndarray
    skipped: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.xyz)


def read_predictions(path: str | os.PathLike, num_samples: int, split: str = "evaluation") -> Predictions:
    """Read a CodaLab ``pred.json`` and check its structure.

    Args:
        path: the file.
        num_samples: how many samples the split has (predictions must match, in dataset order).
        split: split name, for messages. Default: "evaluation".

    Raises:
        MissingFileError: no such file.
        DataError: not JSON, not ``[xyz_list, verts_list]``, wrong length or wrong shape (the message says what
            was expected).
    """
    path = Path(path)
    expected = (
        f"expected [xyz_list, verts_list] with xyz_list ({num_samples}, 21, 3) and verts_list "
        f"({num_samples}, 778, 3), metres, in the order of the {split} images"
    )
    if not path.is_file():
        raise MissingFileError(f"predictions file {path} does not exist")
    fast = _read_predictions_fast(path, num_samples)
    if fast is not None:
        return _check_plausible(fast, path)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: not valid JSON ({e}); {expected}") from e
    if not isinstance(data, list) or len(data) != 2 or not all(isinstance(d, list) for d in data):
        got = f"a list of {len(data)} items" if isinstance(data, list) else type(data).__name__
        raise DataError(f"{path}: found {got}; {expected}")
    if len(data[0]) != num_samples or len(data[1]) != num_samples:
        raise DataError(
            f"{path}: holds {len(data[0])} keypoint sets and {len(data[1])} vertex sets, but the {split} split has "
            f"{num_samples} samples (the official {split} split has "
            f"{OFFICIAL_COUNTS.get(split, OFFICIAL_COUNTS['training']):,}); {expected}"
        )
    xyz = _as_points(data[0], path, "xyz_list", NUM_JOINTS, expected)
    verts = _as_points(data[1], path, "verts_list", None, expected)
    return _check_plausible(Predictions(xyz=xyz, verts=verts), path)


MAX_COORDINATE_M = 100.0
"""Largest plausible coordinate of a predicted point, metres: FreiHAND's hands are well within a metre of the
camera; a value beyond this is a unit or export mistake, and values near the float limit break the alignment."""


def _check_plausible(predictions: Predictions, path: Path) -> Predictions:
    """Refuse predictions that cannot be a hand in front of a camera, or that hold no number at all.

    Raises:
        DataError: a coordinate beyond :data:`MAX_COORDINATE_M` (naming the first such entry), or every sample NaN.
    """
    for name, arr in (("xyz_list", predictions.xyz), ("verts_list", predictions.verts)):
        with np.errstate(invalid="ignore"):
            far = np.abs(np.nan_to_num(arr, nan=0.0, posinf=np.inf, neginf=np.inf)) > MAX_COORDINATE_M
        if far.any():
            i, j, c = (int(v) for v in np.argwhere(far)[0])
            raise DataError(
                f"{path}: {name}[{i}][{j}][{c}] = {arr[i, j, c]:g} m; no hand is that far from the "
                f"camera (expected metres, |x| <= {MAX_COORDINATE_M:g}): wrong units?"
            )
    if len(predictions.xyz) and not np.isfinite(predictions.xyz).all(axis=(1, 2)).any():
        raise DataError(f"{path}: every keypoint prediction holds NaN or infinity; nothing can be scored")
    return predictions


def _read_predictions_fast(path: Path, num_samples: int) -> Predictions | None:
    """The common case, ``[xyz_list, verts_list]`` with regular shapes, parsed without Python objects (about 3x
    faster than ``json.load`` for a 120 MB file); None for anything else, which the careful path then explains."""
    from handmesh.datasets.json_arrays import parse_json_array

    text = path.read_bytes().translate(None, b" \t\r\n")
    sep = text.find(b"]]],[[[")
    if not (text.startswith(b"[[[[") and text.endswith(b"]]]]")) or sep < 0 or text.find(b"]]],[[[", sep + 1) >= 0:
        return None
    xyz_text, verts_text = text[1 : sep + 3], text[sep + 4 : -1]
    first_entry = verts_text[1 : verts_text.find(b"]]") + 2]
    num_verts = first_entry.count(b"],[") + 1
    try:
        xyz = parse_json_array(xyz_text, (NUM_JOINTS, 3), str(path))
        verts = parse_json_array(verts_text, (num_verts, 3), str(path))
    except DataError:
        return None
    if len(xyz) != num_samples or len(verts) != num_samples:
        return None
    return Predictions(xyz=xyz, verts=verts)


def _as_points(items: list, path: Path, name: str, count: int | None, expected: str) -> np.ndarray:
    """(N, count, 3) float64 from nested lists, naming the first entry that is not shaped like that."""
    try:
        arr = np.asarray(items, dtype=np.float64)
    except (ValueError, TypeError):
        arr = None
    if arr is not None and arr.ndim == 3 and arr.shape[2] == 3 and (count is None or arr.shape[1] == count):
        return arr
    want = (count if count is not None else _first_len(items), 3)
    for i, item in enumerate(items):
        try:
            shape = np.asarray(item, dtype=np.float64).shape
        except (ValueError, TypeError):
            shape = None
        if shape != want:
            got = "is not a list of numbers" if shape is None else f"has shape {shape}"
            raise DataError(f"{path}: {name}[{i}] {got}, expected {want}; {expected}")
    raise DataError(f"{path}: {name} is not an (N, {want[0]}, 3) array; {expected}")


def _first_len(items: list) -> int:
    return len(items[0]) if items and isinstance(items[0], list) else 0


def write_predictions(path: str | os.PathLike, xyz: np.ndarray, verts: np.ndarray, decimals: int = 8) -> Path:
    """Write a CodaLab ``pred.json`` atomically.

    Args:
        path: destination (zip it with ``zip -j pred.zip pred.json`` to submit).
        xyz: (N, 21, 3) keypoints, metres, camera frame, dataset order.
        verts: (N, V, 3) vertices, metres, camera frame.
        decimals: values are rounded to this many decimals of a metre; 8 (10 nm) changes no metric and keeps the
            file near 100 MB for the 3,960 evaluation samples. Default: 8.
    """
    xyz = np.asarray(xyz, dtype=np.float64)
    verts = np.asarray(verts, dtype=np.float64)
    if (
        xyz.ndim != 3
        or xyz.shape[1:] != (NUM_JOINTS, 3)
        or verts.ndim != 3
        or verts.shape[2] != 3
        or len(verts) != len(xyz)
    ):
        raise DataError(
            f"write_predictions: xyz {xyz.shape} and verts {verts.shape}: expected (N, 21, 3) and (N, V, 3)"
        )
    path = Path(path)
    with atomic_open(path, "w") as f:
        json.dump([np.round(xyz, decimals).tolist(), np.round(verts, decimals).tolist()], f)
    return path
