"""The two ways in: score an existing ``pred.json`` (:func:`evaluate_prediction_file`), or run a checkpoint or any
predictor on a split, write ``pred.json`` and score it (:func:`evaluate_checkpoint`,
:func:`evaluate_with_predictor`)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from handmesh.crop import FREIHAND_FRAME_FRACTION
from handmesh.datasets.freihand import VAL_SEED, FreiHANDDataset
from handmesh.errors import ConfigError
from handmesh.evaluation.ground_truth import SCORE_SPLITS, GroundTruth, load_ground_truth, score_predictions
from handmesh.evaluation.predictions import read_predictions, write_predictions
from handmesh.evaluation.predictors import Predictor, evaluate_predictor, load_predictor
from handmesh.evaluation.report import EvalReport, write_metrics_json, write_per_sample_csv


def evaluate_prediction_file(
    predictions: str | os.PathLike,
    data_root: str | os.PathLike,
    split: str = "evaluation",
    *,
    output_dir: str | os.PathLike | None = None,
    per_sample_csv: str | os.PathLike | None = None,
    val_fraction: float = 0.02,
    val_seed: int = VAL_SEED,
    cache_dir: str | os.PathLike | bool | None = None,
) -> EvalReport:
    """Score an existing ``pred.json`` and write ``metrics.json`` (and optionally a per-sample CSV).

    Args:
        predictions: the ``pred.json`` file.
        data_root: the FreiHAND folder with the ground truth.
        split: see :func:`load_ground_truth`. Default: "evaluation".
        output_dir: where ``metrics.json`` goes. Default: the folder of ``predictions``.
        per_sample_csv: also write per-sample errors here. Default: none.
        val_fraction, val_seed, cache_dir: see :func:`load_ground_truth`.
    """
    gt = load_ground_truth(data_root, split, val_fraction=val_fraction, val_seed=val_seed, cache_dir=cache_dir)
    preds = read_predictions(predictions, len(gt.indices), split)
    result = score_predictions(preds, gt)
    out = Path(output_dir) if output_dir is not None else Path(predictions).parent
    report = EvalReport(result=result, predictions_json=Path(predictions))
    report.metrics_json = write_metrics_json(
        out / "metrics.json", result, split=split, data=data_root, predictions=predictions
    )
    if per_sample_csv is not None:
        report.per_sample_csv = write_per_sample_csv(per_sample_csv, result, gt.indices)
    return report


def evaluate_checkpoint(
    checkpoint: str | os.PathLike,
    data_root: str | os.PathLike,
    split: str = "evaluation",
    *,
    backend: str = "torch",
    device: str = "auto",
    output_dir: str | os.PathLike | None = None,
    per_sample_csv: str | os.PathLike | None = None,
    batch_size: int = 32,
    num_workers: int = 2,
    skip_bad: bool = False,
    val_fraction: float = 0.02,
    val_seed: int = VAL_SEED,
    cache_dir: str | os.PathLike | bool | None = None,
    crop_fraction: float = FREIHAND_FRAME_FRACTION,
    progress: bool = True,
) -> EvalReport:
    """Run a checkpoint on a split, write ``pred.json``, and score it when the split has ground truth.

    Args:
        checkpoint: see :func:`load_predictor`.
        data_root: the FreiHAND folder.
        split: "evaluation", "training", "train" or "val". Default: "evaluation".
        backend, device: see :func:`load_predictor`.
        output_dir: where ``pred.json`` and ``metrics.json`` go. Default: ``<checkpoint folder>/eval_<split>``.
        per_sample_csv: also write per-sample errors here. Default: none.
        batch_size, num_workers: DataLoader settings. Defaults: 32, 2.
        skip_bad: keep going past unreadable images (zero rows in pred.json, left out of the metrics).
            Default: False.
        val_fraction, val_seed, cache_dir: see :func:`load_ground_truth`.
        crop_fraction: the network sees the centred square of this fraction of each image's side (never a crop
            placed with the ground truth, whatever the split). Default: 1, FreiHAND's whole frame
            (:data:`handmesh.crop.FREIHAND_FRAME_FRACTION`).
        progress: show a progress bar. Default: True.
    """
    predictor = load_predictor(checkpoint, backend, device)
    return evaluate_with_predictor(
        predictor,
        data_root,
        split,
        output_dir=Path(output_dir) if output_dir is not None else Path(checkpoint).parent / f"eval_{split}",
        per_sample_csv=per_sample_csv,
        batch_size=batch_size,
        num_workers=num_workers,
        skip_bad=skip_bad,
        val_fraction=val_fraction,
        val_seed=val_seed,
        cache_dir=cache_dir,
        crop_fraction=crop_fraction,
        progress=progress,
    )


def evaluate_with_predictor(
    predictor: Predictor,
    data_root: str | os.PathLike,
    split: str = "evaluation",
    *,
    output_dir: str | os.PathLike,
    per_sample_csv: str | os.PathLike | None = None,
    batch_size: int = 32,
    num_workers: int = 0,
    skip_bad: bool = False,
    val_fraction: float = 0.02,
    val_seed: int = VAL_SEED,
    cache_dir: str | os.PathLike | bool | None = None,
    crop_fraction: float = FREIHAND_FRAME_FRACTION,
    progress: bool = True,
) -> EvalReport:
    """The body of :func:`evaluate_checkpoint` for any :class:`Predictor`: predict, write ``pred.json``, and
    (with ground truth) ``metrics.json``."""
    if split not in SCORE_SPLITS:
        raise ConfigError(f"split {split!r}: expected one of {', '.join(SCORE_SPLITS)}")
    dataset = FreiHANDDataset(
        data_root,
        split,
        versions=["gs"],
        input_size=predictor.input_size,
        crop_expand=None,
        crop_fraction=crop_fraction,
        val_fraction=val_fraction,
        val_seed=val_seed,
        skip_bad=skip_bad,
        cache_dir=cache_dir,
    )
    preds = evaluate_predictor(predictor, dataset, batch_size=batch_size, num_workers=num_workers, progress=progress)
    out = Path(output_dir)
    report = EvalReport(result=None, predictions_json=write_predictions(out / "pred.json", preds.xyz, preds.verts))
    ann = dataset.annotations
    if ann.xyz is None or ann.verts is None:
        return report  # evaluation images without ground truth: pred.json is the product (submit it to CodaLab)
    gt = GroundTruth(
        split=split,
        indices=dataset.annotation_indices,
        xyz=ann.xyz[dataset.annotation_indices],
        verts=np.asarray(ann.verts[dataset.annotation_indices]),
    )
    report.result = score_predictions(preds, gt)
    report.metrics_json = write_metrics_json(
        out / "metrics.json",
        report.result,
        split=split,
        data=data_root,
        predictions=report.predictions_json,
        skipped_images=[str(dataset.image_path(i)) for i in preds.skipped],
    )
    if per_sample_csv is not None:
        report.per_sample_csv = write_per_sample_csv(per_sample_csv, report.result, gt.indices)
    return report
