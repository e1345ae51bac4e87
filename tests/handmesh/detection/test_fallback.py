"""Model-free detectors for ``--detector none`` and the detector factory."""

from __future__ import annotations

import numpy as np
import pytest

from handmesh.crop import crop_box_from_detection, make_crop
from handmesh.detection import FixedBoxDetector, FullFrameDetector, HandDetection, build_detector
from handmesh.errors import ConfigError, DataError


@pytest.mark.parametrize("shape", [(480, 640, 3), (640, 480, 3), (224, 224, 3)])
def test_full_frame_is_the_centred_square(shape: tuple[int, int, int]) -> None:
    h, w = shape[:2]
    (det,) = FullFrameDetector().detect(np.zeros(shape, np.uint8))
    side = min(h, w)
    assert det.handedness == "right" and det.score == 1.0 and det.keypoints2d is None
    np.testing.assert_allclose(det.box[2:] - det.box[:2], [side, side])
    np.testing.assert_allclose((det.box[:2] + det.box[2:]) / 2, [(w - 1) / 2, (h - 1) / 2])


def test_full_frame_of_a_square_image_is_the_identity_crop() -> None:
    frame = np.random.default_rng(0).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    (det,) = FullFrameDetector().detect(frame)
    crop = make_crop(crop_box_from_detection(det), 224)
    np.testing.assert_allclose(crop.affine, [[1, 0, 0], [0, 1, 0]], atol=1e-12)
    np.testing.assert_array_equal(crop.warp(frame), frame)


def test_fixed_box_and_handedness() -> None:
    det = FixedBoxDetector((10, 20, 110, 220), handedness="left")
    (d,) = det.detect(np.zeros((300, 300), np.uint8))
    np.testing.assert_array_equal(d.box, [10, 20, 110, 220])
    assert d.handedness == "left" and not d.is_right


def test_bad_fallback_options() -> None:
    with pytest.raises(ConfigError, match="x1 > x0"):
        FixedBoxDetector((10, 10, 5, 20))
    with pytest.raises(ConfigError, match="handedness"):
        FullFrameDetector("both")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="empty"):
        FullFrameDetector().detect(np.zeros((0, 0, 3), np.uint8))


def test_build_detector_names() -> None:
    assert isinstance(build_detector("none"), FullFrameDetector)
    box = build_detector("box", box=(0, 0, 50, 50), handedness="left")
    assert isinstance(box, FixedBoxDetector) and box.handedness == "left"
    with pytest.raises(ConfigError, match="needs a box"):
        build_detector("box")
    with pytest.raises(ConfigError, match="unknown detector 'yolo'"):
        build_detector("yolo")


def test_hand_detection_validates() -> None:
    with pytest.raises(ValueError, match="handedness"):
        HandDetection(np.zeros(4), "up", 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"\(21, 2\)"):
        HandDetection(np.zeros(4), "left", 1.0, keypoints2d=np.zeros((5, 2)))
    d = HandDetection(np.array([1, 2, 3, 4]), "right", 0.5, keypoints2d=np.ones((21, 2)))
    s = d.scaled(2.0)
    np.testing.assert_array_equal(s.box, [2, 4, 6, 8])
    np.testing.assert_array_equal(s.keypoints2d, np.full((21, 2), 2.0))
