"""Video-mode hand tracking: match each frame's detections to tracks, or place crops between detections.

Per frame, the caller runs::

    hands = tracker.step(frame_rgb, timestamp_ms)          # crop boxes for this frame (detects if needed)
    for hand in hands:
        crop = make_crop(hand.box, 224, mirror=hand.handedness == "left")
        keypoints2d = ...network on crop.warp(frame), mapped back with crop.to_frame...
        tracker.observe(hand.track_id, keypoints2d, confidence)   # places the next crop, or declares it lost

With a detector that tracks by itself (MediaPipe's VIDEO mode) the pipeline sets ``redetect_every=1``: the
detector runs on every frame and its landmarks place every crop, so nothing the network predicts is fed back into
the next crop (a network that under-sizes hands would otherwise shrink the crop frame after frame).

Detection runs when there is no track, when a track was lost (low keypoint confidence, a jump of the keypoints'
box, or the hand leaving the frame), when a track has no keypoints to follow (box-only detectors before the first
``observe``), and otherwise every ``redetect_every`` frames, which also finds a second hand entering the view. On a
detection frame, detections are matched to tracks by box overlap (IoU), so identities persist: a detection that
overlaps a live track replaces it rather than starting a second one; a track the detector misses survives
``max_missed_detections`` detection rounds on its own keypoints, then is dropped; new detections start new tracks
up to ``max_hands``. Between detections each crop box is centred on the track's last keypoints with the side of
the last *detected* box (observed keypoints move the crop, never resize it), smoothed with a One Euro filter on
(centre, side) so the crop does not jitter. Handedness is a vote over detections with hysteresis
(:class:`~handmesh.tracking.handedness.HandednessVote`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from handmesh.crop import DEFAULT_EXPAND, box_from_keypoints, crop_box_from_detection, square_box
from handmesh.detection.types import HandDetection, HandDetector, Handedness
from handmesh.errors import ConfigError
from handmesh.frames import as_rgb_uint8
from handmesh.tracking.handedness import HandednessVote
from handmesh.tracking.one_euro import SMOOTHING_PRESETS, OneEuroFilter, OneEuroParams


@dataclass
class TrackedHand:
    """A hand followed across frames; what :meth:`HandTracker.step` returns for the current frame.

    Attributes:
        track_id: stable identity (0, 1, 2, ... in order of appearance; never reused).
        handedness: the stable (voted) side.
        box: ``(4,)`` float64 square crop box for this frame, frame pixels.
        score: the last detection's score.
        keypoints2d: ``(21, 2)`` float64 frame pixels the box was placed from (last observation or detection), or
            None for a box-only detection not yet observed.
        keypoints3d: ``(21, 3)`` float64 the last detection's metric landmarks (MediaPipe's world landmarks), or
            None.
        detected: the box comes from a detection in this frame.
        age: frames since the track started (0 on its first frame).
        frames_since_detection: frames since a detection last matched this track.
    """

    track_id: int
    handedness: Handedness
    box: np.ndarray
    score: float
    keypoints2d: np.ndarray | None
    detected: bool
    age: int = 0
    frames_since_detection: int = 0
    keypoints3d: np.ndarray | None = None


@dataclass
class _Track:
    hand: TrackedHand
    vote: HandednessVote
    box_filter: OneEuroFilter | None
    missed: int = 0
    side: float = 0.0  # side of the last detected crop box, pixels: the size crops keep between detections


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two ``(4,)`` xyxy boxes (0 when either is empty)."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def box_containment(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection of two ``(4,)`` xyxy boxes over the smaller one's area (1 when one lies inside the other)."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return float(iw * ih / smaller) if smaller > 0 else 0.0


def drop_contained(boxes: list[np.ndarray], containment: float = 0.7) -> list[int]:
    """Indices of the boxes to keep: a box lying (``containment`` of its area) inside a larger one is a part of
    that hand reported again (the landmarker does this now and then), and goes."""
    area = [(b[2] - b[0]) * (b[3] - b[1]) for b in boxes]

    def inside_larger(j: int) -> bool:
        return any(area[k] > area[j] and box_containment(boxes[j], boxes[k]) > containment for k in range(len(boxes)))

    return [j for j in range(len(boxes)) if not inside_larger(j)]


class HandTracker:
    """Decides each frame's crop boxes, reusing the last joints and calling the detector only when needed.

    Args:
        detector: anything with ``detect(frame_rgb, timestamp_ms) -> list[HandDetection]``.
        max_hands: most hands tracked at once. Default: 2.
        redetect_every: detect at least every this many frames (1 = every frame). Default: 10.
        expand: crop side / keypoint box side (:data:`handmesh.crop.DEFAULT_EXPAND`). Default: 1.6.
        box_expand: crop side / box side for detections without keypoints. Default: 1.
        min_confidence: an observation whose mean keypoint confidence is below this loses the track. Default: 0.5.
        max_jump: an observation whose keypoint box centre moved more than this fraction of the current crop side
            loses the track. Default: 0.5.
        max_scale_change: an observation whose keypoint box is more than this factor larger or smaller than the
            crop predicts loses the track. Default: 2.
        min_inside: an observation with less than this fraction of keypoints inside the frame loses the track
            (the hand is leaving). Default: 0.5.
        min_match_iou: least IoU between a track's box and a detection's crop box to match them. Default: 0.1.
        duplicate_iou: two tracks whose boxes overlap more than this follow the same hand; the younger is
            dropped. Default: 0.5.
        duplicate_containment: so do two tracks when this much of the smaller box lies inside the larger (the
            landmarker sometimes reports a part of a hand as a second, small hand inside the first). Default: 0.7.
        max_missed_detections: detection rounds a track may go unmatched before it is dropped. Default: 1.
        box_smoothing: One Euro settings for the crop box (centre and side, pixels); None disables.
            Default: ``SMOOTHING_PRESETS["keypoints2d"]``.
        handedness_decay: :class:`HandednessVote` decay. Default: 0.7.
        handedness_margin: :class:`HandednessVote` margin. Default: 0.2.
    """

    def __init__(
        self,
        detector: HandDetector,
        max_hands: int = 2,
        redetect_every: int = 10,
        expand: float = DEFAULT_EXPAND,
        box_expand: float = 1.0,
        min_confidence: float = 0.5,
        max_jump: float = 0.5,
        max_scale_change: float = 2.0,
        min_inside: float = 0.5,
        min_match_iou: float = 0.1,
        duplicate_iou: float = 0.5,
        duplicate_containment: float = 0.7,
        max_missed_detections: int = 1,
        box_smoothing: OneEuroParams | None = SMOOTHING_PRESETS["keypoints2d"],
        handedness_decay: float = 0.7,
        handedness_margin: float = 0.2,
    ) -> None:
        if max_hands < 1:
            raise ConfigError(f"HandTracker: max_hands must be >= 1, got {max_hands}")
        if redetect_every < 1:
            raise ConfigError(f"HandTracker: redetect_every must be >= 1 (1 = every frame), got {redetect_every}")
        if expand <= 0 or box_expand <= 0 or max_scale_change <= 1:
            raise ConfigError(
                f"HandTracker: need expand > 0, box_expand > 0, max_scale_change > 1; got {expand}, {box_expand}, "
                f"{max_scale_change}"
            )
        self.detector = detector
        self.max_hands = int(max_hands)
        self.redetect_every = int(redetect_every)
        self.expand = float(expand)
        self.box_expand = float(box_expand)
        self.min_confidence = float(min_confidence)
        self.max_jump = float(max_jump)
        self.max_scale_change = float(max_scale_change)
        self.min_inside = float(min_inside)
        self.min_match_iou = float(min_match_iou)
        self.duplicate_iou = float(duplicate_iou)
        self.duplicate_containment = float(duplicate_containment)
        self.max_missed_detections = int(max_missed_detections)
        self.box_smoothing = box_smoothing
        self.handedness_decay = handedness_decay
        self.handedness_margin = handedness_margin
        self.num_detections = 0
        """How many times the detector has run (for statistics and tests)."""
        self.reset()

    # ------------------------------------------------------------------------------------------------ state
    def reset(self) -> None:
        """Drop every track (e.g. on a scene cut); the next frame is detected."""
        self._tracks: dict[int, _Track] = {}
        self._next_id = 0
        self._frames_since_detection = 0
        self._force_detection = True
        self._frame_size: tuple[int, int] | None = None
        self._time: float | None = None

    @property
    def tracks(self) -> list[TrackedHand]:
        """Current tracks (copies), oldest first."""
        return [replace(t.hand) for t in self._tracks.values()]

    # ------------------------------------------------------------------------------------------------- step
    def step(self, frame_rgb: np.ndarray, timestamp_ms: int | None = None) -> list[TrackedHand]:
        """Crop boxes for this frame: from the last keypoints, or from the detector when needed.

        Args:
            frame_rgb: ``(H, W, 3)`` uint8 RGB frame (normalised like the detectors do).
            timestamp_ms: the frame's time in milliseconds, increasing; passed to the detector and the box filter.
                Default: None (the detector's clock; the box filter assumes 30 frames per second).

        Returns:
            Tracked hands for this frame, oldest track first (copies; safe to keep).
        """
        frame = as_rgb_uint8(frame_rgb)
        self._frame_size = (frame.shape[0], frame.shape[1])
        self._time = None if timestamp_ms is None else timestamp_ms / 1000.0
        for track in self._tracks.values():
            track.hand.age += 1
            track.hand.frames_since_detection += 1
            track.hand.detected = False

        need = (
            self._force_detection
            or not self._tracks
            or self._frames_since_detection + 1 >= self.redetect_every
            or any(t.hand.keypoints2d is None for t in self._tracks.values())
        )
        if need:
            self._detect(frame, timestamp_ms)
        else:
            self._frames_since_detection += 1
            for track in self._tracks.values():
                self._place(track, self._follow_box(track))
        self._drop_duplicates()
        return self.tracks

    def _detect(self, frame: np.ndarray, timestamp_ms: int | None) -> None:
        detections = self.detector.detect(frame, timestamp_ms)
        self.num_detections += 1
        self._frames_since_detection = 0
        self._force_detection = False
        boxes = [crop_box_from_detection(d, self.expand, self.box_expand) for d in detections]
        keep = drop_contained(boxes, self.duplicate_containment)
        detections, boxes = [detections[j] for j in keep], [boxes[j] for j in keep]

        # Greedy matching by IoU between each track's expected box and each detection's crop box.
        expected = {tid: self._expected_box(t) for tid, t in self._tracks.items()}
        pairs = sorted(
            ((box_iou(expected[tid], boxes[j]), tid, j) for tid in self._tracks for j in range(len(detections))),
            reverse=True,
        )
        matched_tracks: set[int] = set()
        matched_dets: set[int] = set()
        for iou, tid, j in pairs:
            if iou < self.min_match_iou or tid in matched_tracks or j in matched_dets:
                continue
            matched_tracks.add(tid)
            matched_dets.add(j)
            self._update_from_detection(self._tracks[tid], detections[j], boxes[j])

        for tid in list(self._tracks):
            if tid in matched_tracks:
                continue
            track = self._tracks[tid]
            track.missed += 1
            if track.missed > self.max_missed_detections or track.hand.keypoints2d is None:
                del self._tracks[tid]
            else:  # keep following it on its own keypoints this frame
                self._place(track, self._follow_box(track))

        for j in sorted(set(range(len(detections))) - matched_dets, key=lambda k: -detections[k].score):
            if len(self._tracks) >= self.max_hands:
                break
            if any(self._same_hand(t.hand.box, boxes[j]) for t in self._tracks.values()):
                continue
            self._new_track(detections[j], boxes[j])

    def _expected_box(self, track: _Track) -> np.ndarray:
        if track.hand.keypoints2d is not None:
            return self._follow_box(track)
        return track.hand.box

    def _follow_box(self, track: _Track) -> np.ndarray:
        """The crop between detections: centred on the track's keypoints, the side of the last detected box."""
        assert track.hand.keypoints2d is not None
        box = box_from_keypoints(track.hand.keypoints2d)
        cx, cy = (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0
        half = track.side / 2.0 if track.side > 0 else (square_box(box, self.expand)[2] - cx)
        return np.array([cx - half, cy - half, cx + half, cy + half])

    def _new_track(self, detection: HandDetection, box: np.ndarray) -> None:
        vote = HandednessVote(self.handedness_decay, self.handedness_margin)
        side = vote.update(detection.handedness, detection.score)
        box_filter = OneEuroFilter(self.box_smoothing) if self.box_smoothing is not None else None
        hand = TrackedHand(
            track_id=self._next_id,
            handedness=side,
            box=box,
            score=detection.score,
            keypoints2d=detection.keypoints2d,
            detected=True,
            keypoints3d=detection.keypoints3d,
        )
        self._next_id += 1
        track = _Track(hand=hand, vote=vote, box_filter=box_filter, side=float(box[2] - box[0]))
        self._tracks[hand.track_id] = track
        self._place(track, box)

    def _update_from_detection(self, track: _Track, detection: HandDetection, box: np.ndarray) -> None:
        track.hand.handedness = track.vote.update(detection.handedness, detection.score)
        track.hand.score = detection.score
        track.hand.detected = True
        track.hand.frames_since_detection = 0
        track.missed = 0
        if detection.keypoints2d is not None:
            track.hand.keypoints2d = detection.keypoints2d
        track.hand.keypoints3d = detection.keypoints3d
        track.side = float(box[2] - box[0])
        self._place(track, box)

    def _place(self, track: _Track, box: np.ndarray) -> None:
        """Set the track's crop box for this frame, through the box filter on (centre x, centre y, side)."""
        if track.box_filter is not None:
            cx, cy, side = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2, box[2] - box[0]
            cx, cy, side = track.box_filter(np.array([cx, cy, side]), self._time)
            box = np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2])
        track.hand.box = box

    def _drop_duplicates(self) -> None:
        ids = list(self._tracks)  # oldest first: the younger of two overlapping tracks goes
        for i, a in enumerate(ids):
            for b in ids[i + 1 :]:
                if a in self._tracks and b in self._tracks:
                    if self._same_hand(self._tracks[a].hand.box, self._tracks[b].hand.box):
                        del self._tracks[b]

    def _same_hand(self, a: np.ndarray, b: np.ndarray) -> bool:
        return box_iou(a, b) > self.duplicate_iou or box_containment(a, b) > self.duplicate_containment

    # ----------------------------------------------------------------------------------------------- observe
    def observe(
        self,
        track_id: int,
        keypoints2d: np.ndarray,
        confidence: float | np.ndarray | None = None,
        handedness: Handedness | None = None,
        handedness_score: float = 1.0,
    ) -> bool:
        """Report where the hand's joints ended up in this frame (e.g. the network's 2D joints).

        Args:
            track_id: the :attr:`TrackedHand.track_id` from this frame's :meth:`step`.
            keypoints2d: ``(21, 2)`` frame pixels.
            confidence: per-keypoint ``(21,)`` or overall confidence in [0, 1]. Default: None (trusted).
            handedness: a side estimate to add to the vote. Default: None.
            handedness_score: its confidence. Default: 1.

        Returns:
            True if the track continues; False if it was lost (it is removed, and the next frame is detected).
        """
        if track_id not in self._tracks:
            raise KeyError(f"HandTracker.observe: no track {track_id} (tracks: {sorted(self._tracks)})")
        kp = np.asarray(keypoints2d, dtype=np.float64)
        if kp.ndim != 2 or kp.shape[1] != 2:
            raise ValueError(f"HandTracker.observe: keypoints2d: expected shape (N, 2), got {kp.shape}")
        track = self._tracks[track_id]
        if self._is_lost(track, kp, confidence):
            del self._tracks[track_id]
            self._force_detection = True
            return False
        track.hand.keypoints2d = kp
        if handedness is not None:
            track.hand.handedness = track.vote.update(handedness, handedness_score)
        return True

    def _is_lost(self, track: _Track, kp: np.ndarray, confidence: float | np.ndarray | None) -> bool:
        if not np.all(np.isfinite(kp)):
            return True
        if confidence is not None and float(np.mean(confidence)) < self.min_confidence:
            return True
        if self._frame_size is not None:
            h, w = self._frame_size
            inside = (kp[:, 0] >= -0.5) & (kp[:, 0] <= w - 0.5) & (kp[:, 1] >= -0.5) & (kp[:, 1] <= h - 0.5)
            if inside.mean() < self.min_inside:
                return True
        if track.hand.keypoints2d is None:
            return False  # the box came from a box-only detector: no keypoint box to compare with yet
        new_box = square_box(box_from_keypoints(kp), self.expand)
        old = track.hand.box
        side = track.side if track.side > 0 else old[2] - old[0]
        jump = np.hypot(
            (new_box[0] + new_box[2] - old[0] - old[2]) / 2, (new_box[1] + new_box[3] - old[1] - old[3]) / 2
        )
        ratio = (new_box[2] - new_box[0]) / side
        return bool(jump > self.max_jump * side or not 1.0 / self.max_scale_change <= ratio <= self.max_scale_change)
