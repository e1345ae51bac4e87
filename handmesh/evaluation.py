"""Scoring hand predictions on FreiHAND: the CodaLab ``pred.json``, running a predictor, and the written reports.

Two ways in:
    * :func:`evaluate_prediction_file` scores an existing ``pred.json`` from any model against the ground truth;
    * :func:`evaluate_predictor` runs a predictor callable over a :class:`FreiHANDDataset` (in dataset order, with a
      progress bar) and returns predictions that :func:`write_predictions` saves as a submission.

``pred.json`` is ``[xyz_list, verts_list]``: N lists of 21 keypoints and N lists of 778 vertices, each ``[x, y, z]``
in metres in the camera frame, in the order of the evaluation images (the format the FreiHAND CodaLab server reads).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from handmesh.datasets.annotations import load_annotations
from handmesh.datasets.freihand import VAL_SEED, FreiHANDDataset, validation_indices
from handmesh.datasets.freihand_format import NUM_JOINTS, NUM_VERTS, OFFICIAL_COUNTS
from handmesh.errors import ConfigError, DataError, HandmeshError, MissingFileError
from handmesh.metrics.freihand import EvalResult, evaluate
from handmesh.utils.atomic import atomic_open, atomic_write_json

SCORE_SPLITS: tuple[str, ...] = ("evaluation", "training", "train", "val")


class Predictor(Protocol):
    """A model as evaluation sees it.

    ``predictor(images, K)`` takes a batch of normalized crops ``images (B, 3, S, S)`` float32 and their intrinsics
    ``K (B, 3, 3)`` (pixels, of the crop) and returns ``(xyz (B, 21, 3), verts (B, V, 3))`` in metres in the camera
    frame (V = 778 for MANO-topology meshes). It moves tensors to its own device. ``input_size`` is S.
    """

    input_size: int

    def __call__(self, images: torch.Tensor, K: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...


@dataclass
class Predictions:
    """Predictions in dataset order.

    Attributes:
        xyz: (N, 21, 3) float64 keypoints, metres, camera frame.
        verts: (N, V, 3) float64 vertices, metres, camera frame.
        skipped: positions whose image could not be read (their rows are zeros, as the FreiHAND zero predictor
            writes, so that a submission file stays complete).
    """

    xyz: np.ndarray
    verts: np.ndarray
    skipped: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.xyz)


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


@dataclass
class EvalReport:
    """What an evaluation produced: the metrics (None without ground truth) and the files written."""

    result: EvalResult | None
    metrics_json: Path | None = None
    predictions_json: Path | None = None
    per_sample_csv: Path | None = None


# -------------------------------------------------------------------------------------------------------------------
def read_predictions(path: str | os.PathLike, num_samples: int, split: str = "evaluation") -> Predictions:
    """Read a CodaLab ``pred.json`` and check its structure.

    Args:
        path: the file.
        num_samples: how many samples the split has (predictions must match, in dataset order).
        split: split name, for messages. Default: "evaluation".

    Raises:
        MissingFileError: no such file.
        DataError: not JSON, not ``[xyz_list, verts_list]``, wrong length or wrong shape (the message says what
            was expected).
    """
    path = Path(path)
    expected = (f"expected [xyz_list, verts_list] with xyz_list ({num_samples}, 21, 3) and verts_list "
                f"({num_samples}, 778, 3), metres, in the order of the {split} images")
    if not path.is_file():
        raise MissingFileError(f"predictions file {path} does not exist")
    fast = _read_predictions_fast(path, num_samples)
    if fast is not None:
        return _check_plausible(fast, path)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: not valid JSON ({e}); {expected}") from e
    if not isinstance(data, list) or len(data) != 2 or not all(isinstance(d, list) for d in data):
        got = f"a list of {len(data)} items" if isinstance(data, list) else type(data).__name__
        raise DataError(f"{path}: found {got}; {expected}")
    if len(data[0]) != num_samples or len(data[1]) != num_samples:
        raise DataError(
            f"{path}: holds {len(data[0])} keypoint sets and {len(data[1])} vertex sets, but the {split} split has "
            f"{num_samples} samples (the official {split} split has "
            f"{OFFICIAL_COUNTS.get(split, OFFICIAL_COUNTS['training']):,}); {expected}"
        )
    xyz = _as_points(data[0], path, "xyz_list", NUM_JOINTS, expected)
    verts = _as_points(data[1], path, "verts_list", None, expected)
    return _check_plausible(Predictions(xyz=xyz, verts=verts), path)


MAX_COORDINATE_M = 100.0
"""Largest plausible coordinate of a predicted point, metres: FreiHAND's hands are well within a metre of the
camera; a value beyond this is a unit or export mistake, and values near the float limit break the alignment."""


def _check_plausible(predictions: Predictions, path: Path) -> Predictions:
    """Refuse predictions that cannot be a hand in front of a camera, or that hold no number at all.

    Raises:
        DataError: a coordinate beyond :data:`MAX_COORDINATE_M` (naming the first such entry), or every sample NaN.
    """
    for name, arr in (("xyz_list", predictions.xyz), ("verts_list", predictions.verts)):
        with np.errstate(invalid="ignore"):
            far = np.abs(np.nan_to_num(arr, nan=0.0, posinf=np.inf, neginf=np.inf)) > MAX_COORDINATE_M
        if far.any():
            i, j, c = (int(v) for v in np.argwhere(far)[0])
            raise DataError(f"{path}: {name}[{i}][{j}][{c}] = {arr[i, j, c]:g} m; no hand is that far from the "
                            f"camera (expected metres, |x| <= {MAX_COORDINATE_M:g}): wrong units?")  # fmt: skip
    if len(predictions.xyz) and not np.isfinite(predictions.xyz).all(axis=(1, 2)).any():
        raise DataError(f"{path}: every keypoint prediction holds NaN or infinity; nothing can be scored")
    return predictions


def _read_predictions_fast(path: Path, num_samples: int) -> Predictions | None:
    """The common case, ``[xyz_list, verts_list]`` with regular shapes, parsed without Python objects (about 3x
    faster than ``json.load`` for a 120 MB file); None for anything else, which the careful path then explains."""
    from handmesh.datasets.json_arrays import parse_json_array

    text = path.read_bytes().translate(None, b" \t\r\n")
    sep = text.find(b"]]],[[[")
    if not (text.startswith(b"[[[[") and text.endswith(b"]]]]")) or sep < 0 or text.find(b"]]],[[[", sep + 1) >= 0:
        return None
    xyz_text, verts_text = text[1 : sep + 3], text[sep + 4 : -1]
    first_entry = verts_text[1 : verts_text.find(b"]]") + 2]
    num_verts = first_entry.count(b"],[") + 1
    try:
        xyz = parse_json_array(xyz_text, (NUM_JOINTS, 3), str(path))
        verts = parse_json_array(verts_text, (num_verts, 3), str(path))
    except DataError:
        return None
    if len(xyz) != num_samples or len(verts) != num_samples:
        return None
    return Predictions(xyz=xyz, verts=verts)


def _as_points(items: list, path: Path, name: str, count: int | None, expected: str) -> np.ndarray:
    """(N, count, 3) float64 from nested lists, naming the first entry that is not shaped like that."""
    try:
        arr = np.asarray(items, dtype=np.float64)
    except (ValueError, TypeError):
        arr = None
    if arr is not None and arr.ndim == 3 and arr.shape[2] == 3 and (count is None or arr.shape[1] == count):
        return arr
    want = (count if count is not None else _first_len(items), 3)
    for i, item in enumerate(items):
        try:
            shape = np.asarray(item, dtype=np.float64).shape
        except (ValueError, TypeError):
            shape = None
        if shape != want:
            got = "is not a list of numbers" if shape is None else f"has shape {shape}"
            raise DataError(f"{path}: {name}[{i}] {got}, expected {want}; {expected}")
    raise DataError(f"{path}: {name} is not an (N, {want[0]}, 3) array; {expected}")


def _first_len(items: list) -> int:
    return len(items[0]) if items and isinstance(items[0], list) else 0


def write_predictions(path: str | os.PathLike, xyz: np.ndarray, verts: np.ndarray, decimals: int = 8) -> Path:
    """Write a CodaLab ``pred.json`` atomically.

    Args:
        path: destination (zip it with ``zip -j pred.zip pred.json`` to submit).
        xyz: (N, 21, 3) keypoints, metres, camera frame, dataset order.
        verts: (N, V, 3) vertices, metres, camera frame.
        decimals: values are rounded to this many decimals of a metre; 8 (10 nm) changes no metric and keeps the
            file near 100 MB for the 3,960 evaluation samples. Default: 8.
    """
    xyz = np.asarray(xyz, dtype=np.float64)
    verts = np.asarray(verts, dtype=np.float64)
    if xyz.ndim != 3 or xyz.shape[1:] != (NUM_JOINTS, 3) or verts.ndim != 3 or verts.shape[2] != 3 or len(
            verts) != len(xyz):
        raise DataError(f"write_predictions: xyz {xyz.shape} and verts {verts.shape}: expected (N, 21, 3) and "
                        f"(N, V, 3)")
    path = Path(path)
    with atomic_open(path, "w") as f:
        json.dump([np.round(xyz, decimals).tolist(), np.round(verts, decimals).tolist()], f)
    return path


# -------------------------------------------------------------------------------------------------------------------
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
        raise MissingFileError(f"scoring needs the {file_split} ground truth ({file_split}_xyz.json and "
                               f"{file_split}_verts.json; for the evaluation split they come in "
                               f"FreiHAND_pub_v2_eval.zip). {e}") from e
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
        raise DataError(f"{len(predictions)} predictions for {len(gt.indices)} {gt.split} samples; expected one per "
                        f"sample, in dataset order")
    exclude = np.zeros(len(gt.indices), bool)
    exclude[predictions.skipped] = True
    return evaluate(predictions.xyz, gt.xyz, predictions.verts, gt.verts, exclude=exclude)


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
    report.metrics_json = write_metrics_json(out / "metrics.json", result, split=split, data=data_root,
                                             predictions=predictions)
    if per_sample_csv is not None:
        report.per_sample_csv = write_per_sample_csv(per_sample_csv, result, gt.indices)
    return report


# -------------------------------------------------------------------------------------------------------------------
def evaluate_predictor(
    predictor: Predictor,
    dataset: FreiHANDDataset,
    *,
    batch_size: int = 32,
    num_workers: int = 0,
    progress: bool = True,
) -> Predictions:
    """Run ``predictor`` over every item of ``dataset`` in order and collect its predictions.

    Args:
        predictor: see :class:`Predictor`.
        dataset: an unaugmented dataset with one item per annotation (e.g. the evaluation split, or "val" with
            ``versions=["gs"]``); build it with ``skip_bad=True`` to keep unreadable images as skipped rows.
        batch_size: images per call. Default: 32.
        num_workers: DataLoader worker processes. Default: 0.
        progress: show a progress bar. Default: True.

    Raises:
        ConfigError: the dataset is augmented or has several items per annotation.
        DataError: the predictor returned arrays of the wrong shape.
    """
    from torch.utils.data import DataLoader
    from tqdm import tqdm

    if dataset.augment is not None:
        raise ConfigError("evaluate_predictor: the dataset must not be augmented (augment=None)")
    if len(dataset) != len(dataset.annotation_indices):
        raise ConfigError(f"evaluate_predictor: the dataset has {len(dataset)} items for "
                          f"{len(dataset.annotation_indices)} annotations; use one image version (versions=['gs'])")
    n = len(dataset)
    xyz = np.zeros((n, NUM_JOINTS, 3))
    verts: np.ndarray | None = None
    skipped: list[int] = []
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    start = 0
    with torch.inference_mode():
        for batch in tqdm(_worker_errors_unwrapped(loader), desc="predicting", unit="batch", total=len(loader),
                          disable=not progress):  # fmt: skip
            b = len(batch["image"])
            out_xyz, out_verts = predictor(batch["image"], batch["K"])
            out_xyz = _to_numpy(out_xyz)
            out_verts = _to_numpy(out_verts)
            if out_xyz.shape != (b, NUM_JOINTS, 3) or out_verts.ndim != 3 or out_verts.shape[0] != b or \
                    out_verts.shape[2] != 3:
                raise DataError(f"the predictor returned xyz {out_xyz.shape} and verts {out_verts.shape} for "
                                f"{b} images; expected ({b}, 21, 3) and ({b}, {NUM_VERTS}, 3), metres")
            if verts is None:
                verts = np.zeros((n, out_verts.shape[1], 3))
            valid = batch["valid"].numpy()
            out_xyz[~valid] = 0.0  # unreadable images: zero rows, as the official zero predictor writes
            out_verts[~valid] = 0.0
            xyz[start : start + b] = out_xyz
            verts[start : start + b] = out_verts
            skipped.extend(int(start + i) for i in np.flatnonzero(~valid))
            start += b
    return Predictions(xyz=xyz, verts=verts if verts is not None else np.zeros((n, NUM_VERTS, 3)), skipped=skipped)


def _worker_errors_unwrapped(loader: Any) -> Iterator[Any]:
    """Iterate a DataLoader; a user error raised in a worker process (an unreadable image) comes out with its own
    one-line message instead of the worker's traceback that DataLoader folds into it."""
    try:
        yield from loader
    except HandmeshError as e:
        text = str(e)
        if "Original Traceback" not in text:
            raise
        last = text.strip().splitlines()[-1]  # "handmesh.errors.DataError: <the message>"
        raise type(e)(last.split(": ", 1)[1] if ": " in last else last) from None


