"""HandTracker on synthetic keypoint sequences: follows moving hands without detecting every frame, notices lost
hands, keeps identities and handedness stable."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from handmesh.detection import FixedBoxDetector, HandDetection
from handmesh.errors import ConfigError
from handmesh.tracking import HandTracker, TrackedHand

H, W = 480, 640
FRAME = np.zeros((H, W, 3), np.uint8)

# A right hand's 21 keypoints, ~100 px tall, wrist at the origin, fingers up: thumb (shorter, to the side), then
# index, middle, ring and pinky, four points each from the knuckle to the tip.
_BASES = [(-25.0, -20.0), (-15.0, -45.0), (0.0, -48.0), (15.0, -45.0), (28.0, -40.0)]
_TIPS = [(-45.0, -60.0), (-18.0, -95.0), (0.0, -100.0), (17.0, -95.0), (32.0, -80.0)]
TEMPLATE = np.concatenate([np.zeros((1, 2))] + [np.linspace(b, t, 4) for b, t in zip(_BASES, _TIPS)])  # (21, 2)


def hand_at(centre: tuple[float, float]) -> np.ndarray:
    return TEMPLATE + np.asarray(centre)


class ScriptedDetector:
    """Returns the hands of the current frame from a script: ``hands(frame_index) -> [(keypoints, side, score)]``."""

    def __init__(self, hands: Callable[[int], list[tuple[np.ndarray, str, float]]]) -> None:
        self.hands = hands
        self.frame = 0
        self.calls: list[int] = []

    def detect(self, frame_rgb: np.ndarray, timestamp_ms: int | None = None) -> list[HandDetection]:
        self.calls.append(self.frame)
        out = []
        for kp, side, score in self.hands(self.frame):
            inside = (kp[:, 0] >= 0) & (kp[:, 0] < W) & (kp[:, 1] >= 0) & (kp[:, 1] < H)
            if inside.mean() > 0.6:  # a detector sees hands that are mostly in view
                box = np.r_[kp.min(0), kp.max(0)]
                out.append(HandDetection(box, side, score, keypoints2d=kp))  # type: ignore[arg-type]
        return out

    def close(self) -> None:
        pass


def network(hand: TrackedHand, truth: list[np.ndarray], rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """A stand-in for the network: finds a true hand if it lies inside the crop box (with pixel noise)."""
    x0, y0, x1, y1 = hand.box
    for kp in truth:
        if kp[:, 0].min() >= x0 and kp[:, 0].max() <= x1 and kp[:, 1].min() >= y0 and kp[:, 1].max() <= y1:
            return kp + rng.normal(0, 1.0, kp.shape), 0.9
    c = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    return c + rng.normal(0, 3.0, (21, 2)), 0.1  # no hand in the crop: garbage, low confidence


def contains(box: np.ndarray, kp: np.ndarray) -> bool:
    return bool(
        kp[:, 0].min() >= box[0] and kp[:, 0].max() <= box[2] and kp[:, 1].min() >= box[1] and kp[:, 1].max() <= box[3]
    )


def run(
    tracker: HandTracker, det: ScriptedDetector, frames: int, truth: Callable[[int], list[np.ndarray]], seed: int = 0
) -> list[list[TrackedHand]]:
    rng = np.random.default_rng(seed)
    history = []
    for i in range(frames):
        det.frame = i
        hands = tracker.step(FRAME, timestamp_ms=round(i * 1000 / 30))
        history.append(hands)
        for hand in hands:
            kp, conf = network(hand, truth(i), rng)
            tracker.observe(hand.track_id, kp, conf)
    return history


def moving(i: int) -> np.ndarray:
    return hand_at((120 + 6.0 * i, 300 + 40 * np.sin(i / 8)))  # 180 px/s sideways, bobbing


def test_follows_a_moving_hand_without_detecting_every_frame() -> None:
    det = ScriptedDetector(lambda i: [(moving(i), "right", 0.95)])
    tracker = HandTracker(det, redetect_every=10)
    history = run(tracker, det, 60, lambda i: [moving(i)])
    assert all(len(h) == 1 for h in history)
    assert {h[0].track_id for h in history} == {0}
    assert all(contains(h[0].box, moving(i)) for i, h in enumerate(history)), "the crop lost the hand"
    assert det.calls == list(range(0, 60, 10))  # detection only every 10th frame
    assert tracker.num_detections == 6
    assert [h[0].detected for h in history[:3]] == [True, False, False]


def test_detects_every_frame_when_asked() -> None:
    det = ScriptedDetector(lambda i: [(moving(i), "right", 0.95)])
    run(HandTracker(det, redetect_every=1), det, 5, lambda i: [moving(i)])
    assert det.calls == [0, 1, 2, 3, 4]


def test_hand_leaving_the_frame_is_lost_and_redetected() -> None:
    def leaving(i: int) -> np.ndarray:
        return hand_at((450 + 25.0 * i, 250))  # leaves on the right after ~8 frames

    det = ScriptedDetector(lambda i: [(leaving(i), "right", 0.95)])
    tracker = HandTracker(det, redetect_every=100)
    history = run(tracker, det, 15, lambda i: [leaving(i)])
    assert len(history[0]) == 1
    assert history[-1] == []  # gone
    lost_at = next(i for i, h in enumerate(history) if not h)
    assert det.calls[0] == 0 and det.calls[1] <= lost_at  # re-detection right after losing it, not at frame 100


def test_jump_and_low_confidence_lose_the_track() -> None:
    det = ScriptedDetector(lambda i: [(hand_at((300, 300)), "right", 0.9)])
    tracker = HandTracker(det, redetect_every=100)
    (hand,) = tracker.step(FRAME)
    assert tracker.observe(hand.track_id, hand_at((302, 301)), 0.9)
    (hand,) = tracker.step(FRAME)
    assert not hand.detected and det.calls == [0]
    assert not tracker.observe(hand.track_id, hand_at((302 + 250, 301)), 0.9)  # jumped by > half a crop
    assert tracker.tracks == []
    (hand,) = tracker.step(FRAME)
    assert hand.detected and len(det.calls) == 2
    assert not tracker.observe(hand.track_id, hand_at((300, 300)), np.full(21, 0.2))  # unsure keypoints
    with pytest.raises(KeyError, match="no track"):
        tracker.observe(hand.track_id, hand_at((300, 300)))
    (hand,) = tracker.step(FRAME)
    # A keypoint box much smaller than the crop means the network lost the hand.
    assert not tracker.observe(hand.track_id, (hand_at((0, 0)) * 0.2) + (300, 300), 0.9)


def test_two_hands_keep_their_identities_and_handedness() -> None:
    rng = np.random.default_rng(5)

    def truth(i: int) -> list[np.ndarray]:
        return [hand_at((150 + 3.0 * i, 200 + 2.0 * i)), hand_at((500 - 3.0 * i, 300 - 1.0 * i))]

    def script(i: int) -> list[tuple[np.ndarray, str, float]]:
        a, b = truth(i)
        side_a = "left" if rng.random() < 0.25 else "right"  # the detector sometimes mislabels hand A
        hands = [(a, side_a, 0.6 if side_a == "left" else 0.95), (b, "left", 0.9)]
        return hands if rng.random() < 0.5 else hands[::-1]  # in any order

    det = ScriptedDetector(script)
    tracker = HandTracker(det, max_hands=2, redetect_every=3)
    history = run(tracker, det, 45, truth)
    for i, hands in enumerate(history):
        assert [h.track_id for h in hands] == [0, 1]
        a, b = truth(i)
        assert contains(hands[0].box, a) and contains(hands[1].box, b)
        assert hands[0].handedness == "right" and hands[1].handedness == "left"
    assert len(det.calls) == 15


def test_extra_and_duplicate_detections() -> None:
    kp = hand_at((200, 300))
    three = ScriptedDetector(
        lambda i: [(kp, "right", 0.9), (kp + (300, 0), "left", 0.8), (kp + (150, -150), "right", 0.5)]
    )
    tracker = HandTracker(three, max_hands=2)
    hands = tracker.step(FRAME)
    assert [h.score for h in hands] == [0.9, 0.8]  # the two most confident
    dup = ScriptedDetector(lambda i: [(kp, "right", 0.9), (kp + 1.0, "right", 0.85)])
    assert len(HandTracker(dup, max_hands=2).step(FRAME)) == 1


def test_missed_detection_is_tolerated_once() -> None:
    present = {0: True, 3: False, 6: False}
    det = ScriptedDetector(lambda i: [(hand_at((300, 300)), "right", 0.9)] if present.get(i, True) else [])
    tracker = HandTracker(det, redetect_every=3, max_missed_detections=1)
    history = run(tracker, det, 7, lambda i: [hand_at((300, 300))])
    assert len(history[3]) == 1 and not history[3][0].detected  # missed once: kept on its keypoints
    assert history[6] == []  # missed twice in a row: dropped


def test_box_only_detector_follows_observed_keypoints_at_the_detected_size() -> None:
    det = FixedBoxDetector((200, 150, 400, 350))
    tracker = HandTracker(det, redetect_every=100, box_smoothing=None)
    (hand,) = tracker.step(FRAME)
    np.testing.assert_allclose(hand.box, [200, 150, 400, 350])
    assert hand.keypoints2d is None
    kp = hand_at((320, 260))
    assert tracker.observe(hand.track_id, kp)
    (hand,) = tracker.step(FRAME)
    assert not hand.detected
    centre = (kp.min(axis=0) + kp.max(axis=0)) / 2
    np.testing.assert_allclose((hand.box[:2] + hand.box[2:]) / 2, centre)  # the centre follows the keypoints
    np.testing.assert_allclose(hand.box[2] - hand.box[0], 200.0)  # the size stays the detected hand's


def test_crop_does_not_shrink_when_observations_undersize_the_hand() -> None:
    """A network whose keypoints come out 0.75x the hand, fed back frame after frame, must not shrink the crop
    (it collapsed to a few pixels within 45 frames when the crop was sized from them)."""
    det = ScriptedDetector(lambda i: [(hand_at((320, 240)), "right", 0.9)] if i == 0 else [])
    tracker = HandTracker(det, redetect_every=1000, box_smoothing=None)
    (hand,) = tracker.step(FRAME)
    first = hand.box[2] - hand.box[0]
    true = hand_at((320, 240))
    centre = true.mean(axis=0)
    for _ in range(60):
        assert tracker.observe(hand.track_id, centre + 0.75 * (true - centre))
        (hand,) = tracker.step(FRAME)
    np.testing.assert_allclose(hand.box[2] - hand.box[0], first)


def test_box_smoothing_reduces_crop_jitter() -> None:
    rng = np.random.default_rng(9)
    still = hand_at((320, 300))

    def jitter(smoothing: bool) -> float:
        det = ScriptedDetector(lambda i: [(still, "right", 0.9)])
        kwargs = {} if smoothing else {"box_smoothing": None}
        tracker = HandTracker(det, redetect_every=1000, **kwargs)
        centres = []
        for i in range(60):
            (hand,) = tracker.step(FRAME, timestamp_ms=round(i * 1000 / 30))
            centres.append((hand.box[:2] + hand.box[2:]) / 2)
            tracker.observe(hand.track_id, still + rng.normal(0, 2.0, still.shape), 0.9)
        return float(np.std(np.diff(np.array(centres[10:]), axis=0)))

    assert jitter(True) < 0.5 * jitter(False)


def test_bad_options() -> None:
    det = ScriptedDetector(lambda i: [])
    with pytest.raises(ConfigError, match="redetect_every"):
        HandTracker(det, redetect_every=0)
    with pytest.raises(ConfigError, match="max_hands"):
        HandTracker(det, max_hands=0)
    tracker = HandTracker(det)
    assert tracker.step(FRAME) == [] and tracker.step(FRAME) == []
    assert len(det.calls) == 2  # nothing to track: detect every frame
