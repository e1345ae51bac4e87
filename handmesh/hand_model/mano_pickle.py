"""Reading the official MANO pickles (``MANO_RIGHT.pkl``, ``MANO_LEFT.pkl``) without chumpy and without running code.

The files are Python-2 pickles (read with ``encoding="latin1"``) that hold numpy arrays, chumpy expressions
(``chumpy.ch.Ch`` and friends: chumpy does not import on Python 3.11 / numpy >= 1.24) and a scipy sparse
``J_regressor`` pickled under old module paths (``scipy.sparse.csc.csc_matrix``). A pickle can call any importable
function, so the loader is a restricted unpickler: it resolves only

* numpy's array, dtype and scalar reconstruction functions, ``_codecs.encode`` (latin-1 only) and the builtins
  ``set``/``frozenset``/``object``,
* chumpy classes, rebuilt as inert records and evaluated with numpy afterwards (``Ch``, reshapes, transposes,
  selections, concatenations and elementwise arithmetic: what model files contain),
* scipy ``csc_matrix``/``csr_matrix`` under any of their module paths, rebuilt as inert records and made dense with
  numpy (no scipy needed),

and refuses every other global with :class:`UnsafePickleError` naming it.

Faces: whatever the file holds, the loaded faces are wound outward
(:func:`~handmesh.hand_model.winding.orient_faces_outward`).

Left hands: the official ``MANO_LEFT.pkl`` stores the right model's ``shapedirs`` unchanged, so the same betas make
differently shaped left and right hands (smplx issue #48). The left model's x axis is mirrored, so the x component of
its ``shapedirs`` must change sign; :func:`load_mano_pickle` does that (see :func:`fix_left_shapedirs`).
"""

from __future__ import annotations

import io
import logging
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from handmesh.errors import DataError, MissingFileError
from handmesh.hand_model.keypoints import MANO_TIP_VERTEX_IDS
from handmesh.hand_model.model_file import HandModelArrays, arrays_from_mapping
from handmesh.hand_model.winding import orient_faces_outward

__all__ = [
    "UnsafePickleError",
    "MANO_PICKLE_KEYS",
    "MANO_SHAPES",
    "read_mano_pickle",
    "load_mano_pickle",
    "mano_dict_to_arrays",
    "fix_left_shapedirs",
    "side_from_filename",
]


_log = logging.getLogger(__name__)


class UnsafePickleError(DataError):
    """A pickle asked for a global (a function or class) the MANO loader does not allow: loading it could run code."""


# The keys a MANO pickle must hold, in the order they are checked (the first missing one is named).
MANO_PICKLE_KEYS: tuple[str, ...] = (
    "v_template",
    "f",
    "shapedirs",
    "posedirs",
    "J_regressor",
    "weights",
    "kintree_table",
    "hands_components",
    "hands_mean",
)

MANO_SHAPES: dict[str, tuple[int, ...]] = {
    "v_template": (778, 3),
    "f": (1538, 3),
    "shapedirs": (778, 3, 10),
    "posedirs": (778, 3, 135),
    "J_regressor": (16, 778),
    "weights": (778, 16),
    "kintree_table": (2, 16),
    "hands_components": (45, 45),
    "hands_mean": (45,),
}


# ------------------------------------------------------------------------------------------------------------------
# Inert records for the objects we rebuild ourselves


class _Record:
    """A pickled object of an allowed foreign class, kept as data: the class's dotted name and its state."""

    pickled_as = "?"

    def __new__(cls, *args: Any, **kwargs: Any) -> _Record:
        obj = super().__new__(cls)
        obj.args = args
        obj.state = None
        return obj

    def __setstate__(self, state: Any) -> None:
        self.state = state


def _record_class(dotted: str, base: type = _Record) -> type:
    return type(dotted.rsplit(".", 1)[-1], (base,), {"pickled_as": dotted})


class _ChumpyRecord(_Record):
    op = "?"


class _SparseRecord(_Record):
    layout = "?"