def _to_numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().to("cpu", torch.float64).numpy()
    return np.array(x, dtype=np.float64)


class RuntimePredictor:
    """A :class:`Predictor` over a :mod:`handmesh.runtime` backend (ONNX Runtime, TorchScript, Core ML, PyTorch).

    The runtime predicts the root-relative hand and its 2D keypoints in the crop; the translation comes from the
    same least-squares camera solve as :class:`~handmesh.network.NetworkPredictor`
    (:func:`~handmesh.network.predictor.place_in_camera`).
    """

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.input_size = int(runtime.input_size)

    def __call__(self, images: torch.Tensor, K: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        from handmesh.network.predictor import place_in_camera

        out = self.runtime(images.detach().to("cpu", torch.float32).numpy())
        return place_in_camera(torch.as_tensor(out.joints), torch.as_tensor(out.vertices),
                               torch.as_tensor(out.joints2d), K, self.input_size)


def load_predictor(checkpoint: str | os.PathLike, backend: str = "torch", device: str = "auto") -> Predictor:
    """A :class:`Predictor` for a trained checkpoint or an export of one.

    The network predicts a root-relative hand and its 2D keypoints in the crop; the translation that makes those
    keypoints project with the crop's K is solved by least squares, giving camera-frame keypoints and vertices.

    Args:
        checkpoint: a checkpoint written by ``handmesh-train`` (EMA weights when it has them), or an artefact
            written by ``handmesh-export`` (``.onnx``, ``.ts``, ``.mlpackage``).
        backend: ``"torch"`` (the network in PyTorch, as trained), or any :func:`handmesh.runtime.load_runtime`
            backend: ``"auto"``, ``"onnxruntime"``, ``"torchscript"``, ``"coreml"``. Default: ``"torch"``.
        device: "auto", "cpu", "cuda", "mps". Default: "auto".

    Raises:
        MissingFileError: no such checkpoint (or, for a MANO network, no MANO files).
        CheckpointError: the file is corrupt or not a handmesh checkpoint or export.
        BackendUnavailableError: a backend or device this machine lacks.
        ConfigError: an unknown backend, or one that cannot run this file.
    """
    if not Path(checkpoint).exists():
        raise MissingFileError(f"checkpoint {checkpoint} does not exist")
    from handmesh.runtime.loader import detect_source

    if backend == "torch" and detect_source(checkpoint) == "checkpoint":
        from handmesh.network.predictor import NetworkPredictor

        return NetworkPredictor.from_checkpoint(checkpoint, device)
    from handmesh.runtime import load_runtime

    return RuntimePredictor(load_runtime(checkpoint, backend=backend, device=device))


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
        progress: show a progress bar. Default: True.
    """
    predictor = load_predictor(checkpoint, backend, device)
    return evaluate_with_predictor(
        predictor, data_root, split,
        output_dir=Path(output_dir) if output_dir is not None else Path(checkpoint).parent / f"eval_{split}",
        per_sample_csv=per_sample_csv, batch_size=batch_size, num_workers=num_workers, skip_bad=skip_bad,
        val_fraction=val_fraction, val_seed=val_seed, cache_dir=cache_dir, progress=progress,
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
    progress: bool = True,
) -> EvalReport:
    """The body of :func:`evaluate_checkpoint` for any :class:`Predictor`: predict, write ``pred.json``, and
    (with ground truth) ``metrics.json``."""
    if split not in SCORE_SPLITS:
        raise ConfigError(f"split {split!r}: expected one of {', '.join(SCORE_SPLITS)}")
    dataset = FreiHANDDataset(data_root, split, versions=["gs"], input_size=predictor.input_size,
                              val_fraction=val_fraction, val_seed=val_seed, skip_bad=skip_bad, cache_dir=cache_dir)
    preds = evaluate_predictor(predictor, dataset, batch_size=batch_size, num_workers=num_workers, progress=progress)
    out = Path(output_dir)
    report = EvalReport(result=None, predictions_json=write_predictions(out / "pred.json", preds.xyz, preds.verts))
    ann = dataset.annotations
    if ann.xyz is None or ann.verts is None:
        return report  # evaluation images without ground truth: pred.json is the product (submit it to CodaLab)
    gt = GroundTruth(split=split, indices=dataset.annotation_indices, xyz=ann.xyz[dataset.annotation_indices],
                     verts=np.asarray(ann.verts[dataset.annotation_indices]))
    report.result = score_predictions(preds, gt)
    report.metrics_json = write_metrics_json(out / "metrics.json", report.result, split=split, data=data_root,
                                             predictions=report.predictions_json,
                                             skipped_images=[str(dataset.image_path(i)) for i in preds.skipped])
    if per_sample_csv is not None:
        report.per_sample_csv = write_per_sample_csv(per_sample_csv, report.result, gt.indices)
    return report


# -------------------------------------------------------------------------------------------------------------------
def write_metrics_json(path: str | os.PathLike, result: EvalResult, **context: Any) -> Path:
    """Write ``result.to_dict()`` plus ``context`` (split, data folder, predictions file, ...) atomically."""
    payload = {k: str(v) if isinstance(v, os.PathLike) else v for k, v in context.items()}
    payload.update(result.to_dict())
    # Strict JSON: a metric that could not be computed is null, not the bare NaN many JSON readers reject.
    atomic_write_json(path, _finite_or_null(payload), indent=2, allow_nan=False)
    return Path(path)


def _finite_or_null(obj: Any) -> Any:
    """``obj`` with every non-finite float (in nested dicts and lists) replaced by None."""
    if isinstance(obj, dict):
        return {k: _finite_or_null(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_or_null(v) for v in obj]
    if isinstance(obj, (float, np.floating)) and not np.isfinite(obj):
        return None
    return obj


PER_SAMPLE_COLUMNS: Sequence[str] = (
    "position", "index", "status", "mpjpe_mm", "pa_mpjpe_mm", "rr_mpjpe_mm", "mpvpe_mm", "pa_mpvpe_mm",
)


def write_per_sample_csv(path: str | os.PathLike, result: EvalResult, indices: np.ndarray) -> Path:
    """One row per sample: position in pred.json, annotation index, status (ok / nan_prediction / skipped_image),
    errors in mm and F-scores (aligned and camera frame); empty cells where not computed."""
    ps = result.per_sample
    f_cols = [f"f@{t:g}mm" for t in result.f_thresholds_mm] + [f"f@{t:g}mm_unaligned" for t in result.f_thresholds_mm]
    bad, skipped = set(result.bad_indices), set(result.excluded_indices)
    with atomic_open(path, "w") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow([*PER_SAMPLE_COLUMNS, *f_cols])
        for i in range(result.num_samples):
            status = "nan_prediction" if i in bad else "skipped_image" if i in skipped else "ok"
            values = [ps.mpjpe[i], ps.pa_mpjpe[i], ps.rr_mpjpe[i],
                      *(arr[i] if arr is not None else np.nan for arr in (ps.mpvpe, ps.pa_mpvpe))]
            if ps.fscore is not None and ps.fscore_unaligned is not None:
                values += [*ps.fscore[i], *ps.fscore_unaligned[i]]
            w.writerow([i, int(indices[i]), status, *("" if np.isnan(v) else f"{v:.6f}" for v in values)])
    return Path(path)
