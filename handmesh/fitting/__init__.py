"""Fitting the hand model to a detector's landmarks (the ``fit`` stage of the pipeline, ``refine="landmarks"``).

    from handmesh.fitting import LandmarkFitter
    fitter = LandmarkFitter(right_hand_model)                # a HandRefiner (handmesh.pipeline.refine)
    results = fitter.refine(hands, K, (H, W))                # one FitResult per hand

Where things are:
    landmark_fit.py  LandmarkFitter: checks, initial value, Levenberg-Marquardt with priors and joint limits
    skeleton.py      the model's 21-keypoint skeleton: shape, forward kinematics, Jacobian
    _kernels.py      their compiled loops (numba), and the rotation log map
    so3.py           exp / log maps, right Jacobian, Kabsch, smallest rotation between two directions
    calibrate.py     where a landmark detector puts its landmarks relative to the model's keypoints (least squares;
                     handmesh-bench offsets feeds it clips)

The joint limits and anatomical axes come from :mod:`handmesh.hand_model.anatomy`; this package sits below the
pipeline (which never imports it: :func:`handmesh.load` wires it in) and above the hand model.
"""

from handmesh.fitting.landmark_fit import FitInput, FitResult, FitSettings, LandmarkFitter, landmark_weights

__all__ = ["FitInput", "FitResult", "FitSettings", "LandmarkFitter", "landmark_weights"]
