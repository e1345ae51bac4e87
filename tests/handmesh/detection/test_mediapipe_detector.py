"""MediaPipe HandLandmarker wrapper on real photos: hands found, true handedness, modes, odd frames, bad bundles."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from handmesh.detection import HandDetection, MediaPipeHandDetector, build_detector
from handmesh.detection.search import ZoomSearchDetector
from handmesh.errors import CheckpointError, ConfigError, DataError, MissingFileError

from .conftest import read_rgb


@pytest.fixture(scope="module")
def detector(hand_landmarker_bundle: Path) -> Iterator[MediaPipeHandDetector]:
    with MediaPipeHandDetector(hand_landmarker_bundle, mode="image", max_hands=4) as det:
        yield det


@pytest.fixture(scope="module")
def freihand(real_hands_dir: Path) -> list[np.ndarray]:
    """The 20 FreiHAND evaluation crops: every one shows a right hand (FreiHAND annotates right hands only)."""
    return [read_rgb(p) for p in sorted((real_hands_dir / "freihand_crops").glob("*_img.jpg"))]


@pytest.fixture(scope="module")
def open_hand(real_hands_dir: Path) -> np.ndarray:
    """FreiHAND evaluation image 64: an open right hand, palm to the camera, found reliably."""
    return read_rgb(real_hands_dir / "freihand_crops" / "64_img.jpg")


def _main_side(det: MediaPipeHandDetector, image: np.ndarray) -> str | None:
    found = det.detect(image)
    return max(found, key=lambda d: (d.box[2] - d.box[0]) * (d.box[3] - d.box[1])).handedness if found else None


def test_finds_hands_in_real_photos(detector: MediaPipeHandDetector, real_hands_dir: Path) -> None:
    photos = sorted((real_hands_dir / "photos").iterdir())
    found = 0
    for path in photos:
        image = read_rgb(path)
        hands = detector.detect(image)
        found += bool(hands)
        h, w = image.shape[:2]
        for d in hands:
            assert isinstance(d, HandDetection) and d.keypoints2d is not None and d.keypoints2d.shape == (21, 2)
            assert 0.0 <= d.score <= 1.0
            np.testing.assert_allclose(d.box, [*d.keypoints2d.min(0), *d.keypoints2d.max(0)])
            # Keypoints lie on the picture (a little outside is allowed for hands cut by the border).
            assert np.all(d.keypoints2d > -0.1 * max(h, w)) and np.all(d.keypoints2d < 1.1 * max(h, w))
    assert found >= 6, f"hands found in only {found} of {len(photos)} photos"


def test_handedness_is_true_side_for_unmirrored_input(detector: MediaPipeHandDetector, freihand: list) -> None:
    sides = [_main_side(detector, im) for im in freihand]
    seen = [s for s in sides if s is not None]
    assert len(seen) >= 12, f"hands found in only {len(seen)} of {len(freihand)} FreiHAND crops"
    assert sum(s == "right" for s in seen) >= 0.8 * len(seen), sides
    # The same hands flipped left-right are left hands.
    flipped = [_main_side(detector, np.ascontiguousarray(im[:, ::-1])) for im in freihand]
    seen_f = [s for s in flipped if s is not None]
    assert sum(s == "left" for s in seen_f) >= 0.8 * len(seen_f), flipped


def test_handedness_of_two_known_hands(detector: MediaPipeHandDetector, real_hands_dir: Path) -> None:
    # wilor_test8: a basketball player facing the camera holds the ball with both hands; his right hand is on the
    # image's left. wilor_test4: two gardeners facing the camera; the right hand of the one on the left, the left
    # hand of the one on the right.
    for name in ("wilor_test8.jpg", "wilor_test4.jpg"):
        image = read_rgb(real_hands_dir / "photos" / name)
        hands = sorted(detector.detect(image), key=lambda d: d.keypoints2d[0, 0])
        assert [d.handedness for d in hands] == ["right", "left"], name
    # wilor_test8 flipped left-right: the hands found again (MediaPipe finds one of the two) change label.
    image = read_rgb(real_hands_dir / "photos" / "wilor_test8.jpg")
    hands = detector.detect(image)
    w = image.shape[1]
    flipped = detector.detect(np.ascontiguousarray(image[:, ::-1]))
    assert flipped, "wilor_test8 flipped: no hands"
    for f in flipped:
        wrist = f.keypoints2d[0] * (-1, 1) + (w - 1, 0)  # back in the original image
        twin = min(hands, key=lambda d: np.linalg.norm(d.keypoints2d[0] - wrist))
        assert np.linalg.norm(twin.keypoints2d[0] - wrist) < 0.2 * (twin.box[2] - twin.box[0])
        assert f.handedness != twin.handedness


def test_mirrored_input_swaps_handedness(hand_landmarker_bundle: Path, freihand: list) -> None:
    with MediaPipeHandDetector(hand_landmarker_bundle, mirrored_input=True) as det:
        sides = [s for s in (_main_side(det, im) for im in freihand) if s is not None]
    assert sum(s == "left" for s in sides) >= 0.8 * len(sides)


def test_no_hand_gives_empty_list(detector: MediaPipeHandDetector) -> None:
    assert detector.detect(np.full((480, 640, 3), 127, dtype=np.uint8)) == []
    assert detector.detect(np.zeros((1, 1), dtype=np.uint8)) == []


def test_odd_frame_formats_give_the_same_hands(detector: MediaPipeHandDetector, open_hand: np.ndarray) -> None:
    image = open_hand
    ref = detector.detect(image)
    assert len(ref) >= 1
    rgba = np.concatenate([image, np.full(image.shape[:2] + (1,), 255, np.uint8)], axis=2)
    as16 = image.astype(np.uint16) * 257
    as_float = image.astype(np.float32) / 255.0
    view = np.ascontiguousarray(image[..., ::-1])[..., ::-1]  # RGB again, as a non-contiguous view
    for variant in (rgba, as16, as_float, view):
        got = detector.detect(variant)
        assert len(got) == len(ref)
        np.testing.assert_allclose(got[0].keypoints2d, ref[0].keypoints2d, atol=1.0)
    gray = image.mean(axis=2).astype(np.uint8)
    as_rgb = [(d.handedness, d.box) for d in detector.detect(np.repeat(gray[..., None], 3, axis=2))]
    for layout in (gray, gray[..., None]):
        got = [(d.handedness, d.box) for d in detector.detect(layout)]
        assert [g[0] for g in got] == [r[0] for r in as_rgb]
        for g, r in zip(got, as_rgb):
            np.testing.assert_allclose(g[1], r[1], atol=1e-6)
    with pytest.raises(DataError, match="empty"):
        detector.detect(np.zeros((0, 640, 3), np.uint8))


def test_huge_frame_is_downscaled_and_mapped_back(hand_landmarker_bundle: Path, open_hand: np.ndarray) -> None:
    import cv2

    huge = cv2.resize(open_hand, (2240, 2240), interpolation=cv2.INTER_LINEAR)  # 10x the 224-pixel original
    with (
        MediaPipeHandDetector(hand_landmarker_bundle, max_side=None) as full,
        MediaPipeHandDetector(hand_landmarker_bundle) as small,
    ):
        ref, got, base = full.detect(huge), small.detect(huge), small.detect(open_hand)
    assert small.max_side == 1280 and len(ref) == len(got) == len(base) == 1
    side = ref[0].box[2] - ref[0].box[0]
    # Same hand in the huge frame's pixels: keypoints agree to a few percent of the hand's size ...
    assert np.abs(got[0].keypoints2d - ref[0].keypoints2d).max() < 0.05 * side
    # ... and are the original image's keypoints scaled by 10 (pixel centres: x_huge + 0.5 = 10 (x + 0.5)).
    assert np.abs(got[0].keypoints2d + 0.5 - 10 * (base[0].keypoints2d + 0.5)).max() < 0.05 * side


def test_video_mode_tracks_with_and_without_timestamps(hand_landmarker_bundle: Path, open_hand: np.ndarray) -> None:
    image = open_hand
    with MediaPipeHandDetector(hand_landmarker_bundle, mode="video", max_hands=1) as det:
        with_ts = [det.detect(image, 1000 + 33 * i) for i in range(3)]
        repeated = det.detect(image, 1000)  # not increasing: moved forward instead of failing
        auto = det.detect(image)
    assert all(len(r) == 1 for r in with_ts + [repeated, auto])
    from handmesh.tracking import box_iou

    assert box_iou(with_ts[-1][0].box, with_ts[0][0].box) > 0.7  # the same hand, followed


def test_closed_detector_refuses_work(hand_landmarker_bundle: Path) -> None:
    det = MediaPipeHandDetector(hand_landmarker_bundle)
    det.close()
    det.close()  # idempotent
    with pytest.raises(RuntimeError, match="after close"):
        det.detect(np.zeros((8, 8, 3), np.uint8))


def test_bad_bundles_and_options_name_the_problem(tmp_path: Path, hand_landmarker_bundle: Path) -> None:
    with pytest.raises(MissingFileError, match="nowhere.task"):
        MediaPipeHandDetector(tmp_path / "nowhere.task")
    garbage = tmp_path / "garbage.task"
    with zipfile.ZipFile(garbage, "w") as zf:
        zf.writestr("hand_detector.tflite", b"x" * 64)
        zf.writestr("hand_landmarks_detector.tflite", b"y" * 64)
    with pytest.raises(CheckpointError, match="garbage.task"):
        MediaPipeHandDetector(garbage)
    with pytest.raises(ConfigError, match="mode"):
        MediaPipeHandDetector(hand_landmarker_bundle, mode="stream")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="min_detection_confidence"):
        MediaPipeHandDetector(hand_landmarker_bundle, min_detection_confidence=2.0)


def test_build_detector_mediapipe(hand_landmarker_bundle: Path) -> None:
    det = build_detector("mediapipe", hand_landmarker=hand_landmarker_bundle, mode="video", max_hands=1)
    try:
        # Video mode looks closer on frames without hands: the landmarker in video mode, an image-mode one for crops.
        assert isinstance(det, ZoomSearchDetector)
        assert isinstance(det.detector, MediaPipeHandDetector) and det.detector.mode == "video"
        assert isinstance(det.zoomed, MediaPipeHandDetector) and det.zoomed.mode == "image"
        assert det.detector.max_hands == det.zoomed.max_hands == det.max_hands == 1
    finally:
        det.close()
    det = build_detector(
        "mediapipe", hand_landmarker=hand_landmarker_bundle, mode="video", max_hands=1, zoom_search=False
    )
    try:
        assert isinstance(det, MediaPipeHandDetector) and det.mode == "video" and det.max_hands == 1
    finally:
        det.close()


def test_bundle_built_from_the_real_wheel_loads(tmp_path: Path, real_hands_dir: Path) -> None:
    from handmesh.detection import bundle_from_wheel

    from .conftest import _find_wheel

    wheel = _find_wheel()
    if wheel is None:
        pytest.skip("no mediapipe 0.10.21 wheel at $HANDMESH_MEDIAPIPE_WHEEL, in the cache folder or pip's wheel cache")
    bundle = bundle_from_wheel(wheel, tmp_path / "hand_landmarker.task")
    with MediaPipeHandDetector(bundle) as det:
        hands = det.detect(read_rgb(real_hands_dir / "freihand_crops" / "64_img.jpg"))
    assert len(hands) == 1 and hands[0].handedness == "right"
