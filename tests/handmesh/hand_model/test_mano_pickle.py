"""The chumpy-free MANO loader: official-format pickles load to the right arrays; anything else is refused."""

from __future__ import annotations

import io
import os
import pickle
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse

from handmesh.errors import DataError, MissingFileError
from handmesh.hand_model.mano_pickle import (
    MANO_PICKLE_KEYS,
    UnsafePickleError,
    fix_left_shapedirs,
    load_mano_pickle,
    read_mano_pickle,
)
from handmesh.testing.mano_standin import write_mano_style_pickle


def test_official_format_fixture_really_uses_chumpy_and_old_scipy_paths(mano_dir: Path) -> None:
    """Guard the fixture itself: it must exercise what the real files contain."""
    import pickletools

    ops = list(pickletools.genops((mano_dir / "MANO_RIGHT.pkl").read_bytes()))
    globals_ = {arg for op, arg, _ in ops if op.name == "GLOBAL"}
    assert {
        "chumpy.ch Ch",
        "chumpy.reordering Reshape",
        "scipy.sparse.csc csc_matrix",
        "numpy.core.multiarray _reconstruct",
        "__builtin__ set",
    } <= globals_
    assert ops[0][0].name == "PROTO" and ops[0][1] == 2
    assert not any(op.name in ("BINUNICODE", "SHORT_BINUNICODE", "BINBYTES") for op, _, _ in ops)  # py2 str only
    with pytest.raises(ModuleNotFoundError):  # plain pickle cannot read it here: chumpy is not installed
        pickle.loads((mano_dir / "MANO_RIGHT.pkl").read_bytes(), encoding="latin1")


def test_read_gives_plain_arrays_equal_to_the_source(mano_dir: Path, standin_dict: dict[str, Any]) -> None:
    raw = read_mano_pickle(mano_dir / "MANO_RIGHT.pkl")
    for key in MANO_PICKLE_KEYS:
        assert isinstance(raw[key], np.ndarray), key
        np.testing.assert_array_equal(raw[key], np.asarray(standin_dict[key]), err_msg=key)
    assert raw["J_regressor"].shape == (16, 778)  # dense now
    assert raw["bs_style"] == "lbs" and raw["bs_type"] == "lrotmin"
    assert raw["f"].dtype == np.uint32


def test_load_mano_pickle_arrays(mano_dir: Path, standin_dict: dict[str, Any]) -> None:
    a = load_mano_pickle(mano_dir / "MANO_RIGHT.pkl")
    assert a.is_right and a.name == "mano"
    assert a.v_template.dtype == np.float32 and a.faces.dtype == np.int32
    assert a.parents.tolist() == [-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14]
    assert a.tip_vertex_ids.tolist() == [744, 320, 443, 555, 672]
    np.testing.assert_allclose(a.posedirs, standin_dict["posedirs"], rtol=0, atol=1e-7)


@pytest.mark.parametrize("module", ["scipy.sparse.csc", "scipy.sparse._csc", "scipy.sparse"])
def test_sparse_regressor_under_any_module_path(tmp_path: Path, standin_dict: dict[str, Any], module: str) -> None:
    p = write_mano_style_pickle(tmp_path / "MANO_RIGHT.pkl", standin_dict, sparse_module=module)
    np.testing.assert_array_equal(read_mano_pickle(p)["J_regressor"], standin_dict["J_regressor"])


def test_modern_python3_pickles_load_too(tmp_path: Path, standin_dict: dict[str, Any]) -> None:
    """Protocol 5 (STACK_GLOBAL, out-of-band numpy buffers) with a real scipy csr/csc matrix."""
    data = dict(standin_dict)
    data["J_regressor"] = scipy.sparse.csr_matrix(data["J_regressor"])
    p = tmp_path / "MANO_RIGHT.pkl"
    p.write_bytes(pickle.dumps(data, protocol=5))
    raw = read_mano_pickle(p)
    np.testing.assert_array_equal(raw["J_regressor"], standin_dict["J_regressor"])
    np.testing.assert_array_equal(raw["posedirs"], standin_dict["posedirs"])


def test_sparse_duplicates_are_summed_like_scipy(tmp_path: Path) -> None:
    m = scipy.sparse.csc_matrix((np.array([1.0, 2.0, 3.0]), (np.array([0, 0, 1]), np.array([1, 1, 0]))), shape=(2, 3))
    m.has_canonical_format = False  # keep the duplicate entry as stored
    p = tmp_path / "x.pkl"
    p.write_bytes(pickle.dumps({"J": m}, protocol=2))
    np.testing.assert_array_equal(read_mano_pickle(p)["J"], m.toarray())


class _Chumpy:
    """Builds chumpy-like objects and pickles them, Python-2 style, under chumpy's module names."""

    def __init__(self) -> None:
        from handmesh.testing import mano_standin as standin

        self._standin = standin
        self._classes: dict[tuple[str, str], type] = {}
        self._names: dict[int, tuple[str, str]] = {}

    def node(self, module: str, name: str, **terms: Any) -> Any:
        if (module, name) not in self._classes:
            cls = type(name, (self._standin._PickledAs,), {})
            self._classes[(module, name)] = cls
            self._names[id(cls)] = (module, name)
        return self._classes[(module, name)](**self._standin._chumpy_state(**terms))

    def ch(self, x: np.ndarray) -> Any:
        return self.node("chumpy.ch", "Ch", x=x)

    def dump(self, path: Path, value: Any) -> Path:
        buf = io.BytesIO()
        self._standin._Py2Pickler(buf, self._names).dump({"v": value})
        path.write_bytes(buf.getvalue())
        return path


