"""Following hands through a video: One Euro smoothing, stable handedness, and crops placed from the last joints.

Files:
    one_euro.py     OneEuroFilter (arrays with timestamps), RotationFilter (6D), HandParamsFilter, presets
    handedness.py   HandednessVote: a decaying vote with hysteresis
    tracker.py      HandTracker: per-frame crop boxes, re-detection only when needed, stable identities
"""

from handmesh.tracking.handedness import HandednessVote
from handmesh.tracking.one_euro import (
    SMOOTHING_PRESETS,
    HandParamsFilter,
    OneEuroFilter,
    OneEuroParams,
    RotationFilter,
    rotation_from_6d,
    rotation_to_6d,
)
from handmesh.tracking.tracker import HandTracker, TrackedHand, box_iou

__all__ = [
    "SMOOTHING_PRESETS",
    "HandParamsFilter",
    "HandTracker",
    "HandednessVote",
    "OneEuroFilter",
    "OneEuroParams",
    "RotationFilter",
    "TrackedHand",
    "box_iou",
    "rotation_from_6d",
    "rotation_to_6d",
]
