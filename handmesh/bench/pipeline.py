"""``handmesh-bench pipeline``: end-to-end FPS of the demo pipeline with a per-stage breakdown, side by side with
MediaPipe's landmarks-only pipeline on the same frames, and the accuracy of the very hands that were timed.

Both pipelines see the same decoded frames of the clip (the shipped sample clip by default: 640x480, one right
hand, 150 frames), headless, in alternating passes over the clip (handmesh, MediaPipe, handmesh, ...) so that
background load affects them alike:

* handmesh: ``handmesh.load(mode="video", max_hands=2)`` as the demo runs it: MediaPipe's HandLandmarker in VIDEO
  mode on every frame, crop, the network through ``--backend`` (ONNX Runtime by default), the landmark fit
  (``--refine``), One Euro smoothing with the hand model re-posed, and the shaded mesh drawn onto the frame; with
  one frame in flight (:meth:`~handmesh.pipeline.estimator.HandEstimator.submit`): the landmarker works on frame
  t+1 while frame t is estimated and drawn, so per-stage times add up to more than a frame's share of the wall
  time.
* MediaPipe landmarks only: ``HandLandmarker`` in VIDEO mode on every frame (its own palm detection and landmark
  tracking) and the 21-keypoint skeleton drawn onto the frame.

"capture" is the time to decode a frame of the clip and convert it to RGB, measured once and counted in both
pipelines' end-to-end time. The ratio is handmesh FPS / MediaPipe FPS (1.0 = a mesh at no cost over landmarks).
Latency is from handing a frame to the estimator to its picture being drawn. When the clip has a ground-truth
sidecar (``handmesh-synth video`` clips, the sample clip) and is not resized, the hands of the last timed pass are
scored against it (:mod:`handmesh.bench.accuracy`): a speed figure never stands without its accuracy.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from handmesh.pipeline.timing import STAGES
from handmesh.runtime.loader import BACKENDS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``handmesh-bench pipeline``."""
    parser.add_argument(
        "--clip", type=Path, default=None, help="video to run on (default: the sample clip shipped with the package)"
    )
    parser.add_argument("--frames", type=int, default=None, help="frames of the clip to time (default: all)")
    parser.add_argument(
        "--size",
        type=int,
        nargs=2,
        default=(640, 480),
        metavar=("W", "H"),
        help="frame size; frames of another size are resized (default: 640 480)",
    )
    parser.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="network checkpoint or export (default: the weights shipped with the package)",
    )
    parser.add_argument(
        "--backend", default="onnxruntime", choices=("auto", *BACKENDS), help="network runtime (default: onnxruntime)"
    )
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for the network and OpenCV (default: 2)")
    parser.add_argument(
        "--max-hands",
        type=int,
        default=2,
        help="most hands per frame, both pipelines (default: 2, as handmesh.load and the demo)",
    )
    parser.add_argument(
        "--refine",
        choices=("landmarks", "none"),
        default="landmarks",
        help="handmesh: fit to MediaPipe's landmarks, or the network alone (default: landmarks)",
    )
    parser.add_argument(
        "--redetect-every",
        type=int,
        default=1,
        help="handmesh: run the detector at least every N frames (default: 1, every frame)",
    )
    parser.add_argument("--warmup", type=int, default=10, help="untimed frames first (default: 10)")
    parser.add_argument(
        "--repeats", type=int, default=2, help="timed passes over the frames, per pipeline, alternating (default: 2)"
    )
    parser.add_argument(
        "--hand-landmarker",
        type=Path,
        default=None,
        help="hand_landmarker .task bundle (default: $HANDMESH_HAND_LANDMARKER, then the cache)",
    )


def read_frames(path: Path, size: tuple[int, int], limit: int | None) -> tuple[list[np.ndarray], list[float]]:
    """Decode a video into RGB frames of ``size`` (W, H); also each frame's decode + conversion time in ms."""
    import cv2

    from handmesh.app.sources import VideoFileSource

    src = VideoFileSource(path)
    frames, capture_ms = [], []
    try:
        while limit is None or len(frames) < limit:
            t0 = time.perf_counter()
            frame = src.read()
            if frame is None:
                break
            rgb = frame.rgb
            if (rgb.shape[1], rgb.shape[0]) != tuple(size):
                rgb = cv2.resize(rgb, tuple(size), interpolation=cv2.INTER_AREA)
            capture_ms.append((time.perf_counter() - t0) * 1e3)
            frames.append(rgb)
    finally:
        src.close()
    return frames, capture_ms


