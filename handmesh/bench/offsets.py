"""``handmesh-bench offsets``: where MediaPipe's hand landmarker puts its 21 landmarks relative to the hand model's
keypoints, measured on clips with ground truth (:mod:`handmesh.fitting.calibrate`).

Each clip (made by ``handmesh-synth video``, with its ``.json`` sidecar) runs through MediaPipe's VIDEO mode; every
frame where it finds the hand adds its true pose and the landmarks to the least squares. The result prints as rows
to paste into :data:`handmesh.fitting.landmark_fit.MEDIAPIPE_OFFSETS_MM` (millimetres along towards-the-thumb,
towards-the-fingers, out-of-the-palm). Measure on clips you will not judge the fit on.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``handmesh-bench offsets``."""
    parser.add_argument("clips", type=Path, nargs="+", help="clips from handmesh-synth video (.json beside them)")
    parser.add_argument(
        "--hand-landmarker",
        type=Path,
        default=None,
        help="hand_landmarker .task bundle (default: $HANDMESH_HAND_LANDMARKER, then the cache)",
    )


def run(args: argparse.Namespace) -> int:
    """Measure and print the offsets."""
    from handmesh.app.sources import VideoFileSource
    from handmesh.detection import MediaPipeHandDetector
    from handmesh.errors import DataError
    from handmesh.fitting.calibrate import OffsetAccumulator
    from handmesh.fitting.skeleton import Skeleton
    from handmesh.fitting.so3 import exp_map
    from handmesh.hand_model import build_hand_model
    from handmesh.synth.video import load_clip

    accumulators: dict[str, OffsetAccumulator] = {}
    for path in args.clips:
        clip = load_clip(path)
        if clip.hand_model not in accumulators:
            accumulators[clip.hand_model] = OffsetAccumulator(Skeleton(build_hand_model(clip.hand_model, "right")))
        acc = accumulators[clip.hand_model]
        hands_mean = build_hand_model(clip.hand_model, clip.handedness).hands_mean.double().numpy().reshape(15, 3)
        source = VideoFileSource(path)
        try:
            with MediaPipeHandDetector(args.hand_landmarker, mode="video", max_hands=1) as detector:
                i = 0
                while (frame := source.read()) is not None and i < len(clip.keypoints3d):
                    found = detector.detect(frame.rgb, int(i * 1000 / clip.fps))
                    if found:
                        R = np.concatenate(
                            [
                                exp_map(clip.global_orient[i])[None],
                                exp_map(clip.hand_pose[i].reshape(15, 3) + hands_mean),
                            ]
                        )
                        acc.add(
                            R,
                            clip.betas[i],
                            clip.keypoints3d[i][0],
                            found[0].keypoints2d,
                            clip.K,
                            left=clip.handedness == "left",
                        )
                    i += 1
        finally:
            source.close()
    if len(accumulators) != 1:
        raise DataError(f"handmesh-bench offsets: the clips use {len(accumulators)} hand models; give clips of one")
    ((name, acc),) = accumulators.items()
    if acc.frames == 0:
        raise DataError("handmesh-bench offsets: MediaPipe found the hand in no frame of the clips")
    print(
        f"handmesh-bench offsets: {acc.frames} frames of {len(args.clips)} clip(s), {name} hand model; "
        "millimetres along (towards the thumb, towards the fingers, out of the palm), keypoints 0-20"
    )
    for row in acc.offsets_mm():
        print(f"({row[0]:.1f}, {row[1]:.1f}, {row[2]:.1f}),")
    return 0
