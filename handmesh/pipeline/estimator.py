"""The pipeline behind ``handmesh.load``: frame -> hands (mesh, joints, parameters) in the camera frame.

Per frame (stage names as in :mod:`handmesh.pipeline.timing`)::

    detect      the detector (MediaPipe's hand landmarker: boxes, side, 21 image and 21 metric landmarks); video
                mode: HandTracker matches its hands to tracks (MediaPipe's VIDEO mode follows its own region
                between frames), so crops are placed from the landmarks, never from the network's own output
    crop        square box around each hand (landmark box x ``expand``), warped to S x S; left hands mirrored
    network     NetworkStage.predict: right-hand rotations, shape, root-relative mesh and crop keypoints
    fit         HandRefiner.refine (``refine="landmarks"``): pose and translation fitted to the landmarks with
                the network's prediction as prior (:mod:`handmesh.fitting`)
    hand_model  un-mirror left hands (x -> -x, R -> M R M, reversed faces); camera solve: the translation that
                projects the 21 keypoints with K onto where the network put them in the frame; after the fit,
                video mode: One Euro filters on rotations, shape and translation; the hand model re-posed

Mirroring: the network only ever sees right hands. For a left hand the crop is flipped (folded into the warp) and
the prediction, made in the mirrored world, comes back with ``M = diag(-1, 1, 1)`` (:mod:`handmesh.crop`); the
un-mirrored rotations are exactly the left hand model's parameters.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from handmesh.crop import (
    DEFAULT_EXPAND,
    HandCrop,
    box_from_keypoints,
    crop_box_from_detection,
    make_crop,
    mirror_points,
    mirror_rotation_matrices,
)
from handmesh.detection.types import HandDetector, Handedness
from handmesh.errors import ConfigError, DataError
from handmesh.frames import as_rgb_uint8
from handmesh.pipeline.hand import Hand
from handmesh.pipeline.network import NetworkStage, Prediction
from handmesh.pipeline.refine import HandRefiner, RefineInput, RefineOutput
from handmesh.pipeline.timing import StageTimer
from handmesh.utils.closing import Closing

MAX_FRAME_SIDE = 32767
"""Longest frame side accepted, pixels (OpenCV's image functions stop at 32767, ``SHRT_MAX``)."""

RIGHT_COLOR = (0.85, 0.64, 0.50)
"""Overlay colour of right hands (RGB 0-1, a skin tone)."""
LEFT_COLOR = (0.55, 0.72, 0.95)
"""Overlay colour of left hands (light blue, so the sides are told apart at a glance)."""


@dataclass
class _Target:
    """A hand to crop in this frame, with the detector's landmarks when it gives them."""

    box: np.ndarray
    handedness: Handedness
    score: float
    track_id: int | None
    landmarks2d: np.ndarray | None = None
    landmarks3d: np.ndarray | None = None


@dataclass
class _Estimate:
    """One hand between the network and the output: real camera frame, root-relative mesh."""

    target: _Target
    crop: HandCrop
    rotmats: np.ndarray  # (16, 3, 3)
    betas: np.ndarray  # (10,)
    translation: np.ndarray  # (3,) the wrist, metres
    joints: np.ndarray  # (21, 3) root-relative
    vertices: np.ndarray  # (V, 3) root-relative
    uv_crop: np.ndarray  # (21, 2) the network's keypoints, crop pixels
    fit: RefineOutput | None = None


@dataclass
class PendingFrame:
    """A frame handed to :meth:`HandEstimator.submit`, whose detection may still be running.

    Attributes:
        frame: ``(H, W, 3)`` uint8 RGB, validated.
        K: ``(3, 3)`` the intrinsics used.
        timestamp_ms: the frame's time (video mode: the clock's when none was given).
        submitted: ``time.perf_counter()`` when it was submitted (for latency figures).
    """

    frame: np.ndarray
    K: np.ndarray
    timestamp_ms: int | None
    submitted: float
    _targets: Future = field(repr=False, default=None)  # type: ignore[assignment]


def check_frame(frame: Any) -> np.ndarray:
    """Validate a frame and normalise it to ``(H, W, 3)`` uint8 RGB (grayscale, RGBA, uint16 and [0, 1] floats are
    converted, see :func:`handmesh.frames.as_rgb_uint8`).

    Raises:
        DataError: not an image, empty, or larger than :data:`MAX_FRAME_SIDE` on a side.
    """
    rgb = as_rgb_uint8(frame, name="frame")
    h, w = rgb.shape[:2]
    if max(h, w) > MAX_FRAME_SIDE:
        raise DataError(
            f"frame: {w}x{h} pixels exceeds {MAX_FRAME_SIDE} on a side (OpenCV's limit); downscale it "
            "first (and scale K with it)"
        )
    return rgb


def check_intrinsics(K: Any, width: int, height: int) -> np.ndarray:
    """The frame's intrinsics: ``K`` validated, or :func:`~handmesh.geometry.camera_solve.default_intrinsics`.

    Args:
        K: ``(3, 3)`` pixels, or None for the default (60 degree field of view across the longer side, principal
            point at the image centre).
        width, height: the frame size.

    Returns:
        ``(3, 3)`` float64.

    Raises:
        DataError: ``K`` is not a (3, 3) array of numbers, has non-finite entries or a non-positive focal length,
            is not of the form ``[[fx, s, cx], [0, fy, cy], [0, 0, 1]]`` (a transposed ``K``, or one with a wrong
            bottom row, would place the hand far off), or has a skew ``s`` above 10 % of ``fx``.
    """
    from handmesh.geometry.camera_solve import default_intrinsics

    if K is None:
        return default_intrinsics(width, height)
    try:
        k = np.asarray(K, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"K: expected a (3, 3) intrinsics matrix of numbers in pixels, got {K!r:.80}") from None
    if k.shape != (3, 3):
        raise DataError(f"K: expected a (3, 3) intrinsics matrix in pixels, got shape {k.shape}")
    if not np.all(np.isfinite(k)) or k[0, 0] <= 0 or k[1, 1] <= 0:
        raise DataError(f"K: expected finite entries and positive focal lengths fx, fy, got {k.tolist()}")
    if max(abs(k[1, 0]), abs(k[2, 0]), abs(k[2, 1])) > 1e-6 * k[0, 0] or abs(k[2, 2] - 1.0) > 1e-6:
        raise DataError(
            f"K: expected [[fx, s, cx], [0, fy, cy], [0, 0, 1]] (pixels), got {k.tolist()}; a "
            "transposed K has cx, cy in its bottom row"
        )
    if abs(k[0, 1]) > 0.1 * k[0, 0]:
        raise DataError(f"K: skew {k[0, 1]:g} is more than 10 % of fx = {k[0, 0]:g}; no camera has that, check K")
    return k


@contextlib.contextmanager
def _single_torch_thread() -> Iterator[None]:
    """Run the block's torch ops on one thread, then restore the count.

    The hand-model stage is a chain of tiny ops (a 3x3 solve, 16 rotations, LBS for one hand); split over threads
    they spend more time waking workers than computing, and on a busy machine 2 threads made the stage ~15x slower
    (43 ms vs 2.7 ms per frame, measured here under load). Switching the count costs under a microsecond.
    """
    import torch

    n = torch.get_num_threads()
    if n == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


class HandEstimator(Closing):
    """Hands in frames: detection, crops, the network, the camera solve and (video mode) tracking and smoothing.

    Build one with :func:`handmesh.load`; the constructor takes ready parts so any of them can be replaced.

    Args:
        network: the network stage (:class:`~handmesh.pipeline.network.RuntimeStage` or any
            :class:`~handmesh.pipeline.network.NetworkStage`).
        detector: a hand detector (``detect(frame, timestamp_ms)``, ``close()``); in video mode it should be a
            tracking one (MediaPipe's VIDEO mode).
        hand_model: the hand model of the returned meshes. Default: None (the network's). Another model is posed
            with the network's joint rotations (both models share MANO's joint tree and axes) in its mean shape
            (shape coefficients do not carry over between models).
        mode: ``"image"`` (independent frames, no smoothing) or ``"video"`` (tracking, One Euro smoothing).
            Default: ``"image"``.
        refiner: the fit of the network's hands to the detector's landmarks (``handmesh.fitting.LandmarkFitter``),
            or None (the network's hands as they are). Default: None.
        max_hands: most hands per frame. Default: 2.
        expand: crop side / the detector keypoints' box side. Default: 1.6 (:data:`handmesh.crop.DEFAULT_EXPAND`).
        box_expand: crop side / box side for detectors without keypoints. Default: 1.
        redetect_every: video mode: run the detector at least every this many frames. Default: 1 (every frame:
            MediaPipe's VIDEO mode tracks its own region between frames, and its landmarks place the crops and feed
            the fit). Between detections a crop keeps the size of the last detected hand and only its centre
            follows the hand's keypoints.
        smoothing: video mode: One Euro filtering of rotations, shape and translation (settings of
            :class:`handmesh.tracking.HandParamsFilter`). Default: True.
        mano_dir: where the MANO files are, for ``"mano"``. Default: the usual search path.
        owns_detector: :meth:`close` closes the detector. Default: True.

    Attributes:
        timings: :class:`~handmesh.pipeline.timing.StageTimer` with the per-stage times of every call.
    """

    def __init__(
        self,
        network: NetworkStage,
        detector: HandDetector,
        *,
        hand_model: str | None = None,
        mode: Literal["image", "video"] = "image",
        refiner: HandRefiner | None = None,
        max_hands: int = 2,
        expand: float = DEFAULT_EXPAND,
        box_expand: float = 1.0,
        redetect_every: int = 1,
        smoothing: bool = True,
        mano_dir: str | None = None,
        owns_detector: bool = True,
    ) -> None:
        if mode not in ("image", "video"):
            raise ConfigError(f"mode must be 'image' or 'video', got {mode!r}")
        if int(max_hands) < 1:
            raise ConfigError(f"max_hands must be >= 1, got {max_hands}")
        if expand <= 0 or box_expand <= 0:
            raise ConfigError(f"expand and box_expand must be positive, got {expand} and {box_expand}")
        self.network = network
        self.detector = detector
        self.refiner = refiner
        self.mode = mode
        self.max_hands = int(max_hands)
        self.expand = float(expand)
        self.box_expand = float(box_expand)
        self.smoothing = bool(smoothing) and mode == "video"
        self.hand_model = str(hand_model or network.hand_model).lower()
        self.transfer = self.hand_model != str(network.hand_model).lower()
        self.mano_dir = mano_dir
        self.owns_detector = owns_detector
        self.timings = StageTimer()
        self._models: dict[str, Any] = {}
        self._faces: dict[str, np.ndarray] = {}
        self._hands_mean: dict[str, np.ndarray] = {}
        self._model("right")  # load the hand model now: a missing MANO file is an error at load, not mid-stream
        self._tracker = None
        if mode == "video":
            from handmesh.tracking import HandTracker

            # A track the detector does not find again is dropped at once when it runs on every frame: following it
            # on anything else is how ghosts (a second, stale hand beside the real one) appear.
            self._tracker = HandTracker(
                detector,
                max_hands=self.max_hands,
                redetect_every=redetect_every,
                expand=self.expand,
                box_expand=self.box_expand,
                max_missed_detections=0 if redetect_every == 1 else 1,
            )
        self._filters: dict[int, tuple[Handedness, Any]] = {}
        # submit()/collect(): detection runs on one worker thread, in submission order; the tracker is shared with
        # the caller's thread (a broken prediction drops its track), hence the lock.
        self._detect_worker: ThreadPoolExecutor | None = None
        self._track_lock = threading.Lock()
        self._closed = False

    # ------------------------------------------------------------------------------------------------ models
    def _model(self, side: str) -> Any:
        """The hand model of ``side`` (built on first use) and its faces and mean pose."""
        if side not in self._models:
            from handmesh.hand_model import build_hand_model

            model = build_hand_model(self.hand_model, side, self.mano_dir)
            model.check_inputs = False  # a finite check per call; the pipeline checks its outputs itself
            self._models[side] = model
            self._faces[side] = model.faces.cpu().numpy().astype(np.int32)
            self._hands_mean[side] = model.hands_mean.double().cpu().numpy().reshape(15, 3)
        return self._models[side]

    def model(self, side: Handedness = "right") -> Any:
        """The :class:`~handmesh.hand_model.HandModel` of the output meshes for ``side``."""
        return self._model(side)

    def faces(self, side: Handedness = "right") -> np.ndarray:
        """``(F, 3)`` int32 outward-wound faces of the output mesh for ``side``."""
        self._model(side)
        return self._faces[side]

    @functools.cached_property
    def closed_mesh(self) -> bool:
        """Whether the output mesh is closed (the open hand is; MANO is open at the wrist), for back-face culling.
        Found once: the edge count behind it takes about a millisecond, too much to repeat for every frame drawn."""
        from handmesh.render import is_closed

        return is_closed(self.faces("right"))

    # ----------------------------------------------------------------------------------------------- per frame
    def __call__(self, frame: Any, K: Any = None, timestamp_ms: int | None = None) -> list[Hand]:
        """Find hands in a frame and recover their meshes.

        Args:
            frame: ``(H, W, 3)`` uint8 RGB (grayscale, RGBA, uint16 and float [0, 1] images are converted).
            K: ``(3, 3)`` intrinsics of the frame in pixels. Default: None (60 degree field of view across the
                longer side, principal point at the centre: :func:`handmesh.geometry.default_intrinsics`).
            timestamp_ms: video mode: the frame's time in milliseconds, increasing. Default: None (the clock).

        Returns:
            One :class:`~handmesh.pipeline.hand.Hand` per hand found, most confident (video: oldest track) first;
            empty when there is none.
        """
        pending = self._prepare(frame, K, timestamp_ms)
        with self.timings.stage("detect"):
            targets = self._targets(pending.frame, pending.timestamp_ms)
        return self._estimate(pending, targets)

    def submit(self, frame: Any, K: Any = None, timestamp_ms: int | None = None) -> PendingFrame:
        """Start on a frame and return at once: its detection runs on a worker thread while the caller finishes
        the previous frame with :meth:`collect` (the landmarker on one core, the network, the fit and the drawing
        on the other). Frames are detected in submission order; collect them in that order.

        A live loop keeps one frame in flight::

            pending = None
            for frame in frames:
                nxt = estimator.submit(frame)
                if pending is not None:
                    draw(pending.frame, estimator.collect(pending))
                pending = nxt
            if pending is not None:
                draw(pending.frame, estimator.collect(pending))

        Args:
            frame, K, timestamp_ms: as for :meth:`__call__`.

        Returns:
            A :class:`PendingFrame` for :meth:`collect`.

        Raises:
            DataError: the frame or ``K`` is invalid (checked here, before anything runs).
        """
        pending = self._prepare(frame, K, timestamp_ms)
        if self._detect_worker is None:
            self._detect_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="handmesh-detect")
        pending._targets = self._detect_worker.submit(self._timed_targets, pending.frame, pending.timestamp_ms)
        return pending

    def collect(self, pending: PendingFrame) -> list[Hand]:
        """The hands of a submitted frame (waits for its detection, then runs the network, the fit and the hand
        model on this thread). Errors raised by the detection are raised here."""
        return self._estimate(pending, pending._targets.result())

    def _prepare(self, frame: Any, K: Any, timestamp_ms: Any) -> PendingFrame:
        if self._closed:
            raise ConfigError(
                "this HandEstimator was closed (its detector is released); load a new one with handmesh.load()"
            )
        rgb = check_frame(frame)
        h, w = rgb.shape[:2]
        K = check_intrinsics(K, w, h)
        if timestamp_ms is not None:
            if (
                isinstance(timestamp_ms, bool)
                or not isinstance(timestamp_ms, (int, float, np.integer, np.floating))
                or not np.isfinite(timestamp_ms)
            ):
                raise DataError(f"timestamp_ms: expected a finite number of milliseconds, got {timestamp_ms!r:.40}")
            timestamp_ms = int(timestamp_ms)
        elif self.mode == "video":
            timestamp_ms = int(time.monotonic() * 1000)
        return PendingFrame(rgb, K, timestamp_ms, time.perf_counter())

    def _timed_targets(self, frame: np.ndarray, timestamp_ms: int | None) -> list[_Target]:
        with self.timings.stage("detect"):
            return self._targets(frame, timestamp_ms)

    def _estimate(self, pending: PendingFrame, targets: list[_Target]) -> list[Hand]:
        """Everything after detection: crops, the network, the fit, the hand model."""
        rgb, K, timestamp_ms = pending.frame, pending.K, pending.timestamp_ms
        h, w = rgb.shape[:2]
        if not targets:
            self._drop_filters(set())
            return []
        S = int(self.network.input_size)
        with self.timings.stage("crop"):
            crops = [make_crop(t.box, S, mirror=t.handedness == "left") for t in targets]
            images = np.stack([c.warp(rgb) for c in crops])  # (B, S, S, 3)
        with self.timings.stage("network"):
            pred = self.network.predict(images, crops)
        with _single_torch_thread():
            t0 = time.perf_counter()
            estimates = self._unpack(pred, crops, targets, K)
            ms = (time.perf_counter() - t0) * 1e3
            if self.refiner is not None and estimates:
                with self.timings.stage("fit"):
                    self._refine(estimates, K, (h, w), timestamp_ms)
            t0 = time.perf_counter()
            hands = self._assemble(estimates, K, timestamp_ms)
            self.timings.record("hand_model", ms + (time.perf_counter() - t0) * 1e3)
        return hands

    def _targets(self, frame: np.ndarray, timestamp_ms: int | None) -> list[_Target]:
        if self._tracker is not None:
            with self._track_lock:
                tracked = self._tracker.step(frame, timestamp_ms)[: self.max_hands]
            return [
                _Target(
                    t.box,
                    t.handedness,
                    t.score,
                    t.track_id,
                    t.keypoints2d if t.detected else None,
                    t.keypoints3d if t.detected else None,
                )
                for t in tracked
            ]
        from handmesh.tracking.tracker import drop_contained

        detections = sorted(self.detector.detect(frame, timestamp_ms), key=lambda d: -d.score)
        boxes = [crop_box_from_detection(d, self.expand, self.box_expand) for d in detections]
        keep = drop_contained(boxes)[: self.max_hands]
        return [
            _Target(
                boxes[j],
                detections[j].handedness,
                detections[j].score,
                None,
                detections[j].keypoints2d,
                detections[j].keypoints3d,
            )
            for j in keep
        ]

    def _unpack(
        self, pred: Prediction, crops: Sequence[HandCrop], targets: Sequence[_Target], K: np.ndarray
    ) -> list[_Estimate]:
        """The network's hands in the real camera frame: un-mirrored, placed by the camera solve. A broken
        prediction (NaN/Inf) is no hand; its track is dropped and the next frame re-detects."""
        from handmesh.geometry.camera_solve import translation_from_crop
        from handmesh.geometry.projection import crop_normalized_to_pixels

        B, S = len(crops), int(self.network.input_size)
        rotmats = np.asarray(pred.rotmats, dtype=np.float64).reshape(B, 16, 3, 3)
        betas = np.asarray(pred.betas, dtype=np.float64).reshape(B, -1)
        joints_c = np.asarray(pred.joints, dtype=np.float64).reshape(B, 21, 3)  # crop frame, root-relative
        verts_c = np.asarray(pred.vertices, dtype=np.float64).reshape(B, -1, 3)
        uv_crop = crop_normalized_to_pixels(np.asarray(pred.joints2d, dtype=np.float64).reshape(B, 21, 2), S)
        # The wrist is at the origin, so the translation is the wrist's camera-frame position.
        transl = np.asarray(translation_from_crop(joints_c, uv_crop, crops, K), dtype=np.float64)  # (B, 3)
        estimates = []
        for i, (crop, target) in enumerate(zip(crops, targets)):
            R, joints, verts = rotmats[i], joints_c[i], verts_c[i]
            if not all(np.all(np.isfinite(a)) for a in (R, joints, verts, uv_crop[i], betas[i])):
                if self._tracker is not None and target.track_id is not None:
                    with self._track_lock:
                        self._tracker.observe(target.track_id, np.full((21, 2), np.nan))
                continue
            if crop.mirrored:  # back from the mirrored world the network saw
                R, joints, verts = mirror_rotation_matrices(R), mirror_points(joints), mirror_points(verts)
            t = transl[i]
            if not (np.all(np.isfinite(t)) and t[2] > 1e-3):
                t = self._fallback_translation(joints, crop, K)
            estimates.append(_Estimate(target, crop, R, betas[i], t, joints, verts, uv_crop[i]))
        return estimates

    def _refine(
        self, estimates: list[_Estimate], K: np.ndarray, size: tuple[int, int], timestamp_ms: int | None
    ) -> None:
        """Run the refiner on every hand at once and keep its outputs on the estimates."""
        assert self.refiner is not None
        inputs = [
            RefineInput(
                e.target.handedness,
                e.rotmats,
                e.betas,
                e.translation,
                e.target.landmarks2d,
                e.target.landmarks3d,
                e.target.track_id,
            )
            for e in estimates
        ]
        for e, out in zip(estimates, self.refiner.refine(inputs, K, size, timestamp_ms)):
            e.fit = out

    def _assemble(self, estimates: list[_Estimate], K: np.ndarray, timestamp_ms: int | None) -> list[Hand]:
        from handmesh.geometry.projection import project_pinhole

        hands: list[Hand] = []
        seen: set[int] = set()
        for e in estimates:
            target, crop, side = e.target, e.crop, e.target.handedness
            R, shape, t, joints, verts = e.rotmats, e.betas, e.translation, e.joints, e.vertices
            fit = e.fit if e.fit is not None and e.fit.refined else None
            repose = self.transfer or fit is not None
            if fit is not None:
                R, shape, t = np.asarray(fit.rotmats), np.asarray(fit.betas), np.asarray(fit.translation)
            if self.smoothing and target.track_id is not None:
                seen.add(target.track_id)
                smooth = self._filter(target.track_id, side)(
                    None if timestamp_ms is None else timestamp_ms / 1000.0,
                    global_orient=R[0],
                    hand_pose=R[1:],
                    betas=shape,
                    translation=t,
                )
                R = np.concatenate([smooth["global_orient"][None], smooth["hand_pose"]])
                shape, t = smooth["betas"], smooth["translation"]
                repose = True
            if self.transfer:
                shape = np.zeros(10)
            if repose:
                verts, joints = self._pose(side, R, shape)
            if fit is not None and fit.keypoints is not None and self.smoothing and target.track_id is not None:
                # The smoothed hand goes where the fit put this frame's hand in the image: smoothing steadies the
                # pose without making the overlay lag behind a moving hand.
                from handmesh.geometry.camera_solve import solve_translation

                uv = project_pinhole(np.asarray(fit.keypoints, np.float64), K, min_depth=1e-9)
                placed = np.asarray(solve_translation(joints[None], uv[None], K), np.float64)[0]
                if np.all(np.isfinite(placed)) and placed[2] > 1e-3:
                    t = placed
            joints_cam = joints + t
            joints2d = project_pinhole(joints_cam, K, min_depth=1e-9)
            hand = self._hand(side, target, crop, R, shape, verts + t, joints_cam, joints2d, t, K)
            if fit is not None:
                hand.refined, hand.fit_residual_px = True, float(fit.residual_px)
            hands.append(hand)
            if self._tracker is not None and target.track_id is not None and target.landmarks2d is None:
                # A detector without landmarks: the crop's centre follows the network's keypoints (its size stays
                # the detected hand's, see HandTracker).
                with self._track_lock:
                    self._tracker.observe(target.track_id, crop.to_frame(e.uv_crop))
        if self.smoothing:
            self._drop_filters(seen)
        return hands

    def _hand(
        self,
        side: Handedness,
        target: _Target,
        crop: HandCrop,
        R: np.ndarray,
        betas: np.ndarray,
        vertices: np.ndarray,
        joints: np.ndarray,
        joints2d: np.ndarray,
        t: np.ndarray,
        K: np.ndarray,
    ) -> Hand:
        import cv2

        self._model(side)
        # Rodrigues per rotation: 16 tiny conversions cost ~0.07 ms in OpenCV against ~0.5 ms as one torch batch.
        aa = np.stack([cv2.Rodrigues(np.ascontiguousarray(r, dtype=np.float64))[0][:, 0] for r in R])  # (16, 3)
        finite = np.all(np.isfinite(joints2d), axis=1)
        box = box_from_keypoints(joints2d, finite) if finite.any() else crop.box.copy()
        f32 = np.float32
        return Hand(
            handedness=side,
            score=float(target.score),
            box=box,
            crop_box=crop.box.copy(),
            vertices=vertices.astype(f32),
            joints=joints.astype(f32),
            joints2d=joints2d.astype(f32),
            global_orient=aa[0].astype(f32),
            hand_pose=(aa[1:] - self._hands_mean[side]).reshape(45).astype(f32),
            betas=np.asarray(betas, f32).reshape(-1),
            rotmats=R.astype(f32),
            translation=np.asarray(t, f32),
            K=K.copy(),
            faces=self._faces[side],
            hand_model=self.hand_model,
            track_id=target.track_id,
        )

    def _pose(self, side: str, R: np.ndarray, betas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Root-relative ``(V, 3)`` vertices and ``(21, 3)`` joints of the ``side`` model posed with absolute
        rotations ``R (16, 3, 3)`` and ``betas (10,)``."""
        import torch

        model = self._model(side)
        with torch.inference_mode():
            Rt = torch.as_tensor(R, dtype=torch.float32)[None]
            out = model(Rt[:, 0], Rt[:, 1:], torch.as_tensor(betas, dtype=torch.float32).reshape(1, -1))
        root = out.joints[0, :1]
        return (out.vertices[0] - root).double().numpy(), (out.joints[0] - root).double().numpy()

    def _fallback_translation(self, joints: np.ndarray, crop: HandCrop, K: np.ndarray) -> np.ndarray:
        """A translation when the camera solve fails (a degenerate prediction): the hand's keypoints centred in
        the crop box at the depth where their extent fills ``1 / expand`` of it."""
        side_px = (crop.box[2] - crop.box[0]) / self.expand
        extent = float(np.max(np.ptp(joints[:, :2], axis=0))) if np.all(np.isfinite(joints)) else 0.0
        extent = extent if extent > 1e-3 else 0.15
        z = float(K[0, 0]) * extent / max(side_px, 1e-6)
        cu, cv = (crop.box[0] + crop.box[2]) / 2.0, (crop.box[1] + crop.box[3]) / 2.0
        centre = np.array([(cu - K[0, 2]) * z / K[0, 0], (cv - K[1, 2]) * z / K[1, 1], z])
        mid = joints.mean(axis=0) if np.all(np.isfinite(joints)) else np.zeros(3)
        return centre - mid

    def _filter(self, track_id: int, side: Handedness) -> Any:
        """The One Euro filters of a track (new ones when the track is new or changed sides)."""
        from handmesh.tracking import HandParamsFilter

        entry = self._filters.get(track_id)
        if entry is None or entry[0] != side:
            if self.refiner is not None:
                from handmesh.tracking import SMOOTHING_PRESETS

                entry = (side, HandParamsFilter(rotation=SMOOTHING_PRESETS["fitted_rotation"]))
            else:
                entry = (side, HandParamsFilter())
            self._filters[track_id] = entry
        return entry[1]

    def _drop_filters(self, keep: set[int]) -> None:
        for tid in [t for t in self._filters if t not in keep]:
            del self._filters[tid]

    # ----------------------------------------------------------------------------------------------- drawing
    def render(
        self,
        frame: Any,
        hands: Sequence[Hand],
        *,
        mesh: bool = True,
        skeleton: bool = False,
        alpha: float = 0.8,
        inplace: bool = False,
    ) -> np.ndarray:
        """Draw hands onto a frame (times the ``render`` stage).

        Args:
            frame: the frame the hands were found in (converted like the estimator's input).
            hands: what the estimator returned for it.
            mesh: draw the shaded meshes (right hands skin-coloured, left hands light blue). Default: True.
            skeleton: draw the 21-keypoint skeletons. Default: False.
            alpha: mesh opacity in [0, 1]. Default: 0.8.
            inplace: draw into ``frame`` itself when it already is a writeable C-contiguous uint8 RGB array.
                Default: False (a copy).

        Returns:
            ``(H, W, 3)`` uint8 RGB.
        """
        from handmesh.render import Mesh, draw_skeleton, overlay

        rgb = check_frame(frame)
        with self.timings.stage("render"):
            out = rgb if inplace and rgb.flags.writeable and rgb.flags.c_contiguous else rgb.copy()
            if mesh and hands:
                cull = self.closed_mesh
                meshes = [Mesh(h.vertices, h.faces, color=RIGHT_COLOR if h.is_right else LEFT_COLOR) for h in hands]
                if all(np.array_equal(h.K, hands[0].K) for h in hands):  # one z-buffer: hands occlude each other
                    overlay(out, meshes, hands[0].K, alpha, cull_backfaces=cull, inplace=True)
                else:
                    for h, m in zip(hands, meshes):
                        overlay(out, m, h.K, alpha, cull_backfaces=cull, inplace=True)
            if skeleton:
                for h in hands:
                    draw_skeleton(out, h.joints2d, inplace=True)
        return out

    # ------------------------------------------------------------------------------------------------- state
    def reset(self) -> None:
        """Forget tracks, filter histories and the fit's temporal priors (a scene cut, a new video); timings are
        kept."""
        if self._tracker is not None:
            self._tracker.reset()
        if self.refiner is not None:
            self.refiner.reset()
        self._filters.clear()

    def close(self) -> None:
        """Stop the detection worker and release the detector (when owned). Idempotent; calling the estimator
        afterwards is an error."""
        self._closed = True
        if self._detect_worker is not None:
            self._detect_worker.shutdown(wait=True)
            self._detect_worker = None
        if self.owns_detector and self.detector is not None:
            self.detector.close()

    def describe(self) -> str:
        """One line: network backend, hand model, mode, detector, refinement."""
        net = getattr(self.network, "describe", None)
        net_text = net() if callable(net) else type(self.network).__name__
        refine = "none" if self.refiner is None else type(self.refiner).__name__
        return (
            f"network: {net_text}; hand model: {self.hand_model}; mode: {self.mode}; max hands: {self.max_hands}; "
            f"detector: {type(self.detector).__name__}; refine: {refine}"
        )


__all__ = ["HandEstimator", "MAX_FRAME_SIDE", "PendingFrame", "check_frame", "check_intrinsics"]
