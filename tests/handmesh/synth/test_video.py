"""handmesh-synth video: the frames read back, and the sidecar's geometry lies on the drawn hand."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from handmesh.errors import ConfigError, DataError
from handmesh.hand_model import build_hand_model
from handmesh.synth.video import ClipConfig, generate_video, load_clip

GREY = 96  # the plain background's level


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clip") / "clip.mp4"
    cfg = ClipConfig(seconds=1.0, fps=12, width=320, height=240, seed=1, plain_background=True)
    video, sidecar, _ = generate_video(out, cfg, progress=False)
    assert video == out and sidecar == out.with_suffix(".json")
    return out


def read_frames(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame[..., ::-1])
    cap.release()
    return frames


def test_frames_read_back_with_the_sidecar_geometry_on_the_hand(clip: Path) -> None:
    ann = load_clip(clip)
    frames = read_frames(clip)
    assert len(frames) == 12 == len(ann.keypoints3d)
    assert frames[0].shape == (240, 320, 3) and ann.size == (240, 320)
    assert ann.handedness == "right" and ann.vertices.shape == (12, 778, 3)
    for i, frame in enumerate(frames):
        hand = np.abs(frame.astype(int) - GREY).max(-1) > 25
        grown = cv2.dilate(hand.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        uv = ann.vertices[i] @ ann.K.T
        px = np.round(uv[:, :2] / uv[:, 2:]).astype(int)
        assert np.all((px >= 0) & (px < [320, 240])), i
        assert grown[px[:, 1], px[:, 0]].mean() > 0.98, i
        # Nothing is drawn far from the projected mesh: the hand in the video is where the sidecar says.
        hull = cv2.convexHull(px.astype(np.int32))
        near = np.zeros((240, 320), np.uint8)
        cv2.fillConvexPoly(near, hull, 1)
        near = cv2.dilate(near, np.ones((9, 9), np.uint8)) > 0
        assert hand[~near].mean() < 0.002, i
        assert hand.mean() > 0.03
    # 2D keypoints are the 3D keypoints projected with K.
    uv = ann.keypoints3d @ ann.K.T
    np.testing.assert_allclose(ann.keypoints2d, uv[..., :2] / uv[..., 2:], atol=2e-3)


def test_the_hand_moves_and_articulates(clip: Path) -> None:
    ann = load_clip(clip)
    root = ann.keypoints2d[:, 9]
    assert np.linalg.norm(root[-1] - root[0]) > 3 or np.ptp(root, 0).max() > 5
    spans = np.linalg.norm(ann.keypoints3d[:, 12] - ann.keypoints3d[:, 0], axis=1)
    assert np.ptp(spans) > 0.005  # the middle finger curls and opens


def test_parameters_reproduce_the_vertices(clip: Path, tmp_path: Path) -> None:
    data = json.loads(clip.with_suffix(".json").read_text())
    for frame in data["frames"]:
        del frame["vertices"]
    slim = tmp_path / "slim.json"
    slim.write_text(json.dumps(data))
    full = load_clip(clip)
    recomputed = load_clip(slim, model=build_hand_model("open"))
    np.testing.assert_allclose(recomputed.vertices, full.vertices, atol=2e-5)


def test_refuses_existing_files_and_bad_settings(clip: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="--overwrite"):
        generate_video(clip, ClipConfig(seconds=0.2, fps=5, width=128, height=96), progress=False)
    with pytest.raises(ConfigError, match=".mp4"):
        generate_video(tmp_path / "x.avi", ClipConfig(seconds=0.2), progress=False)
    with pytest.raises(ConfigError, match="clip length"):
        generate_video(tmp_path / "x.mp4", ClipConfig(seconds=0), progress=False)
    with pytest.raises(ConfigError, match="frame size"):
        generate_video(tmp_path / "x.mp4", ClipConfig(width=-640), progress=False)


def test_left_hand_clip(tmp_path: Path) -> None:
    cfg = ClipConfig(seconds=0.25, fps=8, width=160, height=120, side="left", vertices=False, plain_background=True)
    video, sidecar, _ = generate_video(tmp_path / "left.mp4", cfg, progress=False)
    ann = load_clip(sidecar)
    assert ann.handedness == "left" and len(read_frames(video)) == 2
    assert ann.vertices.shape == (2, 778, 3)  # recomputed with the left model


def test_parameters_of_another_model_are_refused(clip: Path, tmp_path: Path) -> None:
    data = json.loads(clip.with_suffix(".json").read_text())
    for frame in data["frames"]:
        del frame["vertices"]
    data["hand_model_sha256"] = "0" * 64
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps(data))
    with pytest.raises(DataError, match="another version"):
        load_clip(stale)


def test_shipped_sample_clip_matches_the_shipped_hand() -> None:
    # The embedded demo clip stores parameters, not vertices: it must have been made with the current open hand.
    # If this fails, regenerate it: handmesh-synth video handmesh/assets/sample_clip.mp4 --seconds 5 --fps 30
    # --seed 0 --finger-coupling 0 --no-vertices --overwrite
    from handmesh.hand_model.model import model_fingerprint

    asset = Path(__file__).resolve().parents[3] / "handmesh" / "assets" / "sample_clip.json"
    data = json.loads(asset.read_text())
    assert data["hand_model_sha256"] == model_fingerprint(build_hand_model("open"))
    ann = load_clip(asset)
    frames = read_frames(asset.with_suffix(".mp4"))
    assert len(frames) == len(ann.vertices) == 150 and frames[0].shape == (480, 640, 3)


def test_fingers_move_together_as_real_fingers_do() -> None:
    """With finger coupling the ring finger follows its neighbours (it cannot straighten while they are curled); at
    0 the fingers move on their own, which is how the shipped sample clip was made, and reproduces it."""
    from handmesh.hand_model.anatomy import HandFrame
    from handmesh.synth.video import FINGER_COUPLING, animate

    np.testing.assert_allclose(FINGER_COUPLING.sum(axis=1), 1.0)
    model = build_hand_model("open")
    frame = HandFrame.from_model(model)
    mean = model.hands_mean.double().numpy()

    def mcp_flexion(cfg: ClipConfig) -> np.ndarray:
        aa = (animate(model, cfg)["hand_pose"] + mean).reshape(-1, 15, 3)
        # MANO's joint order: index 1-3, middle 4-6, pinky 7-9, ring 10-12 (MCP first); flexion about each flex axis.
        return np.stack([aa[:, j - 1] @ frame.flex_axes[j - 1] for j in (1, 4, 10, 7)], axis=1)

    gaps = {}
    for coupling in (0.0, 1.0):
        flex = mcp_flexion(ClipConfig(seconds=10.0, fps=10, seed=5, finger_coupling=coupling))
        gaps[coupling] = np.abs(flex[:, 2] - flex[:, [1, 3]].mean(axis=1)).max()  # ring against middle and little
    assert gaps[1.0] < 0.6 * gaps[0.0]

    asset = Path(__file__).resolve().parents[3] / "handmesh" / "assets" / "sample_clip.json"
    shipped = json.loads(asset.read_text())["frames"]
    anim = animate(model, ClipConfig(seconds=5.0, fps=30, seed=0, finger_coupling=0.0))
    np.testing.assert_allclose(
        anim["hand_pose"][::30], [shipped[i]["hand_params"]["hand_pose"] for i in range(0, 150, 30)], atol=1e-6
    )
    with pytest.raises(ConfigError, match="finger_coupling"):
        ClipConfig(finger_coupling=1.5).validate()
