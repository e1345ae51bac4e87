"""Annotation loading: exact values, the caches, and the errors for missing or inconsistent files."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from handmesh.datasets import annotations as annotations_module
from handmesh.datasets.annotations import load_annotations
from handmesh.errors import DataError, MissingFileError


def test_values_equal_json(tiny_freihand) -> None:
    root = tiny_freihand.root
    ann = load_annotations(root, "training", require=("K", "xyz", "mano", "verts"))
    assert len(ann) == tiny_freihand.n_train
    for kind in ("K", "xyz", "verts", "scale"):
        expected = np.asarray(json.loads((root / f"training_{kind}.json").read_text()))
        np.testing.assert_array_equal(getattr(ann, kind), expected)
    mano = np.asarray(json.loads((root / "training_mano.json").read_text()))
    assert mano.shape == (tiny_freihand.n_train, 1, 61)  # the official nesting
    np.testing.assert_array_equal(ann.mano, mano[:, 0])
    assert ann.K.dtype == np.float64 and ann.verts.dtype == np.float64


def test_cache_reused_then_invalidated(tiny_freihand, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tiny_freihand.root
    first = load_annotations(root, "evaluation", cache_dir=root / "c")
    assert isinstance(first.verts, np.memmap)

    def fail(*args, **kwargs):
        raise AssertionError("JSON parsed although the cache is valid")

    monkeypatch.setattr(annotations_module, "read_json_array", fail)
    again = load_annotations(root, "evaluation", cache_dir=root / "c")
    np.testing.assert_array_equal(again.xyz, first.xyz)
    np.testing.assert_array_equal(again.verts, first.verts)
    monkeypatch.undo()

    xyz = np.asarray(json.loads((root / "evaluation_xyz.json").read_text()))
    xyz[0, 0, 0] = 1.25
    (root / "evaluation_xyz.json").write_text(json.dumps(xyz.tolist()))
    st = (root / "evaluation_xyz.json").stat()
    os.utime(root / "evaluation_xyz.json", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    changed = load_annotations(root, "evaluation", cache_dir=root / "c")
    assert changed.xyz[0, 0, 0] == 1.25


def test_no_cache(tiny_freihand) -> None:
    ann = load_annotations(tiny_freihand.root, "training", cache_dir=False)
    assert not isinstance(ann.verts, np.memmap)
    assert not (tiny_freihand.root / ".handmesh_cache").exists()


def test_pickle_keeps_memory_map_small(tiny_freihand) -> None:
    ann = load_annotations(tiny_freihand.root, "training")
    blob = pickle.dumps(ann)
    assert len(blob) < ann.verts.nbytes  # the vertices travel as a file name, not as data
    back = pickle.loads(blob)
    assert isinstance(back.verts, np.memmap)
    np.testing.assert_array_equal(back.verts, ann.verts)


def test_missing_files_listed_at_once(tmp_path: Path) -> None:
    (tmp_path / "fh").mkdir()
    with pytest.raises(MissingFileError) as err:
        load_annotations(tmp_path / "fh", "training", require=("K", "xyz", "mano"))
    msg = str(err.value)
    for name in ("training_K.json", "training_xyz.json", "training_mano.json", "expected FreiHAND layout", "32,560"):
        assert name in msg


def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match="does not exist"):
        load_annotations(tmp_path / "nowhere", "evaluation")


def test_count_mismatch_names_both_counts(tiny_freihand) -> None:
    root = tiny_freihand.root
    xyz = json.loads((root / "training_xyz.json").read_text())
    (root / "training_xyz.json").write_text(json.dumps(xyz[:-1]))
    with pytest.raises(DataError) as err:
        load_annotations(root, "training", cache_dir=False)
    msg = str(err.value)
    assert f"training_xyz.json has {tiny_freihand.n_train - 1}" in msg
    assert f"training_K.json has {tiny_freihand.n_train}" in msg
    assert "32,560" in msg


def test_malformed_file_names_entry(tiny_freihand) -> None:
    root = tiny_freihand.root
    K = json.loads((root / "evaluation_K.json").read_text())
    K[2] = [[1.0, 0.0], [0.0, 1.0]]
    (root / "evaluation_K.json").write_text(json.dumps(K))
    with pytest.raises(DataError, match=r"evaluation_K\.json: entry 2 .*3x3"):
        load_annotations(root, "evaluation", cache_dir=False)
