"""``handmesh-bench accuracy``: what a user gets from ``handmesh.load()``'s defaults, measured against ground truth
on clips and against MediaPipe's landmarks on real photos, so that every speed figure can stand beside an accuracy
figure. Numbers only: nothing here is timed.

Clips (``--clip``, repeatable; default: the sample clip shipped with the package) need the ground-truth sidecar
``handmesh-synth video`` writes beside them (``OUT.json``). Each clip runs through four fresh estimators,
``handmesh.load(mode=..., refine=...)`` with every other option at its default (``max_hands=2``): video mode and
image mode, each with the landmark fit and without it. Frames go in order with the sidecar's ``K`` and
``timestamp_ms = round(i * 1000 / fps)``. A frame's hand is the returned hand with the least mean 2D keypoint error
against the truth, unless that error exceeds half the true keypoint box's diagonal (then the frame has no match).
With ``--two-hands`` each clip also runs beside its mirror image (:func:`mirrored_pair`), and each of the two hands
is scored against its own truth.

Real photos (``--real DIR``; default: ``../shared/real_hands`` from the current directory when it exists):
``DIR/photos/*`` (no intrinsics) and ``DIR/freihand_crops/N_img.jpg`` with ``N_K.npy``. Our hands come from
``handmesh.load(mode="image", max_hands=6)`` with each refine setting, compared with MediaPipe's HandLandmarker run
on its own in IMAGE mode. Each MediaPipe hand takes our hand with the least mean 2D distance, unless that distance
exceeds half MediaPipe's keypoint box diagonal.
"""

from __future__ import annotations

import argparse
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from handmesh.errors import ConfigError, DataError, MissingFileError
from handmesh.pipeline.hand import FINGERTIPS, Hand
from handmesh.runtime.loader import BACKENDS

if TYPE_CHECKING:
    from handmesh.pipeline.estimator import HandEstimator
    from handmesh.synth.video import ClipAnnotations

COLUMNS = """\
clip table, one row per configuration (mode, refine):
  hands        frames with at least one hand / frames tested
  matched      frames whose closest hand lies within half the true box diagonal (the frames the columns
               below are computed on)
  ghosts       frames with more than one hand (the clip shows one)
  crop min/med/max  crop side / true hand size (the longer side of the true 2D keypoints' box)
  2D err       median over frames of the mean 2D keypoint error / the true box diagonal
  PA mm        mean PA-MPJPE, millimetres: per frame, the 21 joints aligned to the truth by rotation (never a
               reflection), scale and translation (Procrustes), then the mean joint distance
  jitter       mean frame-to-frame change of the root-relative joints / the truth's, over consecutive matched
               frames (1.0: moves as much as the hand; above: shakes)
  wrong side   matched frames whose handedness differs from the truth's
  mean pose    baseline: the hand model's mean pose and shape aligned per frame (PA) to the truth: PA mm only;
               a configuration near it has learned little about the pose
real table, one row per refine setting (image mode, max 6 hands), against MediaPipe run independently:
  matched      MediaPipe's hands with one of ours within half MediaPipe's box diagonal / MediaPipe's hands
  tip err      fingertips (keypoints 4 8 12 16 20): mean 2D distance / MediaPipe's box diagonal
  tip PCK@0.1  fraction of fingertips closer than 0.1 x the longer side of MediaPipe's box
  bend r       Pearson correlation of finger bends, ours (Hand.joints) vs MediaPipe's world landmarks, over
               all fingers of all matched hands; a bend is the sum of the three angles between consecutive
               bones wrist->base->2nd->3rd->tip, degrees (0: straight)
  bend diff    mean absolute difference of finger bends, degrees"""

CONFIGURATIONS: tuple[tuple[Literal["image", "video"], Literal["landmarks", "none"]], ...] = (
    ("video", "landmarks"),
    ("video", "none"),
    ("image", "landmarks"),
    ("image", "none"),
)
"""The four ``(mode, refine)`` pairs of the clip table, in the order of its rows."""

FINGER_CHAINS: tuple[tuple[int, ...], ...] = tuple((0, 1 + 4 * f, 2 + 4 * f, 3 + 4 * f, 4 + 4 * f) for f in range(5))
"""Per finger (thumb, index, middle, ring, pinky): keypoints from the wrist to the tip."""

DEFAULT_REAL = Path("..") / "shared" / "real_hands"
"""Real photos used when present, relative to the current directory."""

REAL_HANDS = 6
"""Most hands per real photo, ours and MediaPipe's."""


