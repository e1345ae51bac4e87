"""Scoring hand predictions on FreiHAND: the CodaLab ``pred.json``, running a predictor, and the written reports.

Two ways in:
    * :func:`evaluate_prediction_file` scores an existing ``pred.json`` from any model against the ground truth;
    * :func:`evaluate_predictor` runs a predictor callable over a :class:`FreiHANDDataset` (in dataset order, with a
      progress bar) and returns predictions that :func:`write_predictions` saves as a submission.

``pred.json`` is ``[xyz_list, verts_list]``: N lists of 21 keypoints and N lists of 778 vertices, each ``[x, y, z]``
in metres in the camera frame, in the order of the evaluation images (the format the FreiHAND CodaLab server reads).

Where things are (each module imports only those above it):
    predictions.py   pred.json: Predictions, read_predictions (structure and plausibility checks), write_predictions
    ground_truth.py  SCORE_SPLITS, GroundTruth, load_ground_truth, score_predictions (the FreiHAND metrics)
    predictors.py    the Predictor protocol, RuntimePredictor, load_predictor, evaluate_predictor over a dataset
    report.py        EvalReport, metrics.json (strict JSON) and the per-sample CSV
    run.py           evaluate_prediction_file, evaluate_checkpoint, evaluate_with_predictor (handmesh-eval's body)
"""

from handmesh.evaluation.ground_truth import SCORE_SPLITS, GroundTruth, load_ground_truth, score_predictions
from handmesh.evaluation.predictions import MAX_COORDINATE_M, Predictions, read_predictions, write_predictions
from handmesh.evaluation.predictors import Predictor, RuntimePredictor, evaluate_predictor, load_predictor
from handmesh.evaluation.report import PER_SAMPLE_COLUMNS, EvalReport, write_metrics_json, write_per_sample_csv
from handmesh.evaluation.run import evaluate_checkpoint, evaluate_prediction_file, evaluate_with_predictor

__all__ = [
    "MAX_COORDINATE_M",
    "PER_SAMPLE_COLUMNS",
    "SCORE_SPLITS",
    "EvalReport",
    "GroundTruth",
    "Predictions",
    "Predictor",
    "RuntimePredictor",
    "evaluate_checkpoint",
    "evaluate_prediction_file",
    "evaluate_predictor",
    "evaluate_with_predictor",
    "load_ground_truth",
    "load_predictor",
    "read_predictions",
    "score_predictions",
    "write_metrics_json",
    "write_per_sample_csv",
    "write_predictions",
]