def _draw_landmarks(frame: np.ndarray, detections: list) -> np.ndarray:
    from handmesh.render import draw_skeleton

    out = frame.copy()
    for d in detections:
        draw_skeleton(out, d.keypoints2d, inplace=True)
    return out


def run(args: argparse.Namespace) -> int:
    """Time both pipelines and print the table."""
    import cv2

    import handmesh
    from handmesh.app.sources import SAMPLE_CLIP
    from handmesh.detection import MediaPipeHandDetector, find_hand_landmarker
    from handmesh.errors import ConfigError

    if args.threads < 1 or args.max_hands < 1 or args.repeats < 1 or args.warmup < 0:
        raise ConfigError("handmesh-bench pipeline: --threads, --max-hands and --repeats must be >= 1, --warmup >= 0")
    clip = args.clip or SAMPLE_CLIP
    bundle = find_hand_landmarker(args.hand_landmarker)
    cv2.setNumThreads(args.threads)
    if args.backend in ("torch", "torchscript", "auto"):
        import torch

        torch.set_num_threads(args.threads)
    width, height = args.size
    frames, capture_ms = read_frames(clip, (width, height), args.frames)
    if not frames:
        from handmesh.errors import DataError

        raise DataError(f"handmesh-bench pipeline: no frames decoded from {clip}")
    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    estimator = handmesh.load(
        args.checkpoint,
        backend=args.backend,
        mode="video",
        max_hands=args.max_hands,
        threads=args.threads,
        hand_landmarker=bundle,
        redetect_every=args.redetect_every,
    )
    mp_times: list[float] = []
    mp_draw: list[float] = []
    ours_times: list[float] = []
    latency: list[float] = []
    last_pass: list[list] = []
    mp_found = 0
    mp_last: list[list] = []
    try:
        with MediaPipeHandDetector(bundle, mode="video", max_hands=args.max_hands) as landmarker:
            ts = 0
            for i in range(min(args.warmup, len(frames))):  # compile kernels, fill caches, start tracking
                estimator.render(frames[i], estimator(frames[i], timestamp_ms=ts))
                _draw_landmarks(frames[i], landmarker.detect(frames[i], ts))
                ts += 33
            estimator.timings.reset()
            for _ in range(args.repeats):
                estimator.reset()  # each pass starts a new stream
                hands_of_pass, ts = handmesh_pass(estimator, frames, ts, ours_times, latency)
                last_pass = hands_of_pass
                mp_last = []
                for frame in frames:
                    t1 = time.perf_counter()
                    dets = landmarker.detect(frame, ts)
                    t2 = time.perf_counter()
                    _draw_landmarks(frame, dets)
                    t3 = time.perf_counter()
                    mp_times.append((t3 - t1) * 1e3)
                    mp_draw.append((t3 - t2) * 1e3)
                    mp_found += bool(dets)
                    mp_last.append(dets)
                    ts += 33
        backend = estimator.describe()
        means = estimator.timings.means()
    finally:
        estimator.close()
    ours_found = sum(bool(h) for h in last_pass) * args.repeats  # every pass sees the same frames

    n = len(ours_times)
    cap = float(np.mean(capture_ms))
    ours_ms = float(np.mean(ours_times)) + cap
    mp_ms = float(np.mean(mp_times)) + cap
    ours_fps, mp_fps = 1000.0 / ours_ms, 1000.0 / mp_ms
    load_end = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    print(
        f"handmesh-bench pipeline: {len(frames)} frames of {clip.name} at {width}x{height}, x{args.repeats} "
        f"timed after {args.warmup} warm-up; max hands {args.max_hands}; threads {args.threads}"
    )
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs visible"
        + ("" if load_start is None else f"; load average {load_start:.2f} at start, {load_end:.2f} at end")
    )
    print(f"handmesh: {backend}")
    if load_start is not None and max(load_start, load_end or 0.0) > 0.5:
        print(
            f"warning: load average {max(load_start, load_end or 0.0):.2f}: other processes compete for the cores; "
            "these timings are under load (re-run on a quiet machine for clean numbers)"
        )
    cols = list(STAGES)
    header = f"{'pipeline':<44}{'FPS':>7}{'ms/frame':>10}" + "".join(f"{c:>11}" for c in cols)
    print(header)
    ours_stage = {s: means.get(s, 0.0) for s in cols}
    ours_stage["capture"] = cap
    print(
        f"{'handmesh (mesh drawn)':<44}{ours_fps:>7.1f}{ours_ms:>10.2f}"
        + "".join(f"{ours_stage[c]:>11.2f}" for c in cols)
    )
    mp_row = {"capture": cap, "detect": float(np.mean(mp_times) - np.mean(mp_draw)), "render": float(np.mean(mp_draw))}
    print(
        f"{'MediaPipe landmarks only (VIDEO, skeleton)':<44}{mp_fps:>7.1f}{mp_ms:>10.2f}"
        + "".join(f"{mp_row[c]:>11.2f}" if c in mp_row else f"{'-':>11}" for c in cols)
    )
    print(f"ratio handmesh / MediaPipe FPS: {ours_fps / mp_fps:.2f}x  (goal: >= 0.8x; >= 30 FPS end to end)")
    print(
        f"handmesh latency from frame to drawn picture: median {float(np.median(latency)):.1f} ms, "
        f"90th percentile {float(np.percentile(latency, 90)):.1f} ms (one frame in flight)"
    )
    print(
        f"hands found: handmesh {ours_found}/{n} frames, MediaPipe {mp_found}/{n} frames; stage means are over the "
        "frames where the stage ran (MediaPipe: landmarks under detect, the skeleton drawing under render)"
    )
    print(accuracy_line(clip, (width, height), frames, last_pass, mp_last))
    return 0