# chumpy classes we can evaluate, by class name -> the operation. Module paths: chumpy.ch, chumpy.reordering,
# chumpy.ch_ops (and the flat pre-package layout ch / reordering / ch_ops).
_CHUMPY_CLASSES: dict[str, tuple[str, ...]] = {
    "Ch": ("ch",),
    "Reshape": ("reordering",),
    "transpose": ("reordering",),
    "Select": ("reordering",),
    "Concatenate": ("reordering",),
    "Tile": ("reordering",),
    "Repeat": ("reordering",),
    "swapaxes": ("reordering",),
    "rollaxis": ("reordering",),
    "AtleastNd": ("reordering",),
    "add": ("ch_ops",),
    "subtract": ("ch_ops",),
    "multiply": ("ch_ops",),
    "divide": ("ch_ops",),
    "negative": ("ch_ops",),
    "dot": ("ch_ops",),
    "sum": ("ch_ops",),
    "power": ("ch_ops",),
}

_SPARSE_MODULES = (
    "scipy.sparse",
    "scipy.sparse.csc",
    "scipy.sparse.csr",
    "scipy.sparse._csc",
    "scipy.sparse._csr",
    "scipy.sparse.compressed",
    "scipy.sparse._compressed",
)
_SPARSE_CLASSES = {"csc_matrix": "csc", "csc_array": "csc", "csr_matrix": "csr", "csr_array": "csr"}


# ------------------------------------------------------------------------------------------------------------------
# Allowed callables (thin guards around numpy's own reconstruction functions)


def _latin1_encode(obj: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    # Python 3 writes bytes into protocol-2 pickles as _codecs.encode(text, "latin1").
    if encoding.lower().replace("_", "-") not in ("latin1", "latin-1", "iso-8859-1"):
        raise UnsafePickleError(f"_codecs.encode with encoding {encoding!r} is not allowed (only latin1)")
    return obj.encode("latin1", errors)


def _allowed_globals() -> dict[tuple[str, str], Any]:
    """(module, name) -> object. Built per load, not at import time."""
    reconstruct = np.ndarray.__reduce__(np.zeros(1))[0]  # numpy's _reconstruct, wherever this numpy keeps it
    scalar = np.float64(0).__reduce__()[0]
    frombuffer = np.zeros(1).__reduce_ex__(5)[0]

    def safe_reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
        if subtype is not np.ndarray:
            raise UnsafePickleError(f"numpy _reconstruct of {subtype!r} is not allowed (only numpy.ndarray)")
        return reconstruct(subtype, shape, dtype)

    def safe_reconstructor(cls: Any, base: Any, state: Any) -> Any:
        # copy_reg._reconstructor(cls, object, None): how protocols 0 and 1 rebuild new-style objects.
        if isinstance(cls, type) and issubclass(cls, _Record) and base is object and state is None:
            return cls.__new__(cls)
        raise UnsafePickleError(f"copy_reg._reconstructor({cls!r}, {base!r}, ...) is not allowed")

    allowed: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_encode,
        ("__builtin__", "set"): set,
        ("builtins", "set"): set,
        ("__builtin__", "frozenset"): frozenset,
        ("builtins", "frozenset"): frozenset,
        ("__builtin__", "object"): object,
        ("builtins", "object"): object,
        ("copy_reg", "_reconstructor"): safe_reconstructor,
        ("copyreg", "_reconstructor"): safe_reconstructor,
    }
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(mod, "_reconstruct")] = safe_reconstruct
        allowed[(mod, "scalar")] = scalar
    for mod in ("numpy.core.numeric", "numpy._core.numeric"):
        allowed[(mod, "_frombuffer")] = frombuffer
    return allowed


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BufferedIOBase, source: str) -> None:
        super().__init__(file, encoding="latin1")
        self._source = source
        self._allowed = _allowed_globals()
        self._records: dict[str, type] = {}

    def _record(self, dotted: str, base: type, **attrs: str) -> type:
        if dotted not in self._records:
            cls = _record_class(dotted, base)
            for k, v in attrs.items():
                setattr(cls, k, v)
            self._records[dotted] = cls
        return self._records[dotted]

    def find_class(self, module: str, name: str) -> Any:
        # Overriding find_class also bypasses pickle's Python-2 name mapping, so both spellings are listed.
        if (module, name) in self._allowed:
            return self._allowed[(module, name)]
        dotted = f"{module}.{name}"
        if module.split(".")[0] in ("chumpy", "ch", "reordering", "ch_ops"):
            submodule = module.split(".")[-1]
            if name in _CHUMPY_CLASSES and submodule in _CHUMPY_CLASSES[name]:
                return self._record(dotted, _ChumpyRecord, op=name)
            raise UnsafePickleError(
                f"{self._source}: refusing chumpy global '{dotted}': this loader evaluates only "
                f"{', '.join(sorted(_CHUMPY_CLASSES))} (is this a MANO model file?)"
            )
        if module in _SPARSE_MODULES and name in _SPARSE_CLASSES:
            return self._record(dotted, _SparseRecord, layout=_SPARSE_CLASSES[name])
        raise UnsafePickleError(
            f"{self._source}: refusing to load global '{dotted}': a MANO file needs only numpy arrays, chumpy "
            "arrays and a scipy sparse matrix, and any other global could run code. If this file is a genuine "
            "model, convert it where it was made."
        )

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"{self._source}: refusing a persistent id in the pickle")


