"""``build_hand_model``: the one entry point that maps a model name and side to a :class:`HandModel`.

* ``"open"``: the licence-free hand shipped in ``handmesh/assets/open_hand_right.npz``; the left hand is its mirror
  image (:func:`~handmesh.hand_model.mirror.mirror_model_arrays`).
* ``"mano"``: ``MANO_RIGHT`` / ``MANO_LEFT`` from the first folder that has it: the ``model_dir`` argument (a folder
  or a file), else ``$HANDMESH_MANO_DIR``, else ``data/mano/`` (in the working directory, then in the source
  checkout). In a folder the compact ``.npz`` written by ``handmesh-mano convert`` is preferred over the ``.pkl``.
"""

from __future__ import annotations

import os
from pathlib import Path

from handmesh.errors import ConfigError, MissingFileError
from handmesh.hand_model.model import HandModel
from handmesh.hand_model.model_file import HandModelArrays, read_model_file

__all__ = [
    "HAND_MODEL_NAMES",
    "MANO_DIR_ENV",
    "MANO_URL",
    "OPEN_HAND_ASSET",
    "build_hand_model",
    "load_model_arrays",
    "find_mano_file",
    "mano_search_dirs",
]

HAND_MODEL_NAMES = ("open", "mano")
MANO_DIR_ENV = "HANDMESH_MANO_DIR"
MANO_URL = "https://mano.is.tue.mpg.de"
OPEN_HAND_ASSET = "open_hand_right.npz"
_ASSETS = Path(__file__).resolve().parents[1] / "assets"
_CHECKOUT_ROOT = Path(__file__).resolve().parents[2]


def _side_is_right(side: str) -> bool:
    s = str(side).lower()
    if s not in ("right", "left"):
        raise ConfigError(f"side: expected 'right' or 'left', got {side!r}")
    return s == "right"


def mano_search_dirs(model_dir: str | os.PathLike | None = None) -> list[Path]:
    """Where MANO files are looked for, in order (see the module docstring)."""
    if model_dir is not None:
        return [Path(model_dir)]
    dirs: list[Path] = []
    env = os.environ.get(MANO_DIR_ENV)
    if env:
        dirs.append(Path(env))
    for root in (Path.cwd(), _CHECKOUT_ROOT):
        d = root / "data" / "mano"
        if d.resolve() not in [x.resolve() for x in dirs]:
            dirs.append(d)
    return dirs


def find_mano_file(side: str = "right", model_dir: str | os.PathLike | None = None) -> Path:
    """Locate ``MANO_{RIGHT,LEFT}.npz`` (preferred) or ``.pkl``.

    Args:
        side: ``"right"`` or ``"left"``. Default: ``"right"``.
        model_dir: a folder, or a file used as is. Default: None (``$HANDMESH_MANO_DIR``, then ``data/mano/``).

    Returns:
        The file to load.

    Raises:
        MissingFileError: nothing found; the message says where to get MANO and where to put it.
    """
    stem = "MANO_RIGHT" if _side_is_right(side) else "MANO_LEFT"
    if model_dir is not None and Path(model_dir).is_file():
        return Path(model_dir)
    searched = mano_search_dirs(model_dir)
    for d in searched:
        for ext in (".npz", ".pkl"):
            if (d / f"{stem}{ext}").is_file():
                return d / f"{stem}{ext}"
    raise MissingFileError(
        f"{stem}.pkl not found (looked in: {', '.join(str(d) for d in searched)}). MANO is licence-gated, so "
        f"handmesh cannot ship or download it: register at {MANO_URL}, download 'Models & Code', and put "
        f"MANO_RIGHT.pkl and MANO_LEFT.pkl (from mano_v1_2/models/) in data/mano/, or point ${MANO_DIR_ENV} or "
        f"model_dir at their folder. Then `handmesh-mano convert data/mano/{stem}.pkl` writes a faster .npz. "
        "Without MANO, use the shipped open hand (hand model name 'open')."
    )


def load_model_arrays(
    name: str = "open", side: str = "right", model_dir: str | os.PathLike | None = None
) -> HandModelArrays:
    """The validated arrays behind :func:`build_hand_model` (same arguments)."""
    is_right = _side_is_right(side)
    name = str(name).lower()
    if name == "open":
        path = _ASSETS / OPEN_HAND_ASSET
        if not path.is_file():
            raise MissingFileError(f"the open hand asset is missing: {path} (a broken installation?)")
        arrays = read_model_file(path)
        if arrays.is_right != is_right:
            from handmesh.hand_model.mirror import mirror_model_arrays

            arrays = mirror_model_arrays(arrays)
        return arrays
    if name == "mano":
        path = find_mano_file(side, model_dir)
        if path.suffix == ".npz":
            arrays = read_model_file(path)
        else:
            from handmesh.hand_model.mano_pickle import load_mano_pickle, side_from_filename

            if side_from_filename(path) not in (None, is_right):
                raise ConfigError(f"{path}: the file name says the other hand, but side={side!r} was asked for")
            arrays = load_mano_pickle(path, is_right=is_right)
        if arrays.is_right != is_right:
            raise ConfigError(
                f"{path}: holds a {'right' if arrays.is_right else 'left'} hand, but side={side!r} was asked for"
            )
        return arrays
    raise ConfigError(f"hand model name: expected one of {', '.join(HAND_MODEL_NAMES)}, got {name!r}")


def build_hand_model(
    name: str = "open",
    side: str = "right",
    model_dir: str | os.PathLike | None = None,
    *,
    flat_hand_mean: bool = False,
    use_pca: bool = False,
    num_pca_comps: int = 6,
) -> HandModel:
    """Build a hand model layer.

    Args:
        name: ``"open"`` (shipped, licence-free) or ``"mano"`` (needs the MANO files). Default: ``"open"``.
        side: ``"right"`` or ``"left"``. Default: ``"right"``.
        model_dir: for MANO, a folder holding ``MANO_{RIGHT,LEFT}.{npz,pkl}`` or the file itself. Default: None
            (``$HANDMESH_MANO_DIR``, then ``data/mano/``).
        flat_hand_mean: axis-angle finger poses are absolute (True) or offsets from ``hands_mean`` (False, MANO's
            and FreiHAND's convention). Default: False.
        use_pca: ``hand_pose`` holds PCA coefficients. Default: False.
        num_pca_comps: number of PCA coefficients (45 turns PCA off, as in smplx). Default: 6.

    Returns:
        A :class:`~handmesh.hand_model.model.HandModel` on the CPU, float32.

    Raises:
        ConfigError: unknown name or side.
        MissingFileError: MANO requested but not found (the message says where to get it and where to put it).
        DataError: a model file is malformed (the message names the key).
    """
    arrays = load_model_arrays(name, side, model_dir)
    return HandModel(arrays, flat_hand_mean=flat_hand_mean, use_pca=use_pca, num_pca_comps=num_pca_comps)
