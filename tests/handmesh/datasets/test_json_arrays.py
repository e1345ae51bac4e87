"""The streaming JSON array reader: equal to json.load on valid files, precise errors on malformed ones."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from handmesh.datasets.json_arrays import read_json_array
from handmesh.errors import DataError


def _write(path: Path, obj: object, indent: int | None = None) -> Path:
    path.write_text(json.dumps(obj, indent=indent))
    return path


@pytest.mark.parametrize("indent", [None, 1])
@pytest.mark.parametrize("chunk", [7, 1000, 1 << 20])
def test_equals_json_load(tmp_path: Path, indent: int | None, chunk: int) -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=(37, 21, 3)) * 10.0 ** rng.integers(-8, 3, size=(37, 21, 3))
    path = _write(tmp_path / "xyz.json", values.tolist(), indent)
    arr, shape = read_json_array(path, [(21, 3)], chunk_bytes=chunk)
    assert shape == (37, 21, 3)
    np.testing.assert_array_equal(arr, np.asarray(json.loads(path.read_text())))


@pytest.mark.parametrize(
    ("shape", "accepted"),
    [((1, 61), [(1, 61), (61,)]), ((61,), [(1, 61), (61,)]), ((), [(), (1,)]), ((1,), [(), (1,)])],
)
def test_entry_shape_chosen_by_depth(tmp_path: Path, shape: tuple[int, ...], accepted: list) -> None:
    values = np.random.default_rng(1).normal(size=(5, *shape))
    arr, out_shape = read_json_array(_write(tmp_path / "a.json", values.tolist()), accepted, chunk_bytes=13)
    assert out_shape == (5, *shape)
    np.testing.assert_array_equal(arr, values)


def test_streams_to_raw_file(tmp_path: Path) -> None:
    values = np.random.default_rng(2).normal(size=(9, 778, 3))
    out = tmp_path / "cache" / "verts.f64"
    arr, shape = read_json_array(
        _write(tmp_path / "v.json", values.tolist()), [(778, 3)], out_file=out, chunk_bytes=4096
    )
    assert arr is None and shape == (9, 778, 3)
    np.testing.assert_array_equal(np.fromfile(out).reshape(shape), values)
    assert not out.with_name("verts.f64.tmp").exists()


@pytest.mark.parametrize("chunk", [64, 1 << 20])
def test_ragged_entry_named(tmp_path: Path, chunk: int) -> None:
    values = np.zeros((30, 21, 3)).tolist()
    values[17].append([0.0, 0.0, 0.0])  # 22 joints in entry 17 and 20 in entry 18: totals still match
    values[18].pop()
    with pytest.raises(DataError, match=r"entry 17 is not shaped like the others.*21x3"):
        read_json_array(_write(tmp_path / "x.json", values), [(21, 3)], chunk_bytes=chunk)


def test_short_inner_list_named(tmp_path: Path) -> None:
    values = np.zeros((30, 21, 3)).tolist()
    values[5][3] = [0.0, 0.0]
    with pytest.raises(DataError, match="entry 5 "):
        read_json_array(_write(tmp_path / "x.json", values), [(21, 3)])


def test_non_number_named(tmp_path: Path) -> None:
    values = np.zeros((30, 21, 3)).tolist()
    values[12][0][1] = "x"
    with pytest.raises(DataError, match="entry 12 holds something other than numbers"):
        read_json_array(_write(tmp_path / "x.json", values), [(21, 3)])


def test_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text(json.dumps(np.zeros((30, 21, 3)).tolist())[:-100])
    with pytest.raises(DataError, match="ends early"):
        read_json_array(path, [(21, 3)])


@pytest.mark.parametrize("text", ["[]", '{"a": 1}', "", "[[1, 2, 3]]"])
def test_wrong_structure(tmp_path: Path, text: str) -> None:
    path = tmp_path / "x.json"
    path.write_text(text)
    with pytest.raises(DataError, match=r"x\.json"):
        read_json_array(path, [(21, 3)])
