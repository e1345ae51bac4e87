"""Measuring where a landmark detector puts its 21 landmarks relative to the hand model's keypoints.

MediaPipe's landmarks are not defined exactly like the model's keypoints (its wrist sits about a centimetre towards
the fingers, for one). On clips from ``handmesh-synth video``, where the true pose is known, each landmark's image
offset from the true keypoint's projection is, to first order, ``P_i Q_i o_i``: ``P_i (2, 3)`` the projection's
derivative at the keypoint, ``Q_i`` the world frame of the bone that carries the keypoint, ``o_i`` the offset in
that bone's frame. Least squares over every frame gives ``o_i`` (a little ridge keeps unseen directions at 0); it
is reported along the hand's anatomical axes (towards the thumb, towards the fingers, out of the palm), in
millimetres, which is what :attr:`handmesh.fitting.FitSettings.landmark_offsets` takes.

    python -m handmesh.fitting.calibrate clip1.mp4 clip2.mp4 ...    # clips with their .json sidecars
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from handmesh.fitting.skeleton import CARRIER, Skeleton
from handmesh.fitting.so3 import exp_map

_MIRROR = np.diag([-1.0, 1.0, 1.0])


def _frames(path: str | Path):
    """The clip's frames, RGB uint8, in order."""
    from handmesh.pipeline.sources import VideoFileSource

    source = VideoFileSource(Path(path))
    try:
        while (frame := source.read()) is not None:
            yield frame.rgb
    finally:
        source.close()


def measure_landmark_offsets(clips: Sequence[str | Path], ridge: float = 1e-2) -> np.ndarray:
    """Landmark offsets of MediaPipe's hand landmarker (VIDEO mode) on clips with ground truth.

    Args:
        clips: videos made by ``handmesh-synth video`` (their ``.json`` sidecars beside them), of the open hand
            or MANO, right or left.
        ridge: ridge weight per frame on the offsets (squared pixels per metre squared, relative). Default: 0.01.

    Returns:
        ``(21, 3)`` millimetres along (thumbward, up, palm) of the right hand's frame.
    """
    from handmesh.detection import MediaPipeHandDetector
    from handmesh.hand_model import build_hand_model
    from handmesh.synth.video import load_clip

    AtA, Atb, frames_used = np.zeros((21, 3, 3)), np.zeros((21, 3)), 0
    skeletons: dict[str, Skeleton] = {}
    for path in clips:
        clip = load_clip(path)
        name = clip.hand_model
        if name not in skeletons:
            skeletons[name] = Skeleton(build_hand_model(name, "right"))
        sk = skeletons[name]
        model = build_hand_model(name, clip.handedness)
        hands_mean = model.hands_mean.double().cpu().numpy().reshape(15, 3)
        K = np.asarray(clip.K, np.float64)
        left = clip.handedness == "left"
        with MediaPipeHandDetector(mode="video", max_hands=1) as detector:
            for i, frame in enumerate(_frames(path)):
                found = detector.detect(frame, int(i * 1000 / clip.fps))
                if not found or i >= len(clip.keypoints3d):
                    continue
                R0 = exp_map(clip.global_orient[i])
                Rf = exp_map(clip.hand_pose[i].reshape(15, 3) + hands_mean)
                uv = found[0].keypoints2d
                if left:  # into the right hand's world: mirror the pose and the pixels
                    from handmesh.fitting.landmark_fit import _mirror_pixels

                    R0, Rf, uv = _MIRROR @ R0 @ _MIRROR, _MIRROR @ Rf @ _MIRROR, _mirror_pixels(uv, K)
                truth = np.asarray(clip.keypoints3d[i], np.float64)
                t = (_MIRROR @ truth[0]) if left else truth[0]
                pose = sk.forward(R0[None], sk.angles_from_rotations(Rf[None]), t[None], sk.rest(clip.betas[i][None]))
                kp = pose.keypoints[0]
                z = kp[:, 2]
                P = np.zeros((21, 2, 3))
                P[:, 0, 0], P[:, 0, 2] = K[0, 0] / z, -K[0, 0] * kp[:, 0] / z**2
                P[:, 1, 1], P[:, 1, 2] = K[1, 1] / z, -K[1, 1] * kp[:, 1] / z**2
                A = P @ pose.frames[0, CARRIER]  # (21, 2, 3)
                proj = kp[:, :2] / z[:, None] * K[[0, 1], [0, 1]] + K[:2, 2]
                AtA += np.swapaxes(A, 1, 2) @ A
                Atb += np.einsum("nji,nj->ni", A, uv - proj)
                frames_used += 1
    if frames_used == 0:
        raise ValueError("measure_landmark_offsets: the detector found no hand in any frame of the clips")
    offsets = np.linalg.solve(AtA + ridge * frames_used * np.eye(3), Atb[..., None])[..., 0]  # (21, 3) metres
    frame = next(iter(skeletons.values())).frame
    axes = np.stack([frame.thumbward, frame.up, frame.palm], axis=1)
    return offsets @ axes * 1000.0


def main(argv: list[str] | None = None) -> int:
    """Print the offsets measured on the given clips, one ``(x, y, z),`` row per landmark."""
    parser = argparse.ArgumentParser(prog="python -m handmesh.fitting.calibrate", description=__doc__.splitlines()[0])
    parser.add_argument("clips", nargs="+", help="clips from handmesh-synth video (with .json sidecars)")
    args = parser.parse_args(argv)
    for row in measure_landmark_offsets(args.clips):
        print(f"({row[0]:.1f}, {row[1]:.1f}, {row[2]:.1f}),")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