# ------------------------------------------------------------------------------------------------------ metrics
def keypoint_box(keypoints2d: np.ndarray) -> tuple[float, float]:
    """The tight box of 2D keypoints: ``(longer side, diagonal)`` in pixels.

    Args:
        keypoints2d: ``(21, 2)`` pixels.
    """
    kp = np.asarray(keypoints2d, dtype=np.float64)
    w, h = kp.max(axis=0) - kp.min(axis=0)
    return float(max(w, h)), float(np.hypot(w, h))


def finger_bends(joints: np.ndarray) -> np.ndarray:
    """How bent each finger is: the sum of the three angles between consecutive bones of the chain
    wrist -> base -> 2nd -> 3rd -> tip.

    Args:
        joints: ``(..., 21, 3)`` keypoints in any metric frame (metres or not: angles only).

    Returns:
        ``(..., 5)`` degrees, thumb to pinky; 0 for a straight finger in line with the wrist.
    """
    j = np.asarray(joints, dtype=np.float64)
    chains = j[..., np.array(FINGER_CHAINS), :]  # (..., 5, 5, 3)
    bones = np.diff(chains, axis=-2)  # (..., 5, 4, 3)
    bones = bones / np.maximum(np.linalg.norm(bones, axis=-1, keepdims=True), 1e-12)
    cos = np.clip(np.sum(bones[..., :-1, :] * bones[..., 1:, :], axis=-1), -1.0, 1.0)  # (..., 5, 3)
    return np.degrees(np.arccos(cos)).sum(axis=-1)