# ------------------------------------------------------------------------------------------------------------------
# Records -> numpy


def _sparse_to_dense(rec: _SparseRecord, source: str) -> np.ndarray:
    state = rec.state if isinstance(rec.state, dict) else {}
    try:
        data = np.asarray(state["data"])
        indices = np.asarray(state["indices"], dtype=np.int64)
        indptr = np.asarray(state["indptr"], dtype=np.int64)
        shape = tuple(int(s) for s in state.get("_shape", state.get("shape")))
    except (KeyError, TypeError) as e:
        raise DataError(
            f"{source}: sparse matrix {rec.pickled_as} lacks {e} (expected data/indices/indptr/_shape)"
        ) from e
    if len(shape) != 2:
        raise DataError(f"{source}: sparse matrix {rec.pickled_as} has shape {shape}, expected 2-D")
    major, minor = (shape[1], shape[0]) if rec.layout == "csc" else shape
    if indptr.shape != (major + 1,) or indices.shape != data.shape or indptr[-1] != data.size:
        raise DataError(f"{source}: sparse matrix {rec.pickled_as} is inconsistent (indptr/indices/data sizes)")
    if indices.size and (indices.min() < 0 or indices.max() >= minor):
        raise DataError(f"{source}: sparse matrix {rec.pickled_as} has an index out of range")
    _check_size(float(shape[0]) * float(shape[1]), source, f"sparse matrix {rec.pickled_as}")
    dense = np.zeros(shape, dtype=np.float64)
    major_idx = np.repeat(np.arange(major), np.diff(indptr))
    rows, cols = (indices, major_idx) if rec.layout == "csc" else (major_idx, indices)
    np.add.at(dense, (rows, cols), data.astype(np.float64))  # add: duplicate entries sum, as in scipy
    return dense


MAX_ARRAY_ELEMENTS = 20_000_000
"""Largest array a MANO pickle may ask for (160 MB of float64; the real files' largest, posedirs, has 315,090
elements): a chumpy ``Tile`` or ``Repeat`` with huge factors is refused before anything is allocated."""

MAX_NESTING = 100
"""Deepest nesting of lists, dicts and chumpy terms accepted (the real files nest a few levels)."""


def _check_size(count: float, source: str, what: str) -> None:
    if count > MAX_ARRAY_ELEMENTS:
        raise DataError(
            f"{source}: {what} would make an array of {count:.3g} elements; a MANO model holds no "
            f"array above {MAX_ARRAY_ELEMENTS:,}"
        )


def _tile(a: np.ndarray, reps: Any, source: str) -> np.ndarray:
    factors = np.atleast_1d(np.asarray(reps, dtype=np.float64))
    _check_size(float(a.size) * float(np.prod(factors)), source, "chumpy Tile")
    return np.tile(a, reps)


