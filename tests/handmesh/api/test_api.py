"""``handmesh.load`` end to end with a real (small, untrained) network through ``handmesh.runtime``: outputs are
finite, shaped and located on the hand; frames of every layout; clear errors; and a cheap ``import handmesh``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import handmesh
from handmesh.errors import ConfigError, DataError, MissingFileError

from .helpers import K_TEST, pose_hand, project, render_hand


def _box_around(truth, margin: float = 40.0) -> tuple[float, float, float, float]:
    uv = project(truth.joints, K_TEST)
    return tuple(float(v) for v in np.r_[uv.min(0) - margin, uv.max(0) + margin])  # type: ignore[return-value]


def _check_hand(hand: handmesh.Hand, frame_shape: tuple[int, ...]) -> None:
    from .helpers import hand_model

    assert hand.vertices.shape == (778, 3) and hand.vertices.dtype == np.float32
    assert hand.joints.shape == (21, 3) and hand.joints2d.shape == (21, 2)
    assert hand.rotmats.shape == (16, 3, 3) and hand.betas.shape == (10,) and hand.hand_pose.shape == (45,)
    np.testing.assert_array_equal(hand.faces, hand_model(hand.handedness).faces.numpy())
    for name in ("vertices", "joints", "joints2d", "rotmats", "betas", "global_orient", "hand_pose", "translation"):
        assert np.all(np.isfinite(getattr(hand, name))), name
    R = hand.rotmats.astype(np.float64)
    np.testing.assert_allclose(R @ R.transpose(0, 2, 1), np.broadcast_to(np.eye(3), R.shape), atol=1e-4)
    assert np.all(hand.vertices[:, 2] > 0)  # in front of the camera
    # Located on the hand: the 2D joints (projected from the 3D result) lie in the crop the network saw.
    x0, y0, x1, y1 = hand.crop_box
    side = x1 - x0
    inside = (
        (hand.joints2d[:, 0] > x0 - 0.1 * side)
        & (hand.joints2d[:, 0] < x1 + 0.1 * side)
        & (hand.joints2d[:, 1] > y0 - 0.1 * side)
        & (hand.joints2d[:, 1] < y1 + 0.1 * side)
    )
    assert inside.all(), hand.joints2d


def test_import_is_cheap_and_exports_are_lazy() -> None:
    code = (
        "import sys, handmesh; before = {'torch', 'cv2', 'mediapipe'} & set(sys.modules); "
        "handmesh.Hand; after = {'torch', 'cv2'} & set(sys.modules); print(sorted(before), sorted(after))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[] []"
    assert handmesh.load.__module__ == "handmesh.api" and handmesh.Hand.__name__ == "Hand"
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        handmesh.nothing_here  # noqa: B018


def test_load_runs_the_real_network_on_a_synthetic_frame(small_checkpoint: Path) -> None:
    truth = pose_hand("right", (330, 250), seed=21)
    frame, _ = render_hand([truth])
    with handmesh.load(small_checkpoint, backend="torch", detector="box", detector_box=_box_around(truth)) as est:
        (hand,) = est(frame, K_TEST)
        assert est.network.backend == "torch" and est.network.input_size == 64
        assert "torch" in est.describe()
        out = est.render(frame, [hand], skeleton=True)
    _check_hand(hand, frame.shape)
    assert hand.handedness == "right" and hand.score == 1.0 and hand.hand_model == "open"
    assert out.shape == frame.shape and np.any(out != frame)


def test_two_hands_in_one_batch_left_mirrored(small_checkpoint: Path) -> None:
    from handmesh.detection.types import HandDetection
    from handmesh.pipeline.estimator import HandEstimator

    left, right = pose_hand("left", (190, 250), seed=22), pose_hand("right", (460, 240), seed=23)
    frame, _ = render_hand([left, right])

    class TwoBoxes:
        def detect(self, frame, timestamp_ms=None):
            return [HandDetection(np.array(_box_around(t)), t.side, 0.8) for t in (left, right)]

        def close(self):
            pass

    base = handmesh.load(small_checkpoint, backend="torch", detector="none")
    est = HandEstimator(base.network, TwoBoxes())
    hands = est(frame, K_TEST)
    base.close()
    assert [h.handedness for h in hands] == ["left", "right"]
    for h in hands:
        _check_hand(h, frame.shape)
    # The untrained network sees the same picture in both crops only up to the flip: the left hand's result is
    # the right hand's mirror image in its own crop, so the faces are wound the other way round.
    np.testing.assert_array_equal(hands[0].faces, hands[1].faces[:, [0, 2, 1]])


@pytest.mark.slow  # exports the network to ONNX (~10 s on 2 busy cores)
def test_onnx_runtime_backend_gives_the_torch_result(small_checkpoint: Path) -> None:
    pytest.importorskip("onnxruntime")
    truth = pose_hand("left", (300, 240), seed=24)
    frame, _ = render_hand([truth])
    box = _box_around(truth)
    results = {}
    for backend in ("torch", "onnxruntime"):
        with handmesh.load(
            small_checkpoint, backend=backend, detector="box", detector_box=box, detector_handedness="left"
        ) as est:
            (results[backend],) = est(frame, K_TEST)
    np.testing.assert_allclose(results["onnxruntime"].vertices, results["torch"].vertices, atol=2e-3)


@pytest.mark.parametrize("layout", ["gray", "gray1", "rgba", "uint16", "float"])
def test_frames_of_other_layouts_are_converted(small_checkpoint: Path, layout: str) -> None:
    truth = pose_hand("right", (320, 240), seed=25)
    frame, _ = render_hand([truth])
    converted = {
        "gray": lambda f: f[..., 1],
        "gray1": lambda f: f[..., 1:2],
        "rgba": lambda f: np.concatenate([f, np.full(f.shape[:2] + (1,), 255, np.uint8)], axis=2),
        "uint16": lambda f: f.astype(np.uint16) * 257,
        "float": lambda f: f.astype(np.float32) / 255.0,
    }[layout](frame)
    with handmesh.load(small_checkpoint, backend="torch", detector="box", detector_box=_box_around(truth)) as est:
        (hand,) = est(converted, K_TEST)
        _check_hand(hand, frame.shape)
        if layout in ("rgba", "uint16", "float"):  # the same pixels: the same result
            (ref,) = est(frame, K_TEST)
            np.testing.assert_allclose(hand.vertices, ref.vertices, atol=1e-6)
        assert est.render(converted, [hand]).shape == frame.shape


def test_huge_frames_work_and_oversized_ones_are_refused(small_checkpoint: Path) -> None:
    big_K = K_TEST * np.array([[6.0], [6.0], [1.0]])  # the same camera at 6x the resolution: 3840 x 2880
    big_K[0, 2], big_K[1, 2] = (3840 - 1) / 2, (2880 - 1) / 2
    truth = pose_hand("right", (1900, 1500), K=big_K, seed=26)
    frame, _ = render_hand([truth], K=big_K, size=(2880, 3840))
    uv = project(truth.joints, big_K)
    box = tuple(float(v) for v in np.r_[uv.min(0) - 200, uv.max(0) + 200])
    with handmesh.load(small_checkpoint, backend="torch", detector="box", detector_box=box) as est:
        (hand,) = est(frame, big_K)
        _check_hand(hand, frame.shape)
        with pytest.raises(DataError, match="32767"):
            est(np.zeros((2, 40000, 3), np.uint8))


@pytest.mark.parametrize(
    ("frame", "match"),
    [(np.zeros((0, 640, 3), np.uint8), "empty"), (np.zeros((48, 64, 2), np.uint8), "shape"),
     (np.full((48, 64, 3), 2.0, np.float32), r"\[0, 1\]"), ("not an image", "image")],
)  # fmt: skip
def test_bad_frames_are_clear_errors(small_checkpoint: Path, frame, match: str) -> None:
    with handmesh.load(small_checkpoint, backend="torch", detector="none") as est:
        with pytest.raises(DataError, match=match):
            est(frame)


def test_bad_intrinsics_are_clear_errors(small_checkpoint: Path) -> None:
    frame = np.zeros((48, 64, 3), np.uint8)
    with handmesh.load(small_checkpoint, backend="torch", detector="none") as est:
        with pytest.raises(DataError, match=r"K: expected a \(3, 3\)"):
            est(frame, np.eye(4))
        with pytest.raises(DataError, match="positive focal"):
            est(frame, np.diag([0.0, 1.0, 1.0]))
        K = np.array([[500.0, 0.0, 31.5], [0.0, 500.0, 23.5], [0.0, 0.0, 1.0]])
        # What once was accepted and put the hand ~0.3 m off or at 0.01 m depth:
        for bad, match in (
            (K.T, "transposed"),
            (np.ones((3, 3)), r"\[\[fx, s, cx\]"),
            (np.vstack([K[:2], [0.0, 0.0, 0.0]]), "bottom row|0, 0, 1"),
            (K + [[0.0, 60.0, 0.0], [0.0] * 3, [0.0] * 3], "skew"),
            ([["a", "b", "c"]] * 3, "numbers"),
        ):
            with pytest.raises(DataError, match=match):
                est(frame, bad)
        assert est(frame, K + [[0.0, 2.0, 0.0], [0.0] * 3, [0.0] * 3]) is not None  # a little skew is fine
        for ts in ("x", float("nan"), [1]):
            with pytest.raises(DataError, match="timestamp_ms"):
                est(frame, K, timestamp_ms=ts)
    with pytest.raises(ConfigError, match="closed"):  # not a few more frames, then a detector error
        est(frame)


def test_missing_weights_say_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import handmesh.api as api

    monkeypatch.setattr(api, "DEFAULT_CHECKPOINT", tmp_path / "handmesh_t8_synthetic.pt")
    with pytest.raises(MissingFileError, match=r"weights .*handmesh_t8_synthetic\.pt are missing.*--checkpoint"):
        handmesh.load(detector="none")
    with pytest.raises(MissingFileError, match="nowhere.pt"):
        handmesh.load(tmp_path / "nowhere.pt", detector="none")


def test_shipped_weights_constant_points_into_the_package() -> None:
    from handmesh.api import DEFAULT_CHECKPOINT

    assert DEFAULT_CHECKPOINT.name == "handmesh_t8_synthetic.pt"
    assert DEFAULT_CHECKPOINT.parent == Path(handmesh.__file__).parent / "assets"