def frame_to_frame_change(joints: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Mean motion of the root-relative joints between consecutive frames.

    Args:
        joints: ``(T, 21, 3)`` metres.
        valid: ``(T,)`` bool: frames that count; a pair counts when both of its frames do. Default: all.

    Returns:
        The mean over counted pairs of the mean joint displacement, metres; NaN when no pair counts.
    """
    j = np.asarray(joints, dtype=np.float64)
    rel = j - j[:, :1]
    ok = np.ones(len(j), bool) if valid is None else np.asarray(valid, bool)
    pairs = ok[1:] & ok[:-1]
    if not pairs.any():
        return float("nan")
    step = np.linalg.norm(rel[1:] - rel[:-1], axis=-1).mean(axis=-1)  # (T-1,)
    return float(step[pairs].mean())


def pa_mpjpe_mm(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per-sample PA-MPJPE: the prediction aligned to the truth by a rotation (never a reflection: a mirror-image
    hand is a wrong hand), scale and translation (:func:`handmesh.metrics.align_w_scale`), then the mean joint
    distance.

    Args:
        pred: ``(N, 21, 3)`` metres.
        truth: ``(N, 21, 3)`` metres.

    Returns:
        ``(N,)`` millimetres.
    """
    from handmesh.metrics import align_w_scale

    gt = np.asarray(truth, dtype=np.float64)
    aligned = align_w_scale(gt, np.asarray(pred, dtype=np.float64), allow_reflection=False)
    return np.linalg.norm(aligned - gt, axis=-1).mean(axis=-1) * 1000.0


def closest_hand(hands: Sequence[Hand], keypoints2d: np.ndarray, limit_px: float) -> tuple[int | None, float]:
    """The hand whose ``joints2d`` lie closest to ``keypoints2d`` (mean distance over the 21 keypoints).

    Args:
        hands: candidates.
        keypoints2d: ``(21, 2)`` pixels, the reference.
        limit_px: a closest hand farther than this is no match.

    Returns:
        ``(index into hands or None, its mean distance in pixels)``; ``(None, inf)`` without candidates.
    """
    ref = np.asarray(keypoints2d, dtype=np.float64)
    errors = [float(np.linalg.norm(np.asarray(h.joints2d, np.float64) - ref, axis=-1).mean()) for h in hands]
    if not errors:
        return None, float("inf")
    best = int(np.argmin(errors))
    return (best if errors[best] <= limit_px else None), errors[best]


def _nan_stat(fn: Any, values: Sequence[float]) -> float:
    return float(fn(values)) if len(values) else float("nan")


# --------------------------------------------------------------------------------------------------------- clips
@dataclass(frozen=True)
class ClipAccuracy:
    """One estimator configuration scored on one clip.

    Attributes:
        clip: the video.
        mode: ``"video"`` or ``"image"``.
        refine: ``"landmarks"`` or ``"none"``.
        frames: frames tested.
        found: frames with at least one hand.
        matched: frames whose closest hand is within half the true box diagonal (the frames the figures below
            are computed on).
        ghosts: frames with more hands than the frames show.
        crop_ratio_min: least crop side / true hand size (longer side of the true 2D keypoints' box).
        crop_ratio_median: median of the same.
        crop_ratio_max: largest of the same.
        error2d: median over matched frames of the mean 2D keypoint error / the true box diagonal.
        error2d_px: median over matched frames of the mean 2D keypoint error, pixels.
        pa_mpjpe_mm: mean over matched frames of PA-MPJPE, millimetres.
        jitter: mean frame-to-frame change of the root-relative joints / the truth's, over consecutive matched
            frames.
        wrong_side: matched frames whose handedness differs from the truth's.
    """

    clip: Path
    mode: str
    refine: str
    frames: int
    found: int
    matched: int
    ghosts: int
    crop_ratio_min: float
    crop_ratio_median: float
    crop_ratio_max: float
    error2d: float
    error2d_px: float
    pa_mpjpe_mm: float
    jitter: float
    wrong_side: int


def read_clip(path: str | os.PathLike, frames: int | None = None) -> tuple[list[np.ndarray], ClipAnnotations]:
    """A clip's frames and its ground truth, checked against each other.

    Args:
        path: the video (``.mp4``), with the ``handmesh-synth video`` sidecar ``.json`` beside it.
        frames: read only the first this many frames. Default: None (all the sidecar describes).

    Returns:
        ``(frames, truth)``: ``(H, W, 3)`` uint8 RGB frames and the
        :class:`~handmesh.synth.video.ClipAnnotations` cut to the same frames.

    Raises:
        MissingFileError: no video, or no sidecar beside it.
        DataError: the video cannot be decoded, or its frames disagree with the sidecar (count or size).
        ConfigError: ``frames`` < 1.
    """
    from handmesh.app.sources import VideoFileSource
    from handmesh.synth.video import load_clip

    if frames is not None and frames < 1:
        raise ConfigError(f"frames must be >= 1, got {frames}")
    video = Path(path)
    if not video.is_file():
        raise MissingFileError(f"clip {video} does not exist")
    sidecar = video.with_suffix(".json")
    if not sidecar.is_file():
        raise MissingFileError(
            f"clip {video} has no ground truth: expected the sidecar {sidecar} that "
            "`handmesh-synth video` writes beside the video"
        )
    truth = load_clip(sidecar)
    total = len(truth.keypoints2d)
    want = total if frames is None else min(frames, total)
    src = VideoFileSource(video)
    out: list[np.ndarray] = []
    try:
        while len(out) < want:
            frame = src.read()
            if frame is None:
                break
            out.append(frame.rgb)
    finally:
        src.close()
    if len(out) < want:
        raise DataError(f"clip {video}: decoded {len(out)} frames, but its sidecar {sidecar.name} describes {total}")
    if out[0].shape[:2] != tuple(truth.size):
        raise DataError(
            f"clip {video}: frames are {out[0].shape[1]}x{out[0].shape[0]}, its sidecar {sidecar.name} "
            f"says {truth.size[1]}x{truth.size[0]}"
        )
    cut = {
        k: getattr(truth, k)[:want]
        for k in ("keypoints2d", "keypoints3d", "vertices", "global_orient", "hand_pose", "betas", "transl")
    }
    return out, replace(truth, **cut)


def mirrored_pair(
    frames: Sequence[np.ndarray], truth: ClipAnnotations
) -> tuple[list[np.ndarray], tuple[ClipAnnotations, ClipAnnotations]]:
    """A two-hand clip from a one-hand clip: each frame beside its mirror image, and the truth of both hands.

    The left half is the frame as it is, with its truth. The right half is the frame flipped left to right: it shows
    the true hand mirrored, a hand of the other side, whose 2D keypoints sit at ``(2W - 1 - u, v)``. Its 3D truth is
    the true keypoints and vertices reflected in ``x`` (and the pose in MANO's convention for the other hand: each
    axis-angle's ``y`` and ``z`` negated), a rigid hand of the other side. Through the clip's one camera (principal
    point in the left half) no rigid hand projects exactly onto the flipped pixels: only that hand sheared in depth
    (``x' = (2W - 1 - 2 c_x) z / f_x - x``) does, and that is no hand. A real hand that looks like the right half is
    the mirrored hand turned towards the camera where the right half shows it; PA-MPJPE, which takes the rotation
    out, scores its shape: the reflected keypoints. Scoring against the sheared points instead costs a perfect
    mirrored hand about 16 mm on the sample clip.

    Args:
        frames: ``(H, W, 3)`` frames of a one-hand clip.
        truth: its :class:`~handmesh.synth.video.ClipAnnotations`.

    Returns:
        ``(frames, (left, right))``: ``(H, 2W, 3)`` frames and the truth of the original hand and of the mirrored
        one, each with the doubled frame size and the clip's ``K``.
    """
    from handmesh.crop import mirror_axis_angle, mirror_points

    h, w = truth.size
    doubled = [np.ascontiguousarray(np.concatenate([f, f[:, ::-1]], axis=1)) for f in frames]
    kp2 = np.array(truth.keypoints2d, np.float64, copy=True)
    kp2[..., 0] = 2 * w - 1 - kp2[..., 0]
    left = replace(truth, size=(h, 2 * w))
    right = replace(
        truth,
        size=(h, 2 * w),
        keypoints2d=kp2,
        keypoints3d=mirror_points(np.asarray(truth.keypoints3d)),
        vertices=mirror_points(np.asarray(truth.vertices)),
        global_orient=mirror_axis_angle(np.asarray(truth.global_orient)),
        hand_pose=mirror_axis_angle(np.asarray(truth.hand_pose)),
        transl=mirror_points(np.asarray(truth.transl)),
        handedness="left" if truth.handedness == "right" else "right",
    )
    return doubled, (left, right)


def run_clip(estimator: HandEstimator, frames: Sequence[np.ndarray], truth: ClipAnnotations) -> list[list[Hand]]:
    """Feed a clip's frames in order to an estimator with the clip's ``K`` and timestamps.

    Args:
        estimator: a fresh :class:`~handmesh.pipeline.estimator.HandEstimator` (video mode keeps state).
        frames: ``(H, W, 3)`` uint8 RGB frames.
        truth: the clip's :class:`~handmesh.synth.video.ClipAnnotations` (``K``, ``fps``).

    Returns:
        The hands of each frame.
    """
    return [
        list(estimator(frame, K=truth.K, timestamp_ms=round(i * 1000 / truth.fps))) for i, frame in enumerate(frames)
    ]


def score_clip(
    hands_per_frame: Sequence[Sequence[Hand]],
    truth: ClipAnnotations,
    *,
    clip: str | os.PathLike = "",
    mode: str = "",
    refine: str = "",
    hands_in_frame: int = 1,
) -> ClipAccuracy:
    """Score the hands an estimator returned for a clip's frames against the clip's ground truth.

    Args:
        hands_per_frame: the hands of each frame, frame 0 first (as many frames as the truth has, or fewer).
        truth: :class:`~handmesh.synth.video.ClipAnnotations` (``keypoints2d (T, 21, 2)`` px,
            ``keypoints3d (T, 21, 3)`` metres, ``handedness``) of the hand scored.
        clip, mode, refine: labels stored in the result. Default: empty.
        hands_in_frame: how many hands the frames show (2 for :func:`mirrored_pair`'s frames, each half scored
            with its own truth): a frame with more hands than that counts as a ghost. Default: 1.

    Returns:
        :class:`ClipAccuracy`.
    """
    n = len(hands_per_frame)
    if n > len(truth.keypoints2d):
        raise DataError(f"score_clip: {n} frames of hands but ground truth for {len(truth.keypoints2d)}")
    pred = np.zeros((n, 21, 3))
    valid = np.zeros(n, bool)
    crop_ratios: list[float] = []
    errors: list[float] = []
    errors_px: list[float] = []
    wrong = ghosts = found = 0
    for i, hands in enumerate(hands_per_frame):
        found += bool(hands)
        ghosts += len(hands) > hands_in_frame
        size, diag = keypoint_box(truth.keypoints2d[i])
        j, err = closest_hand(hands, truth.keypoints2d[i], 0.5 * diag)
        if j is None:
            continue
        hand = hands[j]
        valid[i] = True
        pred[i] = hand.joints
        errors.append(err / diag)
        errors_px.append(err)
        x0, y0, x1, y1 = np.asarray(hand.crop_box, np.float64)
        crop_ratios.append(max(x1 - x0, y1 - y0) / size)
        wrong += hand.handedness != truth.handedness
    gt = np.asarray(truth.keypoints3d[:n], np.float64)
    pa = pa_mpjpe_mm(pred[valid], gt[valid]) if valid.any() else np.zeros(0)
    truth_motion = frame_to_frame_change(gt, valid)
    return ClipAccuracy(
        clip=Path(clip),
        mode=mode,
        refine=refine,
        frames=n,
        found=found,
        matched=int(valid.sum()),
        ghosts=ghosts,
        crop_ratio_min=_nan_stat(np.min, crop_ratios),
        crop_ratio_median=_nan_stat(np.median, crop_ratios),
        crop_ratio_max=_nan_stat(np.max, crop_ratios),
        error2d=_nan_stat(np.median, errors),
        error2d_px=_nan_stat(np.median, errors_px),
        pa_mpjpe_mm=_nan_stat(np.mean, pa),
        jitter=frame_to_frame_change(pred, valid) / truth_motion if truth_motion > 0 else float("nan"),
        wrong_side=wrong,
    )


def clip_accuracy(
    clip_path: str | os.PathLike,
    *,
    mode: Literal["image", "video"],
    refine: Literal["landmarks", "none"],
    frames: int | None = None,
    **load_kwargs: Any,
) -> ClipAccuracy:
    """Accuracy of ``handmesh.load(mode=mode, refine=refine, **load_kwargs)`` on a clip with ground truth.

    Args:
        clip_path: a video with its ``handmesh-synth video`` sidecar beside it.
        mode: ``"video"`` or ``"image"``.
        refine: ``"landmarks"`` or ``"none"``.
        frames: only the first this many frames. Default: None (all).
        **load_kwargs: more options of :func:`handmesh.load` (``checkpoint``, ``backend``, ``hand_landmarker``,
            ...); the rest keep their defaults.

    Returns:
        :class:`ClipAccuracy`.

    Raises:
        MissingFileError: no video, no sidecar, no weights or no detector bundle.
        DataError: the video cannot be decoded or disagrees with its sidecar.
    """
    import handmesh

    video, truth = read_clip(clip_path, frames)
    with handmesh.load(mode=mode, refine=refine, **load_kwargs) as estimator:
        hands = run_clip(estimator, video, truth)
    return score_clip(hands, truth, clip=clip_path, mode=mode, refine=refine)


def mean_pose_pa_mpjpe_mm(truth: ClipAnnotations) -> float:
    """Baseline: the hand model's mean pose with zero shape, aligned per frame (PA) to the truth.

    Args:
        truth: :class:`~handmesh.synth.video.ClipAnnotations` (its ``hand_model`` and ``handedness`` name the
            model; ``keypoints3d (T, 21, 3)`` metres).

    Returns:
        Mean PA-MPJPE over the frames, millimetres.
    """
    import torch

    from handmesh.hand_model import build_hand_model

    model = build_hand_model(truth.hand_model, truth.handedness)
    with torch.no_grad():  # hand_pose holds offsets from hands_mean: zeros are the mean pose
        joints = model(torch.zeros(1, 3), torch.zeros(1, 45), torch.zeros(1, 10)).joints[0].double().numpy()
    gt = np.asarray(truth.keypoints3d, np.float64)
    return float(pa_mpjpe_mm(np.broadcast_to(joints, gt.shape), gt).mean())


# ---------------------------------------------------------------------------------------------------- real photos
@dataclass(frozen=True)
class RealAccuracy:
    """Our hands on real photos against MediaPipe's, for one refine setting.

    Attributes:
        refine: ``"landmarks"`` or ``"none"``.
        images: photos and crops tested.
        mediapipe_hands: hands MediaPipe found.
        matched: MediaPipe's hands with one of ours within half MediaPipe's box diagonal.
        tip_error: mean over matched hands of the mean fingertip distance / MediaPipe's box diagonal.
        tip_pck: fraction of matched fingertips closer than 0.1 x the longer side of MediaPipe's box.
        bend_correlation: Pearson correlation of finger bends (ours vs MediaPipe's world landmarks) over all
            fingers of the matched hands.
        bend_difference_deg: mean absolute difference of the same bends, degrees.
    """

    refine: str
    images: int
    mediapipe_hands: int
    matched: int
    tip_error: float
    tip_pck: float
    bend_correlation: float
    bend_difference_deg: float


def real_images(folder: str | os.PathLike) -> list[tuple[Path, np.ndarray | None]]:
    """The images of a real-photo folder: ``photos/*`` (no intrinsics) and ``freihand_crops/N_img.jpg`` with the
    ``(3, 3)`` intrinsics in ``N_K.npy``.

    Raises:
        MissingFileError: no such folder, or a crop without its ``N_K.npy``.
        DataError: no images at all, or an intrinsics file that is not 3x3.
    """
    from handmesh.app.sources import IMAGE_SUFFIXES

    root = Path(folder)
    if not root.is_dir():
        raise MissingFileError(f"real photo folder {root} does not exist")
    out: list[tuple[Path, np.ndarray | None]] = []
    photos = root / "photos"
    if photos.is_dir():
        out += [
            (p, None)
            for p in sorted(photos.iterdir())
            if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
        ]
    for img in sorted((root / "freihand_crops").glob("*_img.jpg")):
        k_file = img.with_name(img.name[: -len("_img.jpg")] + "_K.npy")
        if not k_file.is_file():
            raise MissingFileError(f"{img}: its intrinsics {k_file.name} (3x3, pixels) are missing")
        K = np.load(k_file)
        if K.shape != (3, 3):
            raise DataError(f"{k_file}: intrinsics of shape {K.shape}, expected (3, 3)")
        out.append((img, K.astype(np.float64)))
    if not out:
        raise DataError(
            f"real photo folder {root} holds no images: expected photos/* ({' '.join(IMAGE_SUFFIXES)}) "
            "and/or freihand_crops/N_img.jpg with N_K.npy"
        )
    return out


def _read_rgb(path: Path) -> np.ndarray:
    import cv2

    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise DataError(f"cannot decode image {path} (expected a JPEG/PNG photo)")
    return np.ascontiguousarray(bgr[..., ::-1])


def real_accuracy(
    folder: str | os.PathLike,
    *,
    refine_settings: Sequence[str] = ("landmarks", "none"),
    hand_landmarker: str | os.PathLike | None = None,
    **load_kwargs: Any,
) -> list[RealAccuracy]:
    """Our hands on a folder of real photos (see :func:`real_images`) against MediaPipe run on its own.

    Args:
        folder: the real-photo folder.
        refine_settings: one result per setting. Default: ``("landmarks", "none")``.
        hand_landmarker: MediaPipe ``.task`` bundle, for both. Default: None (the cache).
        **load_kwargs: more options of :func:`handmesh.load` (``checkpoint``, ``backend``); image mode and
            ``max_hands=6`` are fixed.

    Returns:
        One :class:`RealAccuracy` per refine setting.
    """
    import handmesh
    from handmesh.detection import MediaPipeHandDetector

    images = [(_read_rgb(p), K) for p, K in real_images(folder)]
    with MediaPipeHandDetector(hand_landmarker, mode="image", max_hands=REAL_HANDS) as landmarker:
        references = [landmarker.detect(rgb) for rgb, _ in images]
    total = sum(len(r) for r in references)
    tips = list(FINGERTIPS)
    results = []
    for refine in refine_settings:
        tip_errors: list[float] = []
        tip_hits: list[np.ndarray] = []
        ours_bends: list[np.ndarray] = []
        theirs_bends: list[np.ndarray] = []
        with handmesh.load(
            mode="image", max_hands=REAL_HANDS, refine=refine, hand_landmarker=hand_landmarker, **load_kwargs
        ) as estimator:
            for (rgb, K), dets in zip(images, references):
                hands = estimator(rgb, K) if dets else []
                for det in dets:
                    size, diag = keypoint_box(det.keypoints2d)
                    j, _ = closest_hand(hands, det.keypoints2d, 0.5 * diag)
                    if j is None:
                        continue
                    d = np.linalg.norm(np.asarray(hands[j].joints2d, np.float64)[tips] - det.keypoints2d[tips], axis=-1)
                    tip_errors.append(float(d.mean() / diag))
                    tip_hits.append(d < 0.1 * size)
                    if det.keypoints3d is not None:  # a bundle without world landmarks: no bends to compare
                        ours_bends.append(finger_bends(hands[j].joints))
                        theirs_bends.append(finger_bends(det.keypoints3d))
        a = np.concatenate(ours_bends) if ours_bends else np.zeros(0)
        b = np.concatenate(theirs_bends) if theirs_bends else np.zeros(0)
        corr = float(np.corrcoef(a, b)[0, 1]) if len(a) > 1 and a.std() > 0 and b.std() > 0 else float("nan")
        results.append(
            RealAccuracy(
                refine=refine,
                images=len(images),
                mediapipe_hands=total,
                matched=len(tip_errors),
                tip_error=_nan_stat(np.mean, tip_errors),
                tip_pck=float(np.concatenate(tip_hits).mean()) if tip_hits else float("nan"),
                bend_correlation=corr,
                bend_difference_deg=_nan_stat(np.mean, np.abs(a - b)),
            )
        )
    return results


# ---------------------------------------------------------------------------------------------------------- tables
def _num(value: float, fmt: str, width: int) -> str:
    return f"{'-':>{width}}" if not np.isfinite(value) else f"{value:>{width}{fmt}}"


CLIP_HEADER = (
    f"{'configuration':<24}{'hands':>9}{'matched':>8}{'ghosts':>7}{'crop min':>9}{'crop med':>9}"
    f"{'crop max':>9}"
    f"{'2D err':>8}{'PA mm':>8}{'jitter':>8}{'wrong side':>11}"
)


def format_clip_row(result: ClipAccuracy) -> str:
    """One row of the clip table (see :data:`CLIP_HEADER`)."""
    name = f"{result.mode}, {result.refine}"
    return (
        f"{name:<24}{f'{result.found}/{result.frames}':>9}{result.matched:>8}{result.ghosts:>7}"
        f"{_num(result.crop_ratio_min, '.2f', 9)}{_num(result.crop_ratio_median, '.2f', 9)}"
        f"{_num(result.crop_ratio_max, '.2f', 9)}"
        f"{_num(result.error2d, '.3f', 8)}{_num(result.pa_mpjpe_mm, '.1f', 8)}{_num(result.jitter, '.2f', 8)}"
        f"{result.wrong_side:>11}"
    )


def format_baseline_row(pa_mm: float) -> str:
    """The clip table's baseline row: the mean pose's PA-MPJPE only."""
    return (
        f"{'mean pose':<24}{'-':>9}{'-':>8}{'-':>7}{'-':>9}{'-':>9}{'-':>9}{'-':>8}{_num(pa_mm, '.1f', 8)}{'-':>8}"
        f"{'-':>11}"
    )


REAL_HEADER = f"{'configuration':<24}{'matched':>9}{'tip err':>9}{'tip PCK@0.1':>13}{'bend r':>8}{'bend diff':>11}"


def format_real_row(result: RealAccuracy) -> str:
    """One row of the real-photo table (see :data:`REAL_HEADER`); the bend difference in degrees."""
    name = f"image, {result.refine}"
    return (
        f"{name:<24}{f'{result.matched}/{result.mediapipe_hands}':>9}{_num(result.tip_error, '.3f', 9)}"
        f"{_num(result.tip_pck, '.2f', 13)}{_num(result.bend_correlation, '.2f', 8)}"
        f"{_num(result.bend_difference_deg, '.1f', 11)}"
    )


# ------------------------------------------------------------------------------------------------------------ CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``handmesh-bench accuracy``; the column explanations go into ``--help``."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = COLUMNS
    parser.add_argument(
        "--clip",
        type=Path,
        action="append",
        default=None,
        help="video with a handmesh-synth ground-truth sidecar (OUT.json beside OUT.mp4); repeat for "
        "several (default: the sample clip shipped with the package)",
    )
    parser.add_argument("--frames", type=int, default=None, help="only the first N frames of each clip (default: all)")
    parser.add_argument(
        "--real",
        type=Path,
        default=None,
        help="folder with photos/ and/or freihand_crops/ (default: ../shared/real_hands from the "
        "current directory, when it exists)",
    )
    parser.add_argument(
        "--two-hands",
        action="store_true",
        help="also score each clip beside its mirror image: two hands of opposite sides in every frame, a table "
        "for each (the mirrored hand's 3D truth is the true hand reflected; see mirrored_pair)",
    )
    parser.add_argument("--no-real", action="store_true", help="skip the real-photo part")
    parser.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="network checkpoint or export (default: the weights shipped with the package)",
    )
    parser.add_argument(
        "--backend",
        default="auto",
        choices=("auto", *BACKENDS),
        help="network runtime (default: auto, as handmesh.load)",
    )
    parser.add_argument(
        "--hand-landmarker",
        type=Path,
        default=None,
        help="hand_landmarker .task bundle (default: $HANDMESH_HAND_LANDMARKER, then the cache)",
    )