def _repeat(a: np.ndarray, repeats: Any, axis: Any, source: str) -> np.ndarray:
    r = np.asarray(repeats, dtype=np.float64)
    total = float(a.size) * float(r.max() if r.size else 0.0) if axis is None or r.ndim else float(a.size) * float(r)
    _check_size(total, source, "chumpy Repeat")
    return np.repeat(a, repeats, axis)


def _dot(a: np.ndarray, b: np.ndarray, source: str) -> np.ndarray:
    rows, cols = float(np.prod(a.shape[:-1])), float(np.prod(b.shape[1:] if b.ndim > 1 else ()))
    _check_size(rows * cols, source, "chumpy dot")
    return a.dot(b)


def _chumpy_to_array(rec: _ChumpyRecord, source: str, visiting: set[int], depth: int = 0) -> np.ndarray:
    state = rec.state if isinstance(rec.state, dict) else {}

    def val(key: str) -> np.ndarray:
        if key not in state:
            raise DataError(f"{source}: chumpy {rec.pickled_as} has no '{key}'")
        return np.asarray(_to_plain(state[key], source, visiting, depth + 1), dtype=np.float64)

    def term(key: str, default: Any = None) -> Any:
        return _to_plain(state.get(key, default), source, visiting, depth + 1)

    op = rec.op
    ops: dict[str, Callable[[], np.ndarray]] = {
        "Ch": lambda: val("x"),
        "Reshape": lambda: val("a").reshape(term("newshape")),
        "transpose": lambda: np.transpose(val("a"), term("axes")),
        "Select": lambda: (
            val("a").ravel()[np.asarray(term("idxs"), dtype=np.int64)].reshape(term("preferred_shape"))
            if "preferred_shape" in state
            else val("a").ravel()[np.asarray(term("idxs"), dtype=np.int64)]
        ),
        "Concatenate": lambda: np.concatenate([val(k) for k in term("dterms", ())], axis=term("axis", 0)),
        "Tile": lambda: _tile(val("a"), term("reps"), source),
        "Repeat": lambda: _repeat(val("a"), term("repeats"), term("axis"), source),
        "swapaxes": lambda: np.swapaxes(val("a"), term("axis1"), term("axis2")),
        "rollaxis": lambda: np.rollaxis(val("a"), term("axis"), term("start", 0)),
        "AtleastNd": lambda: {1: np.atleast_1d, 2: np.atleast_2d, 3: np.atleast_3d}[term("ndims")](val("x")),
        "add": lambda: val("a") + val("b"),
        "subtract": lambda: val("a") - val("b"),
        "multiply": lambda: val("a") * val("b"),
        "divide": lambda: val("x1") / val("x2"),
        "negative": lambda: -val("x"),
        "dot": lambda: _dot(val("a"), val("b"), source),
        "sum": lambda: np.sum(val("x"), axis=term("axis")),
        "power": lambda: np.power(val("x"), val("pow")),
    }
    try:
        return np.asarray(ops[op]())
    except DataError:
        raise
    except (ValueError, TypeError, IndexError, KeyError) as e:
        raise DataError(f"{source}: cannot evaluate chumpy {rec.pickled_as}: {e}") from None


def _to_plain(obj: Any, source: str, visiting: set[int] | None = None, depth: int = 0) -> Any:
    """Replace records by numpy arrays, recursively through dicts, lists and tuples."""
    visiting = set() if visiting is None else visiting
    if isinstance(obj, (_ChumpyRecord, _SparseRecord, dict, list, tuple)):
        if id(obj) in visiting:
            raise DataError(f"{source}: the pickle contains a reference cycle")
        if depth > MAX_NESTING:
            raise DataError(f"{source}: values nested more than {MAX_NESTING} levels deep; not a MANO model")
        visiting.add(id(obj))
        try:
            if isinstance(obj, _ChumpyRecord):
                return _chumpy_to_array(obj, source, visiting, depth)
            if isinstance(obj, _SparseRecord):
                return _sparse_to_dense(obj, source)
            if isinstance(obj, dict):
                return {k: _to_plain(v, source, visiting, depth + 1) for k, v in obj.items()}
            return type(obj)(_to_plain(v, source, visiting, depth + 1) for v in obj)
        finally:
            visiting.discard(id(obj))
    if isinstance(obj, _Record):
        raise DataError(f"{source}: unexpected object {obj.pickled_as}")
    return obj


