"""FreiHAND as a PyTorch dataset: images decoded with OpenCV, cropped and augmented consistently with the 3D targets.

Splits:
    ``"training"``: every training annotation; ``"train"`` and ``"val"``: a reproducible carve-out of it by
    annotation index (all image versions of one index fall on the same side); ``"evaluation"``: the 3,960 evaluation
    images in file order (the order of a CodaLab ``pred.json``).

Image versions (training only): FreiHAND stores each training annotation ``idx`` four times, as image ids
``idx + N * k`` for k = gs (green screen), hom, sample, auto. ``versions=None`` uses every version whose images are
on disk (all four for the official release, one for a synthetic set that writes only ids ``0..N-1``); a list
selects versions and fails if their images are missing. Items are ordered version-major (ascending image id).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypedDict

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from handmesh.crop import DEFAULT_EXPAND, FREIHAND_FRAME_FRACTION, keypoint_crop_box
from handmesh.datasets.annotations import FreiHANDAnnotations, load_annotations
from handmesh.datasets.augment import (
    AugmentParams,
    CropTransform,
    add_occluders,
    color_augment,
    crop_transform,
    rotate_global_orient,
    sample_crop_transform,
    warp_image,
)
from handmesh.datasets.freihand_format import (
    NUM_JOINTS,
    NUM_VERTS,
    OFFICIAL_COUNTS,
    VERSIONS,
    check_layout,
    image_path,
    mask_path,
)
from handmesh.errors import ConfigError, DataError, MissingFileError
from handmesh.geometry.projection import project_pinhole

logger = logging.getLogger(__name__)

#: Network input normalization (ImageNet statistics, RGB).
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
SPLIT_CHOICES: tuple[str, ...] = ("train", "val", "training", "evaluation")
#: Default seed of the validation carve-out (independent of the training seed, so changing that keeps the split).
VAL_SEED = 0


class _HandSampleRequired(TypedDict):
    image: torch.Tensor  # (3, S, S) float32, ImageNet-normalized RGB
    K: torch.Tensor  # (3, 3) float32 intrinsics of the crop, pixels
    xyz: torch.Tensor  # (21, 3) float32 keypoints, metres, camera frame (after augmentation)
    uv: torch.Tensor  # (21, 2) float32 keypoints projected into the crop, pixels
    verts: torch.Tensor  # (778, 3) float32 vertices, metres, camera frame; zeros when has_verts is False
    has_verts: torch.Tensor  # () bool
    mano_pose: torch.Tensor  # (48,) float32 axis-angle as stored (relative to hands_mean), global orient rotated
    mano_shape: torch.Tensor  # (10,) float32
    has_mano: torch.Tensor  # () bool
    crop_affine: torch.Tensor  # (2, 3) float32, original-image pixels -> crop pixels
    index: torch.Tensor  # () int64 annotation index
    image_id: torch.Tensor  # () int64 image id (the file name number)
    has_xyz: torch.Tensor  # () bool; False for evaluation images without ground truth (xyz, uv are zeros)
    valid: torch.Tensor  # () bool; False only for an unreadable image kept in place with skip_bad (image zeros)


class HandSample(_HandSampleRequired, total=False):
    """One FreiHAND sample (a dict of tensors; batches of them collate with the default collate function).

    Keys (shapes per sample): ``image (3, S, S)``, ``K (3, 3)``, ``xyz (21, 3)`` metres, ``uv (21, 2)`` pixels,
    ``verts (778, 3)`` metres, ``has_verts ()``, ``mano_pose (48,)``, ``mano_shape (10,)``, ``has_mano ()``,
    ``crop_affine (2, 3)``, ``index ()``, ``image_id ()``, ``has_xyz ()``, ``valid ()``; ``mask (S, S)`` float32 0/1
    only when the dataset was built with ``with_mask=True``.
    """

    mask: torch.Tensor


def validation_indices(num_annotations: int, fraction: float, seed: int = VAL_SEED) -> np.ndarray:
    """Annotation indices of the validation carve-out, ascending.

    Index ``i`` is in validation when ``hash(i, seed) < fraction``, with a fixed integer hash (SplitMix64): the choice
    of one index depends on nothing else, so it is the same on every machine and NumPy version, and the same index
    stays on the same side when a dataset grows. With ``fraction > 0`` at least one index is chosen.

    Args:
        num_annotations: annotations in the training split.
        fraction: expected fraction in validation, 0 <= fraction < 1.
        seed: selects a different carve-out. Default: :data:`VAL_SEED`.
    """
    if not 0.0 <= fraction < 1.0:
        raise ConfigError(f"val_fraction = {fraction}: expected a value in [0, 1)")
    u = _unit_hash(np.arange(num_annotations), seed)
    chosen = np.flatnonzero(u < fraction)
    if fraction > 0 and chosen.size == 0 and num_annotations >= 2:
        chosen = np.array([int(np.argmin(u))])
    return chosen


def _unit_hash(index: np.ndarray, seed: int) -> np.ndarray:
    """SplitMix64 of ``index`` mixed with ``seed``, mapped to [0, 1)."""
    mask = (1 << 64) - 1
    z = index.astype(np.uint64) + np.uint64((seed * 0x9E3779B97F4A7C15 + 0x9E3779B97F4A7C15) & mask)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


class FreiHANDDataset(Dataset):
    """FreiHAND images with their annotations, as :class:`HandSample` dicts.

    Args:
        root: the FreiHAND folder (official release or a synthetic set in the same layout).
        split: "train", "val", "training" or "evaluation". Default: "train".
        versions: training image versions to use ("gs", "hom", "sample", "auto"); None uses all on disk. Ignored for
            "evaluation" (one version). Default: None.
        input_size: crop side S in pixels. Default: 224.
        augment: random augmentation ranges (around the framing below); None gives the framing itself. Default:
            None.
        crop_expand: the framing where the keypoints are known: the square box of the true keypoints' projections
            times ``crop_expand``, as the live pipeline crops detected hands (:data:`handmesh.crop.DEFAULT_EXPAND`).
            None, and every image of the evaluation split, gets the fixed centred crop of ``crop_fraction``.
            Default: 1.6.
        crop_fraction: side of the fixed centred crop as a fraction of the image side (1 is the whole image,
            :data:`handmesh.crop.FREIHAND_FRAME_FRACTION`). Default: 1.
        val_fraction: fraction of training annotations in the "val" carve-out. Default: 0.02.
        val_seed: seed of the carve-out. Default: :data:`VAL_SEED`.
        with_mask: also return ``mask`` (training masks, ``training/mask/%08d.jpg``). Default: False.
        skip_bad: instead of failing on a missing or undecodable image, skip it (training splits: dropped or
            replaced by the next item; evaluation: kept in place with ``valid`` False) and count it in
            :attr:`skipped`. Default: False.
        load_verts: load ``{split}_verts.json`` when present. Default: True.
        cache_dir: annotation cache folder; False disables it (see :func:`load_annotations`). Default: None.

    Raises:
        MissingFileError: files are missing (all listed at once, with the expected layout).
        DataError: annotation files are malformed or disagree on counts; images are missing (without skip_bad).
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        *,
        versions: Sequence[str] | None = None,
        input_size: int = 224,
        augment: AugmentParams | None = None,
        crop_expand: float | None = DEFAULT_EXPAND,
        crop_fraction: float = FREIHAND_FRAME_FRACTION,
        val_fraction: float = 0.02,
        val_seed: int = VAL_SEED,
        with_mask: bool = False,
        skip_bad: bool = False,
        load_verts: bool = True,
        cache_dir: str | os.PathLike | bool | None = None,
    ):
        if split not in SPLIT_CHOICES:
            raise ConfigError(f"FreiHAND split {split!r}: expected one of {', '.join(SPLIT_CHOICES)}")
        self.root = Path(root)
        self.split = split
        self.file_split = "evaluation" if split == "evaluation" else "training"
        self.input_size = int(input_size)
        self.augment = augment
        if crop_expand is not None and not crop_expand > 0:
            raise ConfigError(f"data.crop_expand = {crop_expand}: expected a positive number (1.6) or null")
        if not crop_fraction > 0:
            raise ConfigError(f"data.eval_crop_fraction = {crop_fraction}: expected a positive number (1.0)")
        self.crop_expand = None if crop_expand is None else float(crop_expand)
        self.crop_fraction = float(crop_fraction)
        self.with_mask = with_mask
        self.skip_bad = skip_bad
        if with_mask and self.file_split != "training":
            raise ConfigError("with_mask=True: FreiHAND has masks for the training split only")
        require = ("K",) if self.file_split == "evaluation" else ("K", "xyz")
        check_layout(self.root, self.file_split, annotations=require, images=True, masks=with_mask)
        self.annotations: FreiHANDAnnotations = load_annotations(
            self.root, self.file_split, require=require, load_verts=load_verts, cache_dir=cache_dir
        )
        n = len(self.annotations)
        if split == "training" or split == "evaluation":
            indices = np.arange(n)
        else:
            val = validation_indices(n, val_fraction, val_seed)
            indices = val if split == "val" else np.setdiff1d(np.arange(n), val)
        #: Annotation indices of this split, ascending (the order of predictions for a ``pred.json``).
        self.annotation_indices = indices
        #: Image files skipped so far (missing at construction; undecodable when first read, in this process).
        self.skipped: list[str] = []
        self._names: set[str] | None = None
        self.versions = self._resolve_versions(versions)
        self._items_index, self._items_version = self._build_items()
        self._names = None  # only needed while building the item list

    # ----------------------------------------------------------------------------------------------------------------
    def _resolve_versions(self, versions: Sequence[str] | None) -> tuple[str, ...]:
        if self.file_split == "evaluation":
            if versions is not None and tuple(versions) not in (("gs",), ()):
                logger.info("FreiHAND evaluation images exist in one version; ignoring versions=%s", list(versions))
            return ("gs",)
        names = self._image_names()
        n = len(self.annotations)
        found = tuple(
            v
            for k, v in enumerate(VERSIONS)
            if any(f"{int(i + n * k):08d}.jpg" in names for i in self.annotation_indices)
        )
        if versions is not None:
            unknown = [v for v in versions if v not in VERSIONS]
            if unknown or not versions:
                raise ConfigError(
                    f"FreiHAND versions {list(versions)}: expected a non-empty subset of {list(VERSIONS)}"
                )
            absent = [v for v in versions if v not in found]
            if absent and found and not self.skip_bad:
                raise DataError(
                    f"FreiHAND image versions {', '.join(absent)} have no images in {self.root / 'training' / 'rgb'} "
                    f"(ids idx + {n:,} * k; found only {', '.join(found)}); set data.versions to {list(found)}, or "
                    f"leave it empty ([] or null) to use every version on disk"
                )
            return tuple(versions)
        if not found:
            raise MissingFileError(
                f"no images for the {self.split} split in {self.root / 'training' / 'rgb'}: expected files "
                f"%08d.jpg with ids idx + {n} * k (k = 0..3 for {', '.join(VERSIONS)})"
            )
        if len(found) < len(VERSIONS):
            logger.info("FreiHAND %s: using image versions %s (found on disk)", self.split, ", ".join(found))
        return found

    def _image_names(self) -> set[str]:
        if self._names is None:
            with os.scandir(self.root / self.file_split / "rgb") as it:
                self._names = {e.name for e in it}
        return self._names

    def _build_items(self) -> tuple[np.ndarray, np.ndarray]:
        """(annotation index, version position) of every item; drops or reports missing images."""
        n = len(self.annotations)
        names = self._image_names()
        idx = np.concatenate([self.annotation_indices for _ in self.versions])
        ver = np.concatenate([np.full(len(self.annotation_indices), VERSIONS.index(v)) for v in self.versions])
        ids = idx + n * ver
        present = np.array([f"{int(i):08d}.jpg" in names for i in ids], dtype=bool)
        if self.with_mask:
            with os.scandir(self.root / "training" / "mask") as it:
                mask_names = {e.name for e in it}
            present &= np.array([f"{int(i):08d}.jpg" in mask_names for i in idx], dtype=bool)
        missing = np.flatnonzero(~present)
        if missing.size:
            shown = ", ".join(f"{int(ids[j]):08d}.jpg" for j in missing[:5])
            what = "images (or masks)" if self.with_mask else "images"
            msg = (
                f"{missing.size} of {len(ids)} {what} for the FreiHAND {self.split} split are missing in "
                f"{self.root / self.file_split / 'rgb'} (e.g. {shown}); with {n:,} annotations, versions "
                f"{', '.join(self.versions)} use ids idx + {n:,} * k (the official {self.file_split} split has "
                f"{OFFICIAL_COUNTS[self.file_split]:,} annotations)"
            )
            if not self.skip_bad:
                raise DataError(msg + "; pass skip_bad (--skip-bad) to skip them")
            logger.warning("%s; skipping them", msg)
            self.skipped.extend(str(image_path(self.root, self.file_split, int(ids[j]))) for j in missing)
            if self.file_split != "evaluation":  # evaluation keeps its order; those items come back with valid False
                idx, ver = idx[present], ver[present]
        return idx, ver

    # ----------------------------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._items_index)

    def __getitem__(self, i: int) -> HandSample:
        rng = None
        if self.augment is not None:
            # torch's generator is seeded per DataLoader worker, so runs are reproducible under torch.manual_seed.
            rng = np.random.default_rng(int(torch.randint(0, 2**62, ()).item()))
        return self.get_sample(i, rng)

    def get_sample(self, i: int, rng: np.random.Generator | None = None) -> HandSample:
        """Item ``i``; with ``augment`` set, the random draws come from ``rng`` (a fresh generator if None)."""
        for attempt in range(min(len(self), 16)):
            j = (i + attempt) % len(self)
            image, mask, path = self._read(j)
            if image is not None:
                return self._make_sample(j, image, mask, rng)
            if not self.skip_bad:
                raise DataError(f"cannot decode {path} (corrupt or not a JPEG); pass skip_bad (--skip-bad) to skip it")
            if str(path) not in self.skipped:
                logger.warning("skipping unreadable image %s", path)
                self.skipped.append(str(path))
            if self.file_split == "evaluation":
                return self._make_sample(j, None, None, rng)
        raise DataError(f"{min(len(self), 16)} consecutive unreadable images starting at item {i} in {self.root}")

    def image_path(self, i: int) -> Path:
        """Path of item ``i``'s image."""
        n = len(self.annotations)
        return image_path(self.root, self.file_split, int(self._items_index[i] + n * self._items_version[i]))

    def annotation_index(self, i: int) -> int:
        """Annotation index of item ``i``."""
        return int(self._items_index[i])

    # ----------------------------------------------------------------------------------------------------------------
    def _read(self, i: int) -> tuple[np.ndarray | None, np.ndarray | None, Path]:
        path = self.image_path(i)
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            return None, None, path
        mask = None
        if self.with_mask:
            mpath = mask_path(self.root, self.annotation_index(i))
            mask = cv2.imread(str(mpath), cv2.IMREAD_GRAYSCALE)
            if mask is None:
                return None, None, mpath
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), mask, path

    def _make_sample(
        self, i: int, image: np.ndarray | None, mask: np.ndarray | None, rng: np.random.Generator | None
    ) -> HandSample:
        ann = self.annotations
        idx = self.annotation_index(i)
        K = ann.K[idx]
        size = (image.shape[1], image.shape[0]) if image is not None else (self.input_size, self.input_size)
        center, side = self.framing(idx, size)
        if self.augment is not None:
            rng = rng if rng is not None else np.random.default_rng()
            tf = sample_crop_transform(rng, K, size, self.input_size, self.augment, center=center, side=side)
        else:
            tf = crop_transform(K, size, self.input_size, center=center, side=side)
        if image is not None:
            crop = warp_image(image, tf)
            if self.augment is not None:
                crop = add_occluders(color_augment(crop, rng, self.augment), rng, self.augment)
            pixels = (crop.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
        else:
            pixels = np.zeros((self.input_size, self.input_size, 3), np.float32)
        sample: dict[str, Any] = {
            "image": torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1))),
            "K": _f32(tf.K),
            "crop_affine": _f32(tf.affine),
            "index": torch.tensor(idx, dtype=torch.long),
            "image_id": torch.tensor(int(self.image_path(i).stem), dtype=torch.long),
            "valid": torch.tensor(image is not None),
        }
        sample.update(self._targets(idx, tf))
        if self.with_mask:
            m = np.zeros((self.input_size, self.input_size), np.float32)
            if mask is not None:
                m = (warp_image(mask, tf) > 127).astype(np.float32)
            sample["mask"] = torch.from_numpy(m)
        return sample  # type: ignore[return-value]

    def framing(self, idx: int, image_size: tuple[int, int]) -> tuple[tuple[float, float], float]:
        """Centre and side (original pixels) of annotation ``idx``'s crop box before augmentation.

        The box of the true keypoints' projections times :attr:`crop_expand` where they are known and
        ``crop_expand`` is set; otherwise the fixed centred crop of :attr:`crop_fraction` of the image side.
        """
        w, h = image_size
        xyz = self.annotations.xyz
        if self.crop_expand is None or xyz is None or self.file_split == "evaluation":
            return ((w - 1) / 2.0, (h - 1) / 2.0), self.crop_fraction * max(w, h)
        box = keypoint_crop_box(project_pinhole(xyz[idx], self.annotations.K[idx]), self.crop_expand)
        return ((box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0), float(box[2] - box[0])

    def _targets(self, idx: int, tf: CropTransform) -> dict[str, torch.Tensor]:
        """3D and 2D targets of annotation ``idx`` after the transform (zeros and False flags where absent)."""
        ann = self.annotations
        out: dict[str, torch.Tensor] = {}
        if ann.xyz is not None:
            xyz = ann.xyz[idx] @ tf.rotation.T
            out.update(xyz=_f32(xyz), uv=_f32(project_pinhole(xyz, tf.K)), has_xyz=torch.tensor(True))
        else:
            out.update(xyz=torch.zeros(NUM_JOINTS, 3), uv=torch.zeros(NUM_JOINTS, 2), has_xyz=torch.tensor(False))
        if ann.verts is not None:
            out.update(verts=_f32(np.asarray(ann.verts[idx]) @ tf.rotation.T), has_verts=torch.tensor(True))
        else:
            out.update(verts=torch.zeros(NUM_VERTS, 3), has_verts=torch.tensor(False))
        if ann.mano is not None:
            pose = ann.mano[idx, :48].copy()
            pose[:3] = rotate_global_orient(pose[:3], tf)
            out.update(mano_pose=_f32(pose), mano_shape=_f32(ann.mano[idx, 48:58]), has_mano=torch.tensor(True))
        else:
            out.update(mano_pose=torch.zeros(48), mano_shape=torch.zeros(10), has_mano=torch.tensor(False))
        return out


def _f32(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


def build_freihand_dataset(
    data_cfg: Any, split: str, input_size: int = 224, *, augment: bool | None = None, **overrides: Any
) -> FreiHANDDataset:
    """Build a :class:`FreiHANDDataset` from the ``data`` section of the config.

    Reads ``root``, ``versions``, ``val_fraction``, ``crop_expand``, ``eval_crop_fraction`` and ``augment``
    (``enabled``, ``scale``, ``rotation_deg``, ``translation``, ``color_jitter``, ``blur_prob``,
    ``occlusion_prob``, ``occluder_size``) from ``data_cfg``.

    Args:
        data_cfg: the config's data section (any object with those attributes).
        split: "train", "val", "training" or "evaluation".
        input_size: crop side S (the model's input size). Default: 224.
        augment: apply augmentation; None means "for the train split when ``data_cfg.augment.enabled``".
            Default: None.
        **overrides: other :class:`FreiHANDDataset` keyword arguments (``skip_bad``, ``with_mask``, ...).
    """
    aug_cfg = data_cfg.augment
    if augment is None:
        augment = split == "train" and bool(aug_cfg.enabled)
    params = None
    if augment:
        params = AugmentParams(
            scale=aug_cfg.scale,
            rotation_deg=aug_cfg.rotation_deg,
            translation=aug_cfg.translation,
            color_jitter=aug_cfg.color_jitter,
            blur_prob=aug_cfg.blur_prob,
            occlusion_prob=aug_cfg.occlusion_prob,
            occluder_size=aug_cfg.occluder_size,
        )
    versions = getattr(data_cfg, "versions", None)
    kwargs: dict[str, Any] = dict(
        versions=list(versions) if versions else None,
        input_size=input_size,
        augment=params,
        crop_expand=data_cfg.crop_expand,
        crop_fraction=data_cfg.eval_crop_fraction,
        val_fraction=data_cfg.val_fraction,
    )
    if hasattr(data_cfg, "val_seed"):
        kwargs["val_seed"] = data_cfg.val_seed
    kwargs.update(overrides)
    return FreiHANDDataset(data_cfg.root, split, **kwargs)