def run(args: argparse.Namespace) -> int:
    """Score the clips and the real photos and print the tables."""
    from handmesh.app.sources import SAMPLE_CLIP
    from handmesh.detection import find_hand_landmarker

    if args.frames is not None and args.frames < 1:
        raise ConfigError(f"handmesh-bench accuracy: --frames must be >= 1, got {args.frames}")
    if args.real is not None and args.no_real:
        raise ConfigError("handmesh-bench accuracy: --real and --no-real contradict each other")
    clips = list(args.clip or [SAMPLE_CLIP])
    real = None if args.no_real else (args.real or (DEFAULT_REAL if DEFAULT_REAL.is_dir() else None))
    if args.real is not None and not args.real.is_dir():
        raise MissingFileError(f"handmesh-bench accuracy --real: folder {args.real} does not exist")
    data = [read_clip(c, args.frames) for c in clips]  # every clip checked before the long part starts
    bundle = find_hand_landmarker(args.hand_landmarker)
    load_kwargs = {"checkpoint": args.checkpoint, "backend": args.backend, "hand_landmarker": bundle}

    print(
        f"handmesh-bench accuracy: clips {', '.join(c.name for c in clips)}"
        f"{'' if args.frames is None else f' (first {args.frames} frames)'}; checkpoint "
        f"{args.checkpoint or 'shipped'}; backend {args.backend}; hand landmarker {bundle}; other options of "
        "handmesh.load at their defaults"
    )
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs visible")
    described = False
    for clip, (video, truth) in zip(clips, data):
        print(
            f"\nclip {clip.name}: {len(video)} frames at {truth.size[1]}x{truth.size[0]}, {truth.handedness} hand, "
            f"{truth.hand_model} hand model, K and timestamps from the sidecar"
        )
        hands = _run_configurations(video, truth, load_kwargs, describe=not described)
        described = True
        rows = [
            score_clip(per_frame, truth, clip=clip, mode=mode, refine=refine)
            for (mode, refine), per_frame in zip(CONFIGURATIONS, hands)
        ]
        print(CLIP_HEADER)
        for row in rows:
            print(format_clip_row(row))
        print(format_baseline_row(mean_pose_pa_mpjpe_mm(truth)))
        if args.two_hands:
            _two_hands(clip, video, truth, load_kwargs)

    if real is None:
        print(
            "\nreal photos: skipped ("
            + ("--no-real" if args.no_real else f"no folder at {DEFAULT_REAL}; pass --real DIR")
            + ")"
        )
        return 0
    results = real_accuracy(real, **load_kwargs)
    print(
        f"\nreal photos {real}: {results[0].images} images; MediaPipe HandLandmarker IMAGE mode, max "
        f"{REAL_HANDS} hands, found {results[0].mediapipe_hands} hands"
    )
    print(REAL_HEADER)
    for r in results:
        print(format_real_row(r))
    return 0


