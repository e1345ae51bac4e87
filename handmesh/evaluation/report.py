"""What an evaluation writes: the :class:`EvalReport`, ``metrics.json`` (strict JSON) and the per-sample CSV."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from handmesh.metrics.freihand import EvalResult
from handmesh.utils.atomic import atomic_open, atomic_write_json


@dataclass
class EvalReport:
    """What an evaluation produced: the metrics (None without ground truth) and the files written."""

    result: EvalResult | None
    metrics_json: Path | None = None
    predictions_json: Path | None = None
    per_sample_csv: Path | None = None


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
    "position",
    "index",
    "status",
    "mpjpe_mm",
    "pa_mpjpe_mm",
    "rr_mpjpe_mm",
    "mpvpe_mm",
    "pa_mpvpe_mm",
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
            values = [
                ps.mpjpe[i],
                ps.pa_mpjpe[i],
                ps.rr_mpjpe[i],
                *(arr[i] if arr is not None else np.nan for arr in (ps.mpvpe, ps.pa_mpvpe)),
            ]
            if ps.fscore is not None and ps.fscore_unaligned is not None:
                values += [*ps.fscore[i], *ps.fscore_unaligned[i]]
            w.writerow([i, int(indices[i]), status, *("" if np.isnan(v) else f"{v:.6f}" for v in values)])
    return Path(path)
