"""``handmesh-bench accuracy``: the metric helpers on hands made up from the truth, the table on a few frames of the
sample clip with the shipped weights, the real-photo part, and clear errors for clips and folders that cannot be
scored."""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from handmesh.app.sources import SAMPLE_CLIP
from handmesh.bench import accuracy as bench
from handmesh.errors import DataError, MissingFileError
from handmesh.pipeline.hand import Hand

from ..api.conftest import _export_cache  # noqa: F401 - autouse: exports go to a temporary cache
from ..detection.conftest import hand_landmarker_bundle  # noqa: F401 - the fixture is used by name

FRAMES = 8
NUM = r"\s+([\d.]+)"
ROW = re.compile(r"^(video|image), (landmarks|none)\s+(\d+)/(\d+)\s+(\d+)\s+(\d+)" + NUM * 6 + r"\s+(\d+)$", re.M)


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    return parser.parse_args(list(argv))


def _hand(joints: np.ndarray, joints2d: np.ndarray, side: str = "right", crop_side: float = 100.0) -> Hand:
    """A hand with the given keypoints and a square crop of ``crop_side`` pixels; the rest is filler."""
    z = np.zeros
    return Hand(
        side,
        1.0,
        z(4),
        np.array([0.0, 0.0, crop_side, crop_side]),  # type: ignore[arg-type]
        z((778, 3), np.float32),
        np.asarray(joints, np.float32),
        np.asarray(joints2d, np.float32),
        z(3, np.float32),
        z(45, np.float32),
        z(10, np.float32),
        z((16, 3, 3), np.float32),
        z(3, np.float32),
        np.eye(3),
        z((1, 3), np.int32),
    )


# ---------------------------------------------------------------------------------------------- metric helpers
def test_finger_bends_of_a_straight_and_a_bent_finger() -> None:
    joints = np.zeros((21, 3))
    for f in range(5):  # every finger straight up from the wrist, in line with it
        for k in range(4):
            joints[1 + 4 * f + k] = (0.0, 0.02 * (k + 1), 0.0)
    np.testing.assert_allclose(bench.finger_bends(joints), np.zeros(5), atol=1e-6)
    bent = joints.copy()
    bent[8] = bent[7] + (0.0, 0.0, 0.02)  # index tip at a right angle to its middle bone
    bent[19] = bent[18] + (0.0, 0.01, 0.01)  # pinky: 45 degrees at the last joint...
    bent[20] = bent[19] + (0.0, 0.0, 0.02)  # ...and 45 more at the tip bone
    np.testing.assert_allclose(bench.finger_bends(bent), [0.0, 90.0, 0.0, 0.0, 90.0], atol=1e-6)
    assert bench.finger_bends(np.stack([joints, bent])).shape == (2, 5)


def test_frame_to_frame_change() -> None:
    rng = np.random.default_rng(0)
    still = np.repeat(rng.normal(size=(1, 21, 3)), 5, axis=0)
    assert bench.frame_to_frame_change(still) == 0.0
    shifted = still + np.arange(5)[:, None, None]  # the whole hand moves: the root-relative joints do not
    assert bench.frame_to_frame_change(shifted) == pytest.approx(0.0, abs=1e-12)
    moving = still.copy()
    moving[:, 8, 0] += 0.01 * np.arange(5)  # one joint moves 1 cm a frame
    assert bench.frame_to_frame_change(moving) == pytest.approx(0.01 / 21)
    moving[3, 8, 0] += 1.0  # an outlier in frame 3 counts only when frame 3 does
    valid = np.array([True, True, True, False, True])
    assert bench.frame_to_frame_change(moving, valid) == pytest.approx(0.01 / 21)
    assert np.isnan(bench.frame_to_frame_change(moving, np.array([True, False, True, False, True])))


def test_score_clip_of_the_truth_itself_and_of_ghosts() -> None:
    _, truth = bench.read_clip(SAMPLE_CLIP, 6)
    kp2, kp3 = truth.keypoints2d, truth.keypoints3d
    far = _hand(kp3[0], kp2[0] + 400.0, "left")
    per_frame = [[_hand(kp3[i], kp2[i])] for i in range(6)]
    per_frame[2] = [far, *per_frame[2]]  # a ghost as well: the true hand is still the one matched
    per_frame[4] = [far]  # only a hand elsewhere: found, not matched
    per_frame[5] = []
    r = bench.score_clip(per_frame, truth, clip=SAMPLE_CLIP, mode="video", refine="landmarks")
    assert (r.frames, r.found, r.matched, r.ghosts, r.wrong_side) == (6, 5, 4, 1, 0)
    assert r.error2d == pytest.approx(0.0, abs=1e-4) and r.pa_mpjpe_mm == pytest.approx(0.0, abs=0.01)
    assert r.jitter == pytest.approx(1.0, abs=1e-4)  # moves exactly as the truth does
    size = [bench.keypoint_box(kp2[i])[0] for i in (0, 1, 2, 3)]
    assert r.crop_ratio_min == pytest.approx(100.0 / max(size), rel=1e-6)
    shaky = [[_hand(kp3[i], kp2[i] + 3.0, "left")] for i in range(6)]
    shaky[3][0].joints[8] += 0.01  # a fingertip jumps in one frame
    s = bench.score_clip(shaky, truth)
    assert s.wrong_side == 6 and s.error2d > 0 and s.pa_mpjpe_mm > 0 and s.jitter > 1.0
    assert "-" in bench.format_clip_row(bench.score_clip([[]] * 6, truth))  # nothing matched: no numbers invented


