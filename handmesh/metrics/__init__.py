"""Hand pose and shape metrics, NumPy and vectorised over samples: the FreiHAND evaluation protocol.

``evaluate(pred_xyz, gt_xyz, pred_verts, gt_verts)`` returns an :class:`EvalResult` (mm, AUC, F-scores, per-sample
errors, ``.table()``, ``.official_scores()``).

Where things are:
    freihand.py   the evaluation protocol: MPJPE / MPVPE (aligned and not), AUC, F-scores, EvalResult
    alignment.py  per-sample Procrustes alignment with scale (align_w_scale), as the official evaluation defines it
    fscore.py     F-score between point sets at distance thresholds
"""

from handmesh.metrics.alignment import AlignTrafo, align_by_trafo, align_w_scale
from handmesh.metrics.freihand import EvalResult, PerSampleErrors, auc, evaluate, pck_curve
from handmesh.metrics.fscore import FScore, fscore, nearest_distances

__all__ = [
    "AlignTrafo",
    "EvalResult",
    "FScore",
    "PerSampleErrors",
    "align_by_trafo",
    "align_w_scale",
    "auc",
    "evaluate",
    "fscore",
    "nearest_distances",
    "pck_curve",
]
