"""``handmesh-bench detection``: MediaPipe hand detection time per frame in IMAGE and VIDEO mode, and how many
images have a hand found.

Each photo is letterboxed (scaled to fit, padded with grey, aspect kept) to the frame size, 640x480 by default.
IMAGE mode runs palm detection and landmarks on every call; VIDEO mode gets each photo as a still clip of
``--video-frames`` frames at 30 fps (after its first frame, MediaPipe tracks from the previous landmarks and skips
palm detection), timed after that first frame. "Found" counts images with at least one hand in IMAGE mode, for the
letterboxed photos, the photos at their own size, and the crops (e.g. FreiHAND's 224x224 images) as they are.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from handmesh.errors import MissingFileError

_SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "real_hands"
_EXTS = {".jpg", ".jpeg", ".png", ".bmp"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``handmesh-bench detection``."""
    default_photos = _SHARED / "photos" if (_SHARED / "photos").is_dir() else None
    default_crops = _SHARED / "freihand_crops" if (_SHARED / "freihand_crops").is_dir() else None
    parser.add_argument(
        "--photos",
        type=Path,
        default=default_photos,
        help="folder of photos with hands (default: ../shared/real_hands/photos when present)",
    )
    parser.add_argument(
        "--crops",
        type=Path,
        default=default_crops,
        help="folder of hand crops, used as they are (default: ../shared/real_hands/freihand_crops when present)",
    )
    parser.add_argument(
        "--size",
        type=int,
        nargs=2,
        default=(640, 480),
        metavar=("W", "H"),
        help="frame size the photos are letterboxed to (default: 640 480)",
    )
    parser.add_argument(
        "--hand-landmarker",
        type=Path,
        default=None,
        help="hand_landmarker .task bundle (default: $HANDMESH_HAND_LANDMARKER, then the cache)",
    )
    parser.add_argument("--repeats", type=int, default=20, help="timed IMAGE-mode calls per photo (default: 20)")
    parser.add_argument(
        "--video-frames",
        type=int,
        default=31,
        help="frames of each still clip in VIDEO mode, the first untimed (default: 31)",
    )
    parser.add_argument(
        "--max-hands", type=int, nargs="+", default=[1, 2], help="MediaPipe num_hands values to time (default: 1 2)"
    )


def _images(folder: Path | None, flag: str) -> list[Path]:
    if folder is None:
        return []
    if not folder.is_dir():
        raise MissingFileError(f"handmesh-bench detection {flag}: folder {folder} does not exist")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in _EXTS and not p.name.startswith("."))


def _read_rgb(path: Path) -> np.ndarray:
    import cv2

    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        from handmesh.errors import DataError

        raise DataError(f"handmesh-bench detection: cannot decode image {path}")
    return np.ascontiguousarray(bgr[..., ::-1])


def run(args: argparse.Namespace) -> int:
    """Print the table."""
    from handmesh.app.sinks import letterbox
    from handmesh.detection import MediaPipeHandDetector, find_hand_landmarker

    bundle = find_hand_landmarker(args.hand_landmarker)
    photos = _images(args.photos, "--photos")
    crops = [p for p in _images(args.crops, "--crops") if not p.stem.endswith("_K")]
    if not photos:
        raise MissingFileError("handmesh-bench detection: no photos; pass --photos DIR (a folder of hand photos)")
    width, height = args.size
    originals = [_read_rgb(p) for p in photos]
    frames = [letterbox(im, width, height, fill=114) for im in originals]  # grey padding

    rows: list[tuple[str, list[float]]] = []
    found_frames = found_native = found_crops = 0
    for max_hands in args.max_hands:
        image_ms: list[float] = []
        with MediaPipeHandDetector(bundle, mode="image", max_hands=max_hands) as det:
            for frame, native in zip(frames, originals):
                if max_hands == max(args.max_hands):
                    found_frames += bool(det.detect(frame))
                    found_native += bool(det.detect(native))
                det.detect(frame)  # warm-up
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    det.detect(frame)
                    image_ms.append((time.perf_counter() - t0) * 1e3)
            if max_hands == max(args.max_hands):
                for path in crops:
                    found_crops += bool(det.detect(_read_rgb(path)))

        video_ms: list[float] = []
        video_first_ms: list[float] = []
        for frame in frames:
            with MediaPipeHandDetector(bundle, mode="video", max_hands=max_hands) as det:
                for i in range(args.video_frames):
                    t0 = time.perf_counter()
                    det.detect(frame, timestamp_ms=33 * i)
                    (video_first_ms if i == 0 else video_ms).append((time.perf_counter() - t0) * 1e3)
        rows += [
            (f"IMAGE  num_hands={max_hands}", image_ms),
            (f"VIDEO  num_hands={max_hands}", video_ms),
            (f"VIDEO  num_hands={max_hands} 1st frame", video_first_ms),
        ]

    print(
        f"MediaPipe HandLandmarker ({bundle.name}), {len(frames)} photos letterboxed to {width}x{height}; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs visible"
    )
    print(f"{'mode':<34}{'mean ms':>10}{'median ms':>11}{'p90 ms':>9}{'FPS':>8}")
    for name, xs in rows:
        if xs:
            mean = statistics.fmean(xs)
            p90 = float(np.percentile(xs, 90))
            print(f"{name:<34}{mean:>10.2f}{statistics.median(xs):>11.2f}{p90:>9.2f}{1000 / mean:>8.1f}")
    print(
        f"hands found (num_hands={max(args.max_hands)}, IMAGE mode): {found_frames}/{len(frames)} photos at "
        f"{width}x{height}, {found_native}/{len(originals)} photos at their own size"
        + (f", {found_crops}/{len(crops)} crops" if crops else "")
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m handmesh.bench.detection [flags]`` (the same as ``handmesh-bench detection``)."""
    parser = argparse.ArgumentParser(prog="handmesh-bench detection", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
