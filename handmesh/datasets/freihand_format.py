"""The FreiHAND folder layout: file names, official counts, image ids, a layout check and a writer.

The official release (FreiHAND_pub_v2 plus the evaluation ground truth) unpacks to::

    ROOT/
      training_K.json      (32560, 3, 3)   camera intrinsics, pixels
      training_xyz.json    (32560, 21, 3)  keypoints in the camera frame, metres
      training_mano.json   (32560, 1, 61)  48 pose (axis-angle, relative to hands_mean), 10 shape, 2 root uv, 1 scale
      training_scale.json  (32560,)        metric length of a reference bone, metres
      training_verts.json  (32560, 778, 3) MANO vertices in the camera frame, metres (optional)
      training/rgb/%08d.jpg                224x224; image id = idx + 32560 * k for k = gs, hom, sample, auto
      training/mask/%08d.jpg               hand mask of annotation idx (optional)
      evaluation_K.json, evaluation_scale.json       (3960, ...)
      evaluation_xyz.json, evaluation_verts.json, evaluation_mano.json   ground truth (present in v2)
      evaluation/rgb/%08d.jpg              3960 images (one version)

Counts are read from the files, never assumed: a synthetic set in this layout may hold fewer samples and one image
version. The official counts appear in messages so that a truncated download is easy to recognise.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from handmesh.errors import ConfigError, MissingFileError
from handmesh.utils.atomic import atomic_open

#: FreiHAND's file prefixes. The dataset class adds the "train"/"val" carve-outs of "training".
SPLITS: tuple[str, ...] = ("training", "evaluation")
#: Image versions of the training split in id order: green screen, homogenized, sample-point and automatic colouring.
VERSIONS: tuple[str, ...] = ("gs", "hom", "sample", "auto")
#: Number of annotations in the official release (the training images number 4 x 32,560 = 130,240).
OFFICIAL_COUNTS: dict[str, int] = {"training": 32560, "evaluation": 3960}
#: Annotation kinds, their file suffix, and the accepted shapes of one entry (mano entries are (1, 61) officially).
ANNOTATION_SHAPES: dict[str, tuple[tuple[int, ...], ...]] = {
    "K": ((3, 3),),
    "xyz": ((21, 3),),
    "mano": ((1, 61), (61,)),
    "scale": ((), (1,)),
    "verts": ((778, 3),),
}
NUM_JOINTS = 21
NUM_VERTS = 778
MANO_PARAMS = 61


def annotation_path(root: str | os.PathLike, split: str, kind: str) -> Path:
    """``ROOT/{split}_{kind}.json``, e.g. ``training_xyz.json``."""
    _check_split(split)
    if kind not in ANNOTATION_SHAPES:
        raise ConfigError(f"FreiHAND annotation kind {kind!r}: expected one of {', '.join(ANNOTATION_SHAPES)}")
    return Path(root) / f"{split}_{kind}.json"


def image_id(index: int | np.ndarray, version: str, num_annotations: int) -> int | np.ndarray:
    """Image id of annotation ``index`` in image ``version``: ``index + num_annotations * k``, k = position in VERSIONS.

    Args:
        index: annotation index (or an integer array of them), 0 <= index < num_annotations.
        version: one of :data:`VERSIONS`; the evaluation split has only "gs".
        num_annotations: annotations in the split (32,560 for the official training split).
    """
    return index + num_annotations * version_position(version)


def version_position(version: str) -> int:
    """Position k of ``version`` in :data:`VERSIONS` (gs 0, hom 1, sample 2, auto 3)."""
    if version not in VERSIONS:
        raise ConfigError(f"FreiHAND image version {version!r}: expected one of {', '.join(VERSIONS)}")
    return VERSIONS.index(version)


def image_path(root: str | os.PathLike, split: str, image_id_: int) -> Path:
    """``ROOT/{split}/rgb/{image_id:08d}.jpg``."""
    _check_split(split)
    return Path(root) / split / "rgb" / f"{int(image_id_):08d}.jpg"


def mask_path(root: str | os.PathLike, index: int) -> Path:
    """``ROOT/training/mask/{index:08d}.jpg`` (masks exist for the training split, one per annotation)."""
    return Path(root) / "training" / "mask" / f"{int(index):08d}.jpg"


def expected_layout(root: str | os.PathLike) -> str:
    """A short picture of the folder layout, for error messages."""
    n_tr, n_ev = OFFICIAL_COUNTS["training"], OFFICIAL_COUNTS["evaluation"]
    return (
        f"expected FreiHAND layout under {root}:\n"
        f"  training_K.json, training_xyz.json, training_mano.json  ({n_tr:,} entries each; "
        f"training_scale.json, training_verts.json optional)\n"
        f"  training/rgb/%08d.jpg   image id = idx + {n_tr:,} * k, k = 0..3 for versions gs, hom, sample, auto\n"
        f"  training/mask/%08d.jpg  (optional)\n"
        f"  evaluation_K.json  ({n_ev:,} entries; evaluation_xyz.json, evaluation_verts.json, evaluation_mano.json "
        f"hold the ground truth)\n"
        f"  evaluation/rgb/%08d.jpg\n"
        f"Download FreiHAND_pub_v2.zip and FreiHAND_pub_v2_eval.zip from the FreiHAND project page and unpack both "
        f"into one folder (see data/README.md)."
    )


def check_layout(
    root: str | os.PathLike,
    split: str,
    annotations: Iterable[str] = ("K",),
    images: bool = False,
    masks: bool = False,
) -> None:
    """Raise one :class:`MissingFileError` listing everything missing for ``split`` (not just the first file).

    Args:
        root: the FreiHAND folder.
        split: "training" or "evaluation".
        annotations: annotation kinds that must exist (see :data:`ANNOTATION_SHAPES`). Default: ("K",).
        images: whether ``{split}/rgb/`` must exist. Default: False.
        masks: whether ``training/mask/`` must exist. Default: False.
    """
    _check_split(split)
    root = Path(root)
    if not root.is_dir():
        raise MissingFileError(f"FreiHAND folder {root} does not exist; {expected_layout(root)}")
    paths = [annotation_path(root, split, k) for k in annotations]
    missing = [p.name for p in paths if not p.is_file()]
    if images and not (root / split / "rgb").is_dir():
        missing.append(f"{split}/rgb/ (folder of %08d.jpg images)")
    if masks and not (root / "training" / "mask").is_dir():
        missing.append("training/mask/ (folder of %08d.jpg masks)")
    if missing:
        listed = "\n".join(f"  {m}" for m in missing)
        raise MissingFileError(
            f"FreiHAND folder {root} lacks {len(missing)} item(s) needed for the {split} split:\n{listed}\n"
            f"{expected_layout(root)}"
        )


def write_freihand_split(
    root: str | os.PathLike,
    split: str,
    *,
    K: np.ndarray,
    xyz: np.ndarray | None = None,
    mano: np.ndarray | None = None,
    scale: np.ndarray | None = None,
    verts: np.ndarray | None = None,
    images: Sequence[np.ndarray] | None = None,
    image_ids: Sequence[int] | None = None,
    masks: Sequence[np.ndarray] | None = None,
    jpeg_quality: int = 95,
) -> None:
    """Write annotations (and optionally images and masks) in the official FreiHAND structure.

    JSON files hold nested lists exactly as the release does: ``K`` entries are 3x3 lists, ``xyz`` 21x3, ``mano``
    a list holding one list of 61 numbers, ``scale`` plain numbers, ``verts`` 778x3. Every file is written atomically.

    Args:
        root: destination folder (created).
        split: "training" or "evaluation".
        K: (N, 3, 3) intrinsics in pixels.
        xyz: (N, 21, 3) keypoints, metres, camera frame. Default: not written.
        mano: (N, 61) or (N, 1, 61) MANO parameters (48 pose, 10 shape, 2 root uv, 1 scale). Default: not written.
        scale: (N,) reference bone length, metres. Default: not written.
        verts: (N, 778, 3) vertices, metres, camera frame. Default: not written.
        images: RGB uint8 (H, W, 3) images, written as ``{split}/rgb/%08d.jpg``. Default: none.
        image_ids: the id of each image. Default: 0, 1, 2, ... (for N annotations and 4 versions: idx + N * k).
        masks: uint8 (H, W) masks of the training annotations, written as ``training/mask/%08d.jpg``. Default: none.
        jpeg_quality: JPEG quality 0-100. Default: 95.
    """
    import cv2

    _check_split(split)
    root = Path(root)
    n = len(K)
    arrays = {"K": (K, (n, 3, 3)), "xyz": (xyz, (n, 21, 3)), "scale": (scale, (n,)), "verts": (verts, (n, 778, 3))}
    if mano is not None:
        arrays["mano"] = (np.asarray(mano, dtype=np.float64).reshape(n, 1, MANO_PARAMS), (n, 1, MANO_PARAMS))
    for kind, (arr, shape) in arrays.items():
        if arr is None:
            continue
        arr = np.asarray(arr, dtype=np.float64)
        if arr.shape != shape:
            raise ConfigError(f"write_freihand_split: {kind} has shape {arr.shape}, expected {shape}")
        with atomic_open(annotation_path(root, split, kind), "w") as f:
            # json writes each float with repr, which round-trips float64 exactly (as the official files do).
            json.dump(arr.tolist(), f)
    params = [int(cv2.IMWRITE_JPEG_QUALITY), int(jpeg_quality)]
    ids = list(image_ids) if image_ids is not None else list(range(len(images or [])))
    for img, iid in zip(images or [], ids, strict=True):
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(np.asarray(img, np.uint8), cv2.COLOR_RGB2BGR), params)
        with atomic_open(image_path(root, split, iid), "wb") as f:
            f.write(buf.tobytes())
    for i, m in enumerate(masks or []):
        ok, buf = cv2.imencode(".jpg", np.asarray(m, np.uint8), params)
        with atomic_open(mask_path(root, i), "wb") as f:
            f.write(buf.tobytes())


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ConfigError(f"FreiHAND split {split!r}: expected one of {', '.join(SPLITS)}")