A = np.arange(12.0).reshape(3, 4)
B = np.linspace(-1, 1, 12).reshape(3, 4)
CHUMPY_CASES = {
    "Ch": (lambda c: c.ch(A), A),
    "Reshape": (lambda c: c.node("chumpy.reordering", "Reshape", a=c.ch(A), newshape=(4, 3)), A.reshape(4, 3)),
    "transpose": (lambda c: c.node("chumpy.reordering", "transpose", a=c.ch(A), axes=None), A.T),
    "Select": (
        lambda c: c.node("chumpy.reordering", "Select", a=c.ch(A), idxs=np.array([5, 0, 11]), preferred_shape=(3,)),
        A.ravel()[[5, 0, 11]],
    ),
    "Concatenate": (
        lambda c: c.node("chumpy.reordering", "Concatenate", m0=c.ch(A), m1=c.ch(B), axis=1, dterms=["m0", "m1"]),
        np.concatenate([A, B], axis=1),
    ),
    "add": (lambda c: c.node("chumpy.ch_ops", "add", a=c.ch(A), b=c.ch(B)), A + B),
    "subtract": (lambda c: c.node("chumpy.ch_ops", "subtract", a=c.ch(A), b=c.ch(B)), A - B),
    "multiply": (lambda c: c.node("chumpy.ch_ops", "multiply", a=c.ch(A), b=c.ch(B)), A * B),
    "negative": (lambda c: c.node("chumpy.ch_ops", "negative", x=c.ch(A)), -A),
    "dot": (lambda c: c.node("chumpy.ch_ops", "dot", a=c.ch(A), b=c.ch(B.T)), A @ B.T),
    "nested": (
        lambda c: c.node(
            "chumpy.reordering", "Reshape", a=c.node("chumpy.ch_ops", "add", a=c.ch(A), b=c.ch(B)), newshape=(12,)
        ),
        (A + B).ravel(),
    ),
}


@pytest.mark.parametrize("case", sorted(CHUMPY_CASES))
def test_chumpy_expressions_evaluate(tmp_path: Path, case: str) -> None:
    build, expected = CHUMPY_CASES[case]
    chumpy = _Chumpy()
    path = chumpy.dump(tmp_path / "expr.pkl", build(chumpy))
    np.testing.assert_allclose(read_mano_pickle(path)["v"], expected)


def test_unknown_chumpy_class_is_refused(tmp_path: Path) -> None:
    chumpy = _Chumpy()
    path = chumpy.dump(tmp_path / "expr.pkl", chumpy.node("chumpy.linalg", "Inv", a=np.eye(2)))
    with pytest.raises(UnsafePickleError, match=r"chumpy\.linalg\.Inv"):
        read_mano_pickle(path)


class _Exploit:
    def __init__(self, fn: Any, *args: Any) -> None:
        self.fn, self.args = fn, args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.fn, self.args


@pytest.mark.parametrize(
    ("fn", "dotted"),
    [
        (os.system, "posix.system"),
        (eval, "builtins.eval"),
        (subprocess.Popen, "subprocess.Popen"),
        (np.load, "numpy.load"),
        (getattr, "builtins.getattr"),
    ],
)
def test_other_globals_are_refused_and_never_run(tmp_path: Path, fn: Any, dotted: str) -> None:
    marker = tmp_path / "pwned"
    args = {
        os.system: (f"touch {marker}",),
        eval: (f"open({str(marker)!r}, 'w')",),
        subprocess.Popen: (["touch", str(marker)],),
        np.load: (str(marker),),
        getattr: ("abc", "upper"),
    }[fn]
    p = tmp_path / "MANO_RIGHT.pkl"
    p.write_bytes(pickle.dumps({"v_template": _Exploit(fn, *args)}, protocol=2, fix_imports=False))
    with pytest.raises(UnsafePickleError, match=f"refusing to load global '{dotted}'"):
        read_mano_pickle(p)
    assert not marker.exists()
    # A Python-2 spelling of the same global is refused too (the name is reported as written).
    p.write_bytes(pickle.dumps({"v_template": _Exploit(fn, *args)}, protocol=2, fix_imports=True))
    with pytest.raises(UnsafePickleError, match="refusing to load global"):
        read_mano_pickle(p)
    assert not marker.exists()


def test_refusal_inside_a_py2_style_model(tmp_path: Path, standin_dict: dict[str, Any]) -> None:
    data = dict(standin_dict)
    data["weights"] = _Exploit(os.system, "true")
    p = tmp_path / "MANO_RIGHT.pkl"
    p.write_bytes(pickle.dumps(data, protocol=2))
    with pytest.raises(UnsafePickleError, match="posix.system"):
        load_mano_pickle(p)