def test_mean_pose_baseline_is_worse_than_the_truth_but_finite() -> None:
    _, truth = bench.read_clip(SAMPLE_CLIP, 4)
    pa = bench.mean_pose_pa_mpjpe_mm(truth)
    assert 5.0 < pa < 60.0  # the clip's fingers bend; a relaxed hand is a hand, not noise


# ------------------------------------------------------------------------------------------------- the command
def test_help_explains_the_columns(capsys: pytest.CaptureFixture[str]) -> None:
    from handmesh.cli.bench import SUBCOMMANDS, main

    assert "accuracy" in SUBCOMMANDS
    with pytest.raises(SystemExit) as e:
        main(["accuracy", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for column in (
        "ghosts",
        "crop min/med/max",
        "2D err",
        "PA mm",
        "jitter",
        "wrong side",
        "mean pose",
        "tip PCK@0.1",
        "bend r",
        "--frames",
        "--no-real",
    ):
        assert column in out, column


def test_table_on_the_sample_clip(
    hand_landmarker_bundle: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = _args("--frames", str(FRAMES), "--no-real", "--hand-landmarker", str(hand_landmarker_bundle))
    assert bench.run(args) == 0
    out = capsys.readouterr().out
    assert "machine:" in out and f"{FRAMES} frames at 640x480, right hand" in out and "real photos: skipped" in out
    rows = {(m.group(1), m.group(2)): m.groups()[2:] for m in ROW.finditer(out)}
    assert set(rows) == set(bench.CONFIGURATIONS), out
    parsed = {k: [float(x) for x in v] for k, v in rows.items()}
    for found, n, matched, _ghosts, crop_min, crop_med, crop_max, err2d, pa, _jitter, _wrong in parsed.values():
        assert n == FRAMES and matched <= found <= n and 0 < crop_min <= crop_med <= crop_max and err2d > 0 and pa > 0
    found, n, matched, ghosts, *_, err2d, pa, jitter, wrong = parsed[("video", "landmarks")]
    assert found == matched == FRAMES and ghosts == 0 and wrong == 0
    assert err2d < parsed[("video", "none")][7]  # the landmark fit brings the keypoints onto the hand
    baseline = re.search(r"^mean pose\s+-\s+-\s+-\s+-\s+-\s+-\s+-\s+([\d.]+)\s+-\s+-$", out, re.M)
    assert baseline, out
    assert pa < float(baseline.group(1))  # better than a hand that does not look at the picture


def test_clip_accuracy_for_a_library_user(hand_landmarker_bundle: Path) -> None:  # noqa: F811
    r = bench.clip_accuracy(
        SAMPLE_CLIP, mode="video", refine="landmarks", frames=4, hand_landmarker=hand_landmarker_bundle
    )
    assert isinstance(r, bench.ClipAccuracy) and (r.frames, r.found, r.matched, r.ghosts) == (4, 4, 4, 0)
    assert 0 < r.error2d < 0.1 and 0 < r.pa_mpjpe_mm < 30 and r.error2d_px > 0


def test_real_photos(hand_landmarker_bundle: Path, real_hands_dir: Path, tmp_path: Path) -> None:  # noqa: F811
    # A few of the images keep the test fast: one photo with several hands, three FreiHAND crops.
    (tmp_path / "photos").mkdir()
    (tmp_path / "freihand_crops").mkdir()
    shutil.copy(sorted((real_hands_dir / "photos").iterdir())[0], tmp_path / "photos")
    for img in sorted((real_hands_dir / "freihand_crops").glob("*_img.jpg"))[:3]:
        shutil.copy(img, tmp_path / "freihand_crops")
        shutil.copy(img.with_name(img.name.replace("_img.jpg", "_K.npy")), tmp_path / "freihand_crops")
    results = bench.real_accuracy(tmp_path, hand_landmarker=hand_landmarker_bundle)
    assert [r.refine for r in results] == ["landmarks", "none"] and results[0].images == 4
    fitted = results[0]
    assert 1 <= fitted.matched <= fitted.mediapipe_hands
    assert 0 <= fitted.tip_error < 0.2 and 0 <= fitted.tip_pck <= 1 and fitted.bend_difference_deg >= 0
    row = bench.format_real_row(fitted)
    assert re.fullmatch(r"image, landmarks\s+\d+/\d+" + NUM * 3 + r"\s+-?[\d.]+", row), row


# ------------------------------------------------------------------------------------------------------ errors
def test_a_clip_without_ground_truth_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from handmesh.cli.bench import main

    clip = tmp_path / "holiday.mp4"
    shutil.copy(SAMPLE_CLIP, clip)
    expected = r"holiday\.mp4 has no ground truth: expected the sidecar .*holiday\.json"
    with pytest.raises(MissingFileError, match=expected):
        bench.read_clip(clip)
    assert main(["accuracy", "--clip", str(clip), "--no-real"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "holiday.json" in err and "\n" not in err


def test_an_unreadable_video_is_a_clear_error(tmp_path: Path) -> None:
    clip = tmp_path / "broken.mp4"
    clip.write_bytes(b"not a video" * 100)
    shutil.copy(SAMPLE_CLIP.with_suffix(".json"), tmp_path / "broken.json")
    with pytest.raises(DataError, match=r"broken\.mp4"):
        bench.read_clip(clip)


def test_real_folders_without_images_are_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    with pytest.raises(DataError, match=r"holds no images: expected photos/"):
        bench.real_images(tmp_path)
    (tmp_path / "freihand_crops").mkdir()
    (tmp_path / "freihand_crops" / "7_img.jpg").write_bytes(b"")
    with pytest.raises(MissingFileError, match=r"7_img\.jpg: its intrinsics 7_K\.npy"):
        bench.real_images(tmp_path)
    with pytest.raises(MissingFileError, match="does not exist"):
        bench.real_images(tmp_path / "nowhere")


def test_mirrored_pair_shows_two_hands_and_scores_each_against_its_own_truth() -> None:
    video, truth = bench.read_clip(SAMPLE_CLIP, 3)
    doubled, (left, right) = bench.mirrored_pair(video, truth)
    h, w = truth.size
    assert doubled[0].shape == (h, 2 * w, 3) and left.size == right.size == (h, 2 * w)
    np.testing.assert_array_equal(doubled[1][:, :w], video[1])
    np.testing.assert_array_equal(doubled[1][:, w:], video[1][:, ::-1])
    u, v = np.round(truth.keypoints2d[1, 9]).astype(int)  # the middle finger's base: a pixel of the hand
    mu, mv = np.round(right.keypoints2d[1, 9]).astype(int)
    assert mv == v and mu == 2 * w - 1 - u and (doubled[1][mv, mu] == video[1][v, u]).all()
    assert {left.handedness, right.handedness} == {"left", "right"}
    np.testing.assert_allclose(right.keypoints3d[..., 0], -truth.keypoints3d[..., 0])
    np.testing.assert_allclose(right.keypoints3d[..., 1:], truth.keypoints3d[..., 1:])
    # The mirrored parameters give the mirrored mesh on the other side's model (MANO's convention).
    import torch

    from handmesh.hand_model import build_hand_model

    model = build_hand_model(right.hand_model, side=right.handedness)
    with torch.no_grad():
        params = [torch.as_tensor(getattr(right, k), dtype=torch.float32) for k in PARAMS]
        np.testing.assert_allclose(model(*params).vertices.numpy(), right.vertices, atol=1e-5)
    # Two hands in a frame are no ghost when the frames show two; each half matches its own hand.
    per_frame = [[_hand(t.keypoints3d[i], t.keypoints2d[i], t.handedness) for t in (left, right)] for i in range(3)]
    for t in (left, right):
        r = bench.score_clip(per_frame, t, hands_in_frame=2)
        assert (r.matched, r.ghosts, r.wrong_side) == (3, 0, 0) and r.pa_mpjpe_mm == pytest.approx(0.0, abs=0.01)
    assert bench.score_clip(per_frame, left).ghosts == 3


PARAMS = ("global_orient", "hand_pose", "betas", "transl")


def test_two_hands_table(hand_landmarker_bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    args = _args("--frames", "4", "--no-real", "--two-hands", "--hand-landmarker", str(hand_landmarker_bundle))
    assert bench.run(args) == 0
    out = capsys.readouterr().out
    halves = out.split("beside its mirror image")
    assert len(halves) == 3, out  # a table for each hand
    assert "left half: the clip's hand, right hand" in halves[1] and "right half: its mirror image, left hand" in out
    for table in halves[1:]:
        rows = {(m.group(1), m.group(2)): [float(x) for x in m.groups()[2:]] for m in ROW.finditer(table)}
        assert set(rows) == set(bench.CONFIGURATIONS), table
        found, n, matched, ghosts, *_, wrong = rows[("video", "landmarks")]
        assert found == matched == n == 4 and ghosts == 0 and wrong == 0, table