def _run_configurations(
    video: list[np.ndarray], truth: ClipAnnotations, load_kwargs: dict[str, Any], describe: bool = False
) -> list[list[list[Hand]]]:
    """The hands of every frame for each of :data:`CONFIGURATIONS`, each through a fresh estimator (printing the
    first estimator's description when ``describe``)."""
    import handmesh

    out = []
    for mode, refine in CONFIGURATIONS:
        with handmesh.load(mode=mode, refine=refine, **load_kwargs) as estimator:
            if describe and not out:
                print(f"handmesh: {estimator.describe()}")
            out.append(run_clip(estimator, video, truth))
    return out


def _two_hands(clip: Path, video: list[np.ndarray], truth: ClipAnnotations, load_kwargs: dict[str, Any]) -> None:
    """The clip beside its mirror image through every configuration: one table per hand."""
    doubled, halves = mirrored_pair(video, truth)
    hands = _run_configurations(doubled, halves[0], load_kwargs)
    for half, where in zip(halves, ("left half: the clip's hand", "right half: its mirror image")):
        print(
            f"\nclip {clip.name} beside its mirror image ({2 * truth.size[1]}x{truth.size[0]}), {where}, "
            f"{half.handedness} hand; ghosts: frames with more than two hands"
        )
        print(CLIP_HEADER)
        for (mode, refine), per_frame in zip(CONFIGURATIONS, hands):
            print(format_clip_row(score_clip(per_frame, half, clip=clip, mode=mode, refine=refine, hands_in_frame=2)))
        print(format_baseline_row(mean_pose_pa_mpjpe_mm(half)))


def main(argv: list[str] | None = None) -> int:
    """``python -m handmesh.bench.accuracy [flags]`` (the same as ``handmesh-bench accuracy``)."""
    parser = argparse.ArgumentParser(prog="handmesh-bench accuracy", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
