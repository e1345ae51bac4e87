"""Ground truth of a split, in the order predictions follow, and scoring predictions against it."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from handmesh.datasets.annotations import load_annotations
from handmesh.datasets.freihand import VAL_SEED, validation_indices
from handmesh.errors import ConfigError, DataError, MissingFileError
from handmesh.evaluation.predictions import Predictions
from handmesh.metrics.freihand import EvalResult, evaluate

SCORE_SPLITS: tuple[str, ...] = ("evaluation", "training", "train", "val")


@dataclass
class GroundTruth:
    """Ground truth of one split, in the order predictions must follow.

    Attributes:
        split: "evaluation", "training", "train" or "val".
        indices: (N,) annotation indices (position i of pred.json is annotation indices[i]).
        xyz: (N, 21, 3) float64 metres. verts: (N, 778, 3) float64 metres.
    """

    split: str
    indices: np.ndarray
    xyz: np.ndarray
    verts: np.ndarray


def load_ground_truth(
    root: str | os.PathLike,
    split: str = "evaluation",
    *,
    val_fraction: float = 0.02,
    val_seed: int = VAL_SEED,
    cache_dir: str | os.PathLike | bool | None = None,
) -> GroundTruth:
    """Keypoints and vertices of a split, in prediction order.

    Args:
        root: the FreiHAND folder.
        split: "evaluation" (3,960 samples), "training" (all 32,560 annotations), or the "train"/"val" carve-out.
            Default: "evaluation".
        val_fraction, val_seed: the carve-out, as in :class:`FreiHANDDataset`. Defaults: 0.02, 0.
        cache_dir: annotation cache (see :func:`load_annotations`). Default: None.

    Raises:
        MissingFileError: the ground-truth files are missing (the evaluation ground truth ships separately as
            FreiHAND_pub_v2_eval.zip).
    """
    if split not in SCORE_SPLITS:
        raise ConfigError(f"split {split!r}: expected one of {', '.join(SCORE_SPLITS)}")
    file_split = "evaluation" if split == "evaluation" else "training"
    try:
        ann = load_annotations(root, file_split, require=("K", "xyz", "verts"), cache_dir=cache_dir)
    except MissingFileError as e:
        raise MissingFileError(
            f"scoring needs the {file_split} ground truth ({file_split}_xyz.json and "
            f"{file_split}_verts.json; for the evaluation split they come in "
            f"FreiHAND_pub_v2_eval.zip). {e}"
        ) from e
    n = len(ann)
    if split in ("evaluation", "training"):
        indices = np.arange(n)
    else:
        val = validation_indices(n, val_fraction, val_seed)
        indices = val if split == "val" else np.setdiff1d(np.arange(n), val)
    assert ann.xyz is not None and ann.verts is not None
    return GroundTruth(split=split, indices=indices, xyz=ann.xyz[indices], verts=np.asarray(ann.verts[indices]))


def score_predictions(predictions: Predictions, gt: GroundTruth) -> EvalResult:
    """FreiHAND metrics of ``predictions`` (dataset order) against ``gt``; skipped images are left out."""
    if len(predictions) != len(gt.indices):
        raise DataError(
            f"{len(predictions)} predictions for {len(gt.indices)} {gt.split} samples; expected one per "
            f"sample, in dataset order"
        )
    exclude = np.zeros(len(gt.indices), bool)
    exclude[predictions.skipped] = True
    return evaluate(predictions.xyz, gt.xyz, predictions.verts, gt.verts, exclude=exclude)