def handmesh_pass(
    estimator,
    frames: list[np.ndarray],
    ts: int,
    times: list[float],
    latency: list[float],
    on_result: Callable[[Any, list], None] | None = None,
) -> tuple[list[list], int]:
    """One timed pass of the demo's loop over ``frames`` with one frame in flight; appends each frame's share of
    the pass's wall time to ``times`` and each frame's latency; returns the hands per frame and the next time.
    ``on_result(pending_frame, hands)`` runs after each frame is drawn (``handmesh-bench stream`` publishes there)."""
    hands_per_frame: list[list] = []
    pending = None
    t0 = time.perf_counter()

    def finish(p) -> None:  # noqa: ANN001
        hands = estimator.collect(p)
        estimator.render(p.frame, hands)
        if on_result is not None:
            on_result(p, hands)
        latency.append((time.perf_counter() - p.submitted) * 1e3)
        hands_per_frame.append(hands)

    for frame in frames:
        nxt = estimator.submit(frame, timestamp_ms=ts)
        ts += 33
        if pending is not None:
            finish(pending)
        pending = nxt
    if pending is not None:
        finish(pending)
    share = (time.perf_counter() - t0) * 1e3 / max(len(frames), 1)
    times.extend([share] * len(frames))
    return hands_per_frame, ts


def accuracy_line(
    clip: Path, size: tuple[int, int], frames: list[np.ndarray], hands: list[list], mediapipe: list[list]
) -> str:
    """The timed hands against the clip's ground truth, or why there is none."""
    from dataclasses import replace

    from handmesh.bench.accuracy import score_clip
    from handmesh.synth.video import load_clip

    if not clip.with_suffix(".json").is_file():
        return f"accuracy: {clip.name} has no ground-truth sidecar: the FPS above comes without an accuracy figure"
    truth = load_clip(clip)
    if (truth.size[1], truth.size[0]) != tuple(size):
        return f"accuracy: frames resized from {truth.size[1]}x{truth.size[0]}: not scored against the ground truth"
    acc = score_clip(
        hands, replace(truth, keypoints2d=truth.keypoints2d[: len(hands)], keypoints3d=truth.keypoints3d[: len(hands)])
    )
    n = min(len(mediapipe), len(truth.keypoints2d))
    errors = []
    for i in range(n):
        if mediapipe[i]:
            gt = truth.keypoints2d[i]
            kp = min(mediapipe[i], key=lambda d: np.linalg.norm(d.keypoints2d - gt, axis=1).mean()).keypoints2d
            errors.append(np.linalg.norm(kp - gt, axis=1).mean() / np.hypot(*np.ptp(gt, axis=0)))
    mp_text = f"; MediaPipe's own landmarks {float(np.median(errors)):.3f}" if errors else ""
    return (
        f"accuracy of the timed hands against {clip.name}'s ground truth: 2D error {acc.error2d:.3f} of the hand "
        f"box diagonal (median{mp_text}), PA-MPJPE {acc.pa_mpjpe_mm:.1f} mm, hands in "
        f"{acc.found}/{len(hands)} frames, {acc.ghosts} with a ghost"
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m handmesh.bench.pipeline [flags]`` (the same as ``handmesh-bench pipeline``)."""
    parser = argparse.ArgumentParser(prog="handmesh-bench pipeline", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
