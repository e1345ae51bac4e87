"""``handmesh-bench fit``: time of the landmark fit per hand, on one core, on the inputs a clip really gives it.

The clip (the shipped sample clip by default) runs once through ``handmesh.load(mode=...)``; every call of the fit
is recorded (the network's hands, MediaPipe's landmarks, ``K``). Then those calls are replayed against a fresh
:class:`~handmesh.fitting.LandmarkFitter` and timed: one hand per call, and two hands per call (each frame's hand
with the next frame's, as a two-hand frame would batch them). Numpy and the network are held to one thread, so the
figure is one core's. Beside the time: the replayed fits' 2D error and PA-MPJPE against the clip's ground truth
(when it has a sidecar), so that a faster fit that fits worse shows.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from dataclasses import replace
from pathlib import Path

import numpy as np


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``handmesh-bench fit``."""
    parser.add_argument(
        "--clip",
        type=Path,
        default=None,
        help="video to record the fit's inputs on (default: the sample clip shipped with the package)",
    )
    parser.add_argument("--frames", type=int, default=None, help="first N frames only (default: all)")
    parser.add_argument(
        "--mode",
        choices=("video", "image"),
        default="video",
        help="estimator mode while recording; video adds the temporal prior (default: video)",
    )
    parser.add_argument(
        "--repeats", type=int, default=5, help="timed replays of all calls; the median counts (default: 5)"
    )
    parser.add_argument(
        "--hand-landmarker",
        type=Path,
        default=None,
        help="hand_landmarker .task bundle (default: $HANDMESH_HAND_LANDMARKER, then the cache)",
    )


class _Recorder:
    """A refiner that passes calls through to a fitter and keeps them."""

    def __init__(self, inner) -> None:  # noqa: ANN001
        self.inner, self.calls = inner, []

    def refine(self, hands, K, image_size, timestamp_ms=None):  # noqa: ANN001, ANN201
        self.calls.append((list(hands), K, image_size, timestamp_ms))
        return self.inner.refine(hands, K, image_size, timestamp_ms)

    def reset(self) -> None:
        self.inner.reset()


def run(args: argparse.Namespace) -> int:
    """Record, replay, time and print the table."""
    import handmesh
    from handmesh.app.sources import SAMPLE_CLIP
    from handmesh.bench.accuracy import keypoint_box, pa_mpjpe_mm, read_clip
    from handmesh.errors import ConfigError, DataError
    from handmesh.fitting import LandmarkFitter
    from handmesh.geometry.projection import project_pinhole

    if args.repeats < 1 or (args.frames is not None and args.frames < 2):
        raise ConfigError("handmesh-bench fit: --repeats must be >= 1 and --frames >= 2")
    clip = args.clip or SAMPLE_CLIP
    frames, truth = read_clip(clip, args.frames)
    with handmesh.load(mode=args.mode, hand_landmarker=args.hand_landmarker, threads=1) as estimator:
        recorder = _Recorder(estimator.refiner)
        estimator.refiner = recorder
        for i, frame in enumerate(frames):
            estimator(frame, K=truth.K, timestamp_ms=round(i * 1000 / truth.fps))
        model = estimator.model("right")
    calls = [c for c in recorder.calls if c[0]]
    if len(calls) < 2:
        raise DataError(f"handmesh-bench fit: the fit ran on {len(calls)} frame(s) of {clip}; need at least 2")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # numpy's BLAS then keeps its own thread count; the fit's matrices are tiny anyway
        threadpool_limits = None

    def replay(pairs: bool) -> tuple[float, int, list]:
        fitter = LandmarkFitter(model, temporal=args.mode == "video")
        outputs, hands_fitted = [], 0
        t0 = time.perf_counter()
        for j, (hands, K, size, ts) in enumerate(calls):
            if pairs:
                other = calls[(j + 1) % len(calls)][0][0]  # another frame's hand, with no temporal history
                hands = [hands[0], replace(other, track_id=None)]
            outputs.append(fitter.refine(hands, K, size, ts))
            hands_fitted += len(hands)
        return (time.perf_counter() - t0) * 1e3, hands_fitted, outputs

    rows = []
    for pairs in (False, True):
        ms, n = [], 0
        outputs: list = []
        for _ in range(args.repeats):
            if threadpool_limits is not None:
                with threadpool_limits(1):
                    t, n, outputs = replay(pairs)
            else:
                t, n, outputs = replay(pairs)
            ms.append(t / n)
        rows.append(("2 hands per call" if pairs else "1 hand per call", float(np.median(ms)), n, outputs))

    # Accuracy of the single-hand replay against the clip's ground truth (the fitted keypoints, projected with K).
    errors, pa = [], []
    times = {round(i * 1000 / truth.fps): i for i in range(len(frames))}
    for (_hands, K, _size, ts), outs in zip(calls, rows[0][3]):
        i = times.get(ts)
        if i is None or not outs[0].refined:
            continue
        joints = np.asarray(outs[0].keypoints, np.float64)
        _, diag = keypoint_box(truth.keypoints2d[i])
        err = np.linalg.norm(project_pinhole(joints, K) - truth.keypoints2d[i], axis=1).mean()
        if err < 0.5 * diag:
            errors.append(err / diag)
            pa.append(float(pa_mpjpe_mm(joints[None], truth.keypoints3d[i][None])[0]))

    print(
        f"handmesh-bench fit: {len(calls)} fit calls recorded on {clip.name} ({args.mode} mode), replayed "
        f"x{args.repeats}; one thread"
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs visible; load average {load:.2f}"
    )
    print(f"{'batch':<20}{'ms per hand':>12}{'hands':>8}")
    for name, ms_per_hand, n, _ in rows:
        print(f"{name:<20}{ms_per_hand:>12.2f}{n:>8}")
    if errors:
        print(
            f"the replayed fits against {clip.name}'s ground truth: 2D error {float(np.median(errors)):.3f} of the "
            f"hand box diagonal (median), PA-MPJPE {float(np.mean(pa)):.1f} mm, {len(errors)} fitted frames "
            "(the estimator adds One Euro smoothing on top in video mode)"
        )
    print("goal: <= 3 ms per hand on one core")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m handmesh.bench.fit [flags]`` (the same as ``handmesh-bench fit``)."""
    parser = argparse.ArgumentParser(prog="handmesh-bench fit", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
