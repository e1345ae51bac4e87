"""The .npz model file: round trip, validation errors that name the key, no pickles."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from handmesh.errors import DataError, MissingFileError
from handmesh.hand_model.model_file import (
    MODEL_FILE_KEYS,
    HandModelArrays,
    read_model_file,
    write_model_file,
)


def _npz(path: Path, arrays: HandModelArrays, **overrides: object) -> Path:
    data = arrays.to_npz_dict()
    for k, v in overrides.items():
        if v is None:
            data.pop(k)
        else:
            data[k] = v  # type: ignore[assignment]
    np.savez(path, **data)
    return path


def test_round_trip(tmp_path: Path, right_arrays: HandModelArrays) -> None:
    p = write_model_file(tmp_path / "sub" / "m.npz", right_arrays)
    back = read_model_file(p)
    for f in dataclasses.fields(HandModelArrays):
        a, b = getattr(back, f.name), getattr(right_arrays, f.name)
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b, err_msg=f.name)
            assert a.dtype == b.dtype, f.name
        else:
            assert a == b, f.name
    with np.load(p, allow_pickle=False) as z:
        assert set(z.files) == set(MODEL_FILE_KEYS)
        assert z["faces"].dtype == np.int32 and z["v_template"].dtype == np.float32
        assert z["is_right"].shape == () and z["name"].shape == () and int(z["format_version"]) == 1
    assert not list((tmp_path / "sub").glob("*.tmp"))  # atomic write left nothing behind


@pytest.mark.parametrize("missing", ["v_template", "posedirs", "tip_vertex_ids", "format_version"])
def test_missing_key_is_named(tmp_path: Path, right_arrays: HandModelArrays, missing: str) -> None:
    p = _npz(tmp_path / "m.npz", right_arrays, **{missing: None})
    with pytest.raises(DataError, match=f"missing key '{missing}'"):
        read_model_file(p)


def test_first_missing_key_is_named(tmp_path: Path, right_arrays: HandModelArrays) -> None:
    p = _npz(tmp_path / "m.npz", right_arrays, weights=None, shapedirs=None)
    with pytest.raises(DataError, match="missing key 'shapedirs'"):
        read_model_file(p)


@pytest.mark.parametrize(
    ("key", "value", "pattern"),
    [
        ("shapedirs", np.zeros((778, 3, 5), np.float32),
         r"'shapedirs' has shape \(778, 3, 5\), expected \(778, 3, 10\)"),
        ("J_regressor", np.zeros((16, 700), np.float32), r"'J_regressor' has shape \(16, 700\), expected \(16, 778\)"),
        ("v_template", np.zeros((778, 2), np.float32), r"'v_template' has shape \(778, 2\), expected \(V, 3\)"),
        ("faces", np.zeros((10, 4), np.int32), r"'faces' has shape \(10, 4\), expected \(F, 3\)"),
        ("hands_mean", np.zeros(48, np.float32), r"'hands_mean' has shape \(48,\)"),
        ("format_version", np.array(2, np.int32), "format_version is 2"),
        ("parents", np.array([-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 15], np.int32), "'parents' must"),
        ("faces", np.array([[0, 1, 778]], np.int32), "'faces' indexes vertices"),
        ("tip_vertex_ids", np.array([1, 2, 3, 4, 900], np.int32), "'tip_vertex_ids'"),
        ("weights", np.full((778, 16), 0.5, np.float32), "'weights' rows must sum to 1"),
        ("name", np.array(["a", "b"]), r"'name' has shape \(2,\)"),
    ],
)  # fmt: skip
def test_bad_content_is_named(
    tmp_path: Path, right_arrays: HandModelArrays, key: str, value: np.ndarray, pattern: str
) -> None:
    p = _npz(tmp_path / "m.npz", right_arrays, **{key: value})
    with pytest.raises(DataError, match=pattern):
        read_model_file(p)


def test_nan_is_refused(tmp_path: Path, right_arrays: HandModelArrays) -> None:
    bad = right_arrays.posedirs.copy()
    bad[3, 1, 7] = np.nan
    with pytest.raises(DataError, match="'posedirs' contains NaN"):
        read_model_file(_npz(tmp_path / "m.npz", right_arrays, posedirs=bad))


def test_pickled_content_and_garbage_are_refused(tmp_path: Path, right_arrays: HandModelArrays) -> None:
    p = _npz(tmp_path / "m.npz", right_arrays, name=np.array({"evil": 1}, dtype=object))
    with pytest.raises(DataError, match="pickled objects"):
        read_model_file(p)
    g = tmp_path / "g.npz"
    g.write_bytes(b"PK not really a zip")
    with pytest.raises(DataError, match="not a readable .npz"):
        read_model_file(g)
    with pytest.raises(MissingFileError):
        read_model_file(tmp_path / "absent.npz")


def test_replace_validates(right_arrays: HandModelArrays) -> None:
    left = right_arrays.replace(is_right=False)
    assert not left.is_right and right_arrays.is_right
    with pytest.raises(DataError, match="'hands_mean' has shape"):
        right_arrays.replace(hands_mean=np.zeros(3))
