"""FreiHAND annotations as NumPy arrays, validated once and cached.

The small files (K, xyz, mano, scale) become one compact ``.npz``; the vertex file (1.5 GB of JSON for the training
split) becomes a raw float64 file that is memory-mapped, so a dataset and its DataLoader workers share the pages and
read only the samples they use. Both caches are keyed by the size and modification time of their source files and
are rebuilt when a source changes. Values stay float64, exactly as ``json.load`` would read them, so evaluation on
cached ground truth equals evaluation on the original files.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from handmesh.datasets.freihand_format import (
    ANNOTATION_SHAPES,
    MANO_PARAMS,
    OFFICIAL_COUNTS,
    annotation_path,
    check_layout,
)
from handmesh.datasets.json_arrays import read_json_array
from handmesh.errors import DataError
from handmesh.utils.atomic import atomic_open, atomic_write_json

logger = logging.getLogger(__name__)

_SMALL_KINDS = ("K", "xyz", "mano", "scale")
_CACHE_VERSION = 1


@dataclass
class FreiHANDAnnotations:
    """All annotations of one split, as arrays indexed by annotation index.

    Attributes:
        root: the FreiHAND folder.
        split: "training" or "evaluation".
        K: (N, 3, 3) float64 intrinsics in pixels.
        xyz: (N, 21, 3) float64 keypoints in metres, camera frame; None where ``{split}_xyz.json`` is absent.
        mano: (N, 61) float64 MANO parameters (48 pose relative to hands_mean, 10 shape, 2 root uv, 1 scale);
            None where absent.
        scale: (N,) float64 reference bone length in metres; None where absent.
        verts: (N, 778, 3) float64 vertices in metres, camera frame, usually a read-only memory map; None where
            absent or not requested.
    """

    root: Path
    split: str
    K: np.ndarray
    xyz: np.ndarray | None = None
    mano: np.ndarray | None = None
    scale: np.ndarray | None = None
    verts: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.K)

    def __getstate__(self) -> dict:
        # A memory map would be pickled as a full copy of its data (600 MB for training vertices) when DataLoader
        # workers are spawned rather than forked: send the file name instead and map it again on the other side.
        state = dict(self.__dict__)
        if isinstance(self.verts, np.memmap) and self.verts.filename is not None:
            state["verts"] = ("memmap", str(self.verts.filename), tuple(self.verts.shape))
        return state

    def __setstate__(self, state: dict) -> None:
        verts = state.get("verts")
        if isinstance(verts, tuple) and verts and verts[0] == "memmap":
            state["verts"] = np.memmap(verts[1], dtype=np.float64, mode="r", shape=verts[2])
        self.__dict__.update(state)


def default_cache_dir(root: str | os.PathLike) -> Path:
    """Where caches of ``root`` go: ``$HANDMESH_CACHE_DIR/freihand-<hash>`` if that variable is set, else
    ``ROOT/.handmesh_cache`` if ROOT is writable, else ``~/.cache/handmesh/freihand-<hash>`` (hash of the path)."""
    root = Path(root).resolve()
    tag = "freihand-" + hashlib.sha1(str(root).encode()).hexdigest()[:12]
    env = os.environ.get("HANDMESH_CACHE_DIR")
    if env:
        return Path(env) / tag
    if os.access(root, os.W_OK):
        return root / ".handmesh_cache"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "handmesh" / tag


def load_annotations(
    root: str | os.PathLike,
    split: str,
    *,
    require: tuple[str, ...] = ("K",),
    load_verts: bool = True,
    cache_dir: str | os.PathLike | bool | None = None,
    progress: bool = False,
) -> FreiHANDAnnotations:
    """Load and validate the annotations of one FreiHAND split.

    Args:
        root: the FreiHAND folder.
        split: "training" or "evaluation".
        require: annotation kinds that must exist ("K", "xyz", "mano", "scale", "verts"); all missing files are
            reported at once. Others are loaded when present. Default: ("K",).
        load_verts: whether to load ``{split}_verts.json`` when present (first use converts it, ~15 s for the
            training split). Default: True.
        cache_dir: folder for the caches; ``False`` disables caching; ``None`` picks :func:`default_cache_dir`.
            Default: None.
        progress: show a progress bar while converting the vertex file. Default: False.

    Raises:
        MissingFileError: required files are missing (all of them listed, with the expected layout).
        DataError: a file is malformed, or the files disagree on the number of samples.
    """
    root = Path(root)
    check_layout(root, split, annotations=require)
    cache = _resolve_cache(root, cache_dir)
    small = _load_small(root, split, cache)
    verts = None
    counts = {annotation_path(root, split, k).name: len(v) for k, v in small.items()}
    if load_verts and annotation_path(root, split, "verts").is_file():
        verts = _load_verts(root, split, cache, progress)
        counts[annotation_path(root, split, "verts").name] = len(verts)
    _check_counts(split, counts)
    ann = FreiHANDAnnotations(root=root, split=split, verts=verts, **small)
    official = OFFICIAL_COUNTS[split]
    if len(ann) != official:
        logger.info(
            "FreiHAND %s split at %s has %d samples (the official release has %d)", split, root, len(ann), official
        )
    return ann


def _check_counts(split: str, counts: dict[str, int]) -> None:
    if len(set(counts.values())) > 1:
        listed = ", ".join(f"{name} has {n:,}" for name, n in counts.items())
        raise DataError(
            f"FreiHAND {split} annotation files disagree on the number of samples: {listed} entries "
            f"(the official {split} split has {OFFICIAL_COUNTS[split]:,}; one entry per annotation index)"
        )


def _resolve_cache(root: Path, cache_dir: str | os.PathLike | bool | None) -> Path | None:
    if cache_dir is False:
        return None
    path = default_cache_dir(root) if cache_dir in (None, True) else Path(cache_dir)  # type: ignore[arg-type]
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        logger.warning("cannot create the annotation cache %s (%s); reading the JSON files every time", path, e)
        return None
    return path


def _file_key(paths: list[Path]) -> dict[str, list[int]]:
    """Size and modification time of each source file: a cache is valid while these are unchanged."""
    key: dict[str, list[int]] = {}
    for p in paths:
        st = p.stat()
        key[p.name] = [st.st_size, st.st_mtime_ns]
    return key


def _load_small(root: Path, split: str, cache: Path | None) -> dict[str, np.ndarray]:
    """K, xyz, mano, scale (those present) as float64 arrays; mano flattened to (N, 61)."""
    paths = {k: annotation_path(root, split, k) for k in _SMALL_KINDS}
    present = {k: p for k, p in paths.items() if p.is_file()}
    key = json.dumps({"version": _CACHE_VERSION, "files": _file_key(list(present.values()))}, sort_keys=True)
    cache_file = cache / f"{split}_annotations.npz" if cache is not None else None
    if cache_file is not None and cache_file.is_file():
        try:
            with np.load(cache_file, allow_pickle=False) as z:
                if str(z["key"]) == key:
                    return {k: z[k] for k in present}
        except (OSError, ValueError, KeyError) as e:
            logger.warning("ignoring an unreadable annotation cache %s (%s)", cache_file, e)
    arrays: dict[str, np.ndarray] = {}
    for kind, path in present.items():
        arr, _ = read_json_array(path, ANNOTATION_SHAPES[kind])
        assert arr is not None
        if kind == "mano":
            arr = arr.reshape(len(arr), MANO_PARAMS)
        elif kind == "scale":
            arr = arr.reshape(len(arr))
        arrays[kind] = arr
    if cache_file is not None:
        try:
            buf = io.BytesIO()
            np.savez(buf, key=np.array(key), **arrays)
            with atomic_open(cache_file, "wb") as f:
                f.write(buf.getvalue())
        except OSError as e:
            logger.warning("could not write the annotation cache %s (%s)", cache_file, e)
    return arrays


def _load_verts(root: Path, split: str, cache: Path | None, progress: bool) -> np.ndarray:
    """(N, 778, 3) float64 vertices: a read-only memory map of the cache, converted from JSON on first use."""
    src = annotation_path(root, split, "verts")
    if cache is None:
        arr, _ = read_json_array(src, ANNOTATION_SHAPES["verts"])
        assert arr is not None
        return arr
    raw = cache / f"{split}_verts.f64"
    meta_path = cache / f"{split}_verts.json"
    key = {"version": _CACHE_VERSION, "files": _file_key([src])}
    if raw.is_file() and meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            shape = tuple(meta["shape"])
            if meta["key"] == key and raw.stat().st_size == 8 * int(np.prod(shape)):
                return np.memmap(raw, dtype=np.float64, mode="r", shape=shape)
        except (OSError, ValueError, KeyError, TypeError) as e:
            logger.warning("ignoring an unreadable vertex cache %s (%s)", meta_path, e)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=src.stat().st_size, unit="B", unit_scale=True, desc=f"converting {src.name} (once)")

    def on_progress(done: int, total: int) -> None:
        if bar is not None:
            bar.update(done - bar.n)

    try:
        _, shape = read_json_array(src, ANNOTATION_SHAPES["verts"], out_file=raw, on_progress=on_progress)
        atomic_write_json(meta_path, {"key": key, "shape": list(shape)})
    except OSError as e:
        logger.warning("could not write the vertex cache %s (%s); keeping the vertices in memory", raw, e)
        arr, _ = read_json_array(src, ANNOTATION_SHAPES["verts"])
        assert arr is not None
        return arr
    finally:
        if bar is not None:
            bar.close()
    return np.memmap(raw, dtype=np.float64, mode="r", shape=shape)