def test_not_mano_names_the_first_missing_key(tmp_path: Path, standin_dict: dict[str, Any]) -> None:
    data = {k: v for k, v in standin_dict.items() if k not in ("posedirs", "weights")}
    p = tmp_path / "MANO_RIGHT.pkl"
    write_mano_style_pickle(p, data)
    with pytest.raises(DataError, match="not a MANO model: missing key 'posedirs'"):
        load_mano_pickle(p)
    p.write_bytes(pickle.dumps({"anything": 1}, protocol=2))
    with pytest.raises(DataError, match="missing key 'v_template'"):
        load_mano_pickle(p)
    p.write_bytes(pickle.dumps([1, 2, 3], protocol=2))
    with pytest.raises(DataError, match="holds a list, expected a dict"):
        load_mano_pickle(p)


def test_wrong_shape_is_named(tmp_path: Path, standin_dict: dict[str, Any]) -> None:
    data = dict(standin_dict)
    data["shapedirs"] = np.asarray(data["shapedirs"])[:, :, :5]
    p = write_mano_style_pickle(tmp_path / "MANO_RIGHT.pkl", data)
    with pytest.raises(DataError, match=r"'shapedirs' has shape \(778, 3, 5\), expected \(778, 3, 10\)"):
        load_mano_pickle(p)


def test_garbage_and_missing_files(tmp_path: Path) -> None:
    p = tmp_path / "MANO_RIGHT.pkl"
    p.write_bytes(b"this is not a pickle at all")
    with pytest.raises(DataError, match="not a readable MANO pickle"):
        read_mano_pickle(p)
    with pytest.raises(MissingFileError):
        read_mano_pickle(tmp_path / "nope.pkl")
    unnamed = tmp_path / "model.pkl"
    unnamed.write_bytes(pickle.dumps({}, protocol=2))
    with pytest.raises(DataError, match="cannot tell the side"):
        load_mano_pickle(unnamed)


def test_fix_left_shapedirs_logic() -> None:
    rng = np.random.default_rng(0)
    right = rng.normal(size=(778, 3, 10))
    fixed, applied = fix_left_shapedirs(right.copy(), right)
    assert applied
    np.testing.assert_array_equal(fixed[:, 0], -right[:, 0])
    np.testing.assert_array_equal(fixed[:, 1:], right[:, 1:])
    again, applied_again = fix_left_shapedirs(fixed, right)  # already fixed: left alone
    assert not applied_again
    np.testing.assert_array_equal(again, fixed)
    blind, applied_blind = fix_left_shapedirs(right.copy(), None)  # no right model at hand: always fixed
    assert applied_blind
    np.testing.assert_array_equal(blind[:, 0], -right[:, 0])


def test_loading_needs_neither_scipy_nor_chumpy(mano_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Users install neither: block both imports and load the official-format files."""
    import sys

    for name in ("scipy", "scipy.sparse", "chumpy"):
        monkeypatch.setitem(sys.modules, name, None)  # any `import scipy` now raises ImportError
    right = load_mano_pickle(mano_dir / "MANO_RIGHT.pkl")
    left = load_mano_pickle(mano_dir / "MANO_LEFT.pkl")
    assert right.J_regressor.shape == left.J_regressor.shape == (16, 778)


@pytest.mark.parametrize("case", ["Tile", "Repeat", "dot"])
def test_chumpy_terms_asking_for_huge_arrays_are_refused_before_allocating(tmp_path: Path, case: str) -> None:
    """A Tile with reps (1e7, 1e7) once ran out of memory; a file may not ask for more than a MANO model holds."""
    chumpy = _Chumpy()
    build = {
        "Tile": lambda: chumpy.node("chumpy.reordering", "Tile", a=chumpy.ch(A), reps=(10_000_000, 10_000_000)),
        "Repeat": lambda: chumpy.node("chumpy.reordering", "Repeat", a=chumpy.ch(A), repeats=10**12, axis=None),
        "dot": lambda: chumpy.node(
            "chumpy.ch_ops", "dot", a=chumpy.ch(np.ones((100_000, 1))), b=chumpy.ch(np.ones((1, 100_000)))
        ),
    }[case]
    path = chumpy.dump(tmp_path / "huge.pkl", build())
    with pytest.raises(DataError, match=rf"chumpy {case} would make an array of .* elements"):
        read_mano_pickle(path)


def test_deeply_nested_values_are_refused(tmp_path: Path) -> None:
    """A list nested 200,000 deep once ended in a RecursionError."""
    n = 200_000
    # Written opcode by opcode (pickle.dumps itself recurses): {"v": [[[...]]]}: PROTO 2, EMPTY_DICT, the key,
    # n + 1 EMPTY_LISTs, n APPENDs folding each list into the one below, SETITEM, STOP.
    key = b"X" + (1).to_bytes(4, "little") + b"v"
    path = tmp_path / "deep.pkl"
    path.write_bytes(b"\x80\x02}" + key + b"]" * (n + 1) + b"a" * n + b"s.")
    with pytest.raises(DataError, match="nested"):
        read_mano_pickle(path)