# ------------------------------------------------------------------------------------------------------------------
# Public API


def read_mano_pickle(path: str | os.PathLike) -> dict[str, Any]:
    """Load a MANO-style pickle safely, with every chumpy and sparse object turned into a dense numpy array.

    Args:
        path: a ``.pkl`` file (Python-2 or Python-3 pickle).

    Returns:
        The pickle's top-level dict with plain values (numpy arrays, strings, numbers). No key is checked here.

    Raises:
        MissingFileError: the file does not exist.
        UnsafePickleError: the pickle names a global outside the allowed set (the message names ``module.name``).
        DataError: not a pickle, or the top level is not a dict.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"MANO file not found: {path}")
    source = str(path)
    with open(path, "rb") as f:
        try:
            raw = _RestrictedUnpickler(f, source).load()
        except (UnsafePickleError, DataError):
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as e:
            raise DataError(f"{source}: not a readable MANO pickle ({type(e).__name__}: {e})") from None
        except RecursionError:
            raise DataError(f"{source}: values nested too deeply to be a MANO model") from None
        except (MemoryError, OverflowError):  # a frame or string length no file of this size can hold
            raise DataError(
                f"{source}: not a readable MANO pickle (it announces a record larger than the file, "
                f"{path.stat().st_size:,} bytes)"
            ) from None
    if not isinstance(raw, dict):
        raise DataError(f"{source}: not a MANO model: the pickle holds a {type(raw).__name__}, expected a dict")
    return _to_plain(raw, source)


def side_from_filename(path: str | os.PathLike) -> bool | None:
    """True for ``*RIGHT*``, False for ``*LEFT*`` (case-insensitive, as MANO names its files), else None."""
    name = Path(path).name.upper()
    if "RIGHT" in name and "LEFT" not in name:
        return True
    if "LEFT" in name and "RIGHT" not in name:
        return False
    return None


def fix_left_shapedirs(
    left_shapedirs: np.ndarray, right_shapedirs: np.ndarray | None = None
) -> tuple[np.ndarray, bool]:
    """Negate the x component of the left model's ``shapedirs`` where it still equals the right model's.

    The left MANO model is the right one mirrored in x, so its shape blend shapes must be the right ones with the x
    component negated; the official ``MANO_LEFT.pkl`` ships the right model's values (smplx issue #48).

    Args:
        left_shapedirs: ``(V, 3, 10)`` from the left file.
        right_shapedirs: ``(V, 3, 10)`` from the right file, when available: the fix is then applied only if the
            left x component equals the right one (a file fixed already is left alone). Without it the fix is
            applied, as every official left file needs it. Default: None.

    Returns:
        ``(shapedirs, applied)``.
    """
    if right_shapedirs is not None and right_shapedirs.shape == left_shapedirs.shape:
        lx, rx = left_shapedirs[:, 0], right_shapedirs[:, 0]
        tol = 1e-6 * max(float(np.abs(rx).max()), 1e-12)
        if not np.allclose(lx, rx, rtol=0, atol=tol):
            return left_shapedirs, False
    fixed = np.array(left_shapedirs, copy=True)
    fixed[:, 0] *= -1.0
    return fixed, True


def mano_dict_to_arrays(
    data: dict[str, Any], source: str, *, is_right: bool, tip_vertex_ids: tuple[int, ...] = MANO_TIP_VERTEX_IDS
) -> HandModelArrays:
    """Turn a plain MANO dict (see :func:`read_mano_pickle`) into validated :class:`HandModelArrays`.

    Args:
        data: holds :data:`MANO_PICKLE_KEYS` with MANO's shapes (:data:`MANO_SHAPES`).
        source: how errors name the data.
        is_right: the side the file describes.
        tip_vertex_ids: fingertip vertices. Default: FreiHAND's
            (:data:`~handmesh.hand_model.keypoints.MANO_TIP_VERTEX_IDS`).

    Raises:
        DataError: naming the first missing key (``not a MANO model: missing key 'posedirs'``) or a key whose
            shape differs from MANO's.
    """
    for key in MANO_PICKLE_KEYS:
        if key not in data:
            raise DataError(
                f"{source}: not a MANO model: missing key '{key}' (MANO files hold {', '.join(MANO_PICKLE_KEYS)})"
            )
    for key, shape in MANO_SHAPES.items():
        got = np.shape(data[key])
        if got != shape:
            raise DataError(f"{source}: '{key}' has shape {got}, expected {shape} (MANO)")
    parents = np.asarray(data["kintree_table"])[0].astype(np.int64)
    parents[0] = -1  # stored as 4294967295 (uint32 -1)
    # Our contract is outward winding on both sides; a left model mirrored from the right one without re-winding
    # its faces would face inward, so check rather than trust the file.
    faces, _ = orient_faces_outward(np.asarray(data["v_template"]), np.asarray(data["f"]).astype(np.int64))
    return arrays_from_mapping(
        {
            "v_template": data["v_template"],
            "faces": faces,
            "shapedirs": data["shapedirs"],
            "posedirs": data["posedirs"],
            "J_regressor": data["J_regressor"],
            "weights": data["weights"],
            "parents": parents,
            "hands_components": data["hands_components"],
            "hands_mean": data["hands_mean"],
            "tip_vertex_ids": np.asarray(tip_vertex_ids),
            "is_right": is_right,
            "name": "mano",
        },
        source=source,
        require_version=False,
    )


def load_mano_pickle(
    path: str | os.PathLike,
    *,
    is_right: bool | None = None,
    right_reference: str | os.PathLike | HandModelArrays | None = None,
    fix_left: bool = True,
) -> HandModelArrays:
    """Load ``MANO_RIGHT.pkl`` or ``MANO_LEFT.pkl`` as validated model arrays (float32, FreiHAND fingertips).

    Args:
        path: the pickle.
        is_right: the side; Default: None (from the file name, as MANO names its files).
        right_reference: for a left file, the right model (its ``.pkl``/``.npz`` path or arrays) used to check
            whether the ``shapedirs`` fix is needed; Default: None (``MANO_RIGHT.npz``/``.pkl`` beside the left
            file if present, else the fix is applied unconditionally).
        fix_left: apply :func:`fix_left_shapedirs` to a left file. Default: True.

    Returns:
        The model arrays, ``name="mano"``.

    Raises:
        MissingFileError, UnsafePickleError, DataError: see :func:`read_mano_pickle` and :func:`mano_dict_to_arrays`.
    """
    path = Path(path)
    if is_right is None:
        is_right = side_from_filename(path)
        if is_right is None:
            raise DataError(f"{path}: cannot tell the side from the file name; pass is_right=True or False")
    data = read_mano_pickle(path)
    if not is_right and fix_left:
        right = _right_shapedirs(path, right_reference)
        if np.shape(data.get("shapedirs")) == MANO_SHAPES["shapedirs"]:
            data["shapedirs"], applied = fix_left_shapedirs(np.asarray(data["shapedirs"]), right)
            how = "checked against the right model" if right is not None else "no right model beside it to check"
            _log.info(
                "%s: %s (%s)",
                path,
                "negated the x component of shapedirs (smplx issue #48)" if applied else "shapedirs already mirrored",
                how,
            )
    return mano_dict_to_arrays(data, str(path), is_right=is_right)


def _right_shapedirs(left_path: Path, reference: str | os.PathLike | HandModelArrays | None) -> np.ndarray | None:
    """The right model's shapedirs for the left-file check, or None when no right model is at hand."""
    if isinstance(reference, HandModelArrays):
        return reference.shapedirs
    if reference is None:
        for name in ("MANO_RIGHT.npz", "MANO_RIGHT.pkl"):
            if (left_path.parent / name).is_file():
                reference = left_path.parent / name
                break
        else:
            return None
    reference = Path(reference)
    if reference.suffix == ".npz":
        from handmesh.hand_model.model_file import read_model_file

        return read_model_file(reference).shapedirs
    return np.asarray(read_mano_pickle(reference)["shapedirs"])
