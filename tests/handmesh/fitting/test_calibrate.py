"""Landmark offsets: the least squares gives back offsets planted in exact landmarks, and ``handmesh-bench
offsets`` measures them on a real clip."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from handmesh.fitting.calibrate import OffsetAccumulator
from handmesh.fitting.skeleton import Skeleton
from handmesh.fitting.so3 import exp_map
from handmesh.geometry.projection import project_pinhole
from handmesh.hand_model import build_hand_model

from ..detection.conftest import hand_landmarker_bundle  # noqa: F401 - the fixture is used by name

K = np.array([[600.0, 0.0, 319.5], [0.0, 600.0, 239.5], [0.0, 0.0, 1.0]])


def test_planted_offsets_come_back() -> None:
    sk = Skeleton(build_hand_model("open", "right"))
    rng = np.random.default_rng(0)
    planted_mm = rng.normal(0.0, 5.0, size=(21, 3))
    axes = np.stack([sk.frame.thumbward, sk.frame.up, sk.frame.palm], axis=1)
    planted_model = planted_mm @ axes.T / 1000.0  # anatomical mm -> the model's axes, metres
    acc = OffsetAccumulator(sk)
    for _ in range(60):  # many orientations, so every direction of every offset is seen
        R0 = exp_map(rng.normal(size=3))
        phi = sk.lower + (sk.upper - sk.lower) * rng.uniform(0.2, 0.8, size=sk.lower.shape)
        pose = sk.forward(R0[None], phi[None], np.array([[0.0, 0.0, 0.5]]), sk.rest(np.zeros((1, 10))))
        landmarks = project_pinhole(sk.shifted(pose, planted_model)[0], K)
        R = np.concatenate([R0[None], sk.rotations_from_angles(phi[None])[0]])
        acc.add(R, np.zeros(10), np.array([0.0, 0.0, 0.5]), landmarks, K)
    np.testing.assert_allclose(acc.offsets_mm(ridge=1e-6), planted_mm, atol=0.3)  # first order in the offsets
    with pytest.raises(ValueError, match="no frame"):
        OffsetAccumulator(sk).offsets_mm()


def test_bench_offsets_on_a_clip(
    hand_landmarker_bundle: Path,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from handmesh.cli.bench import main
    from handmesh.synth.video import ClipConfig, generate_video

    clip = tmp_path / "clip.mp4"
    generate_video(clip, ClipConfig(seconds=0.5, seed=1), progress=False)
    assert main(["offsets", str(clip), "--hand-landmarker", str(hand_landmarker_bundle)]) == 0
    out = capsys.readouterr().out
    rows = re.findall(r"^\((-?[\d.]+), (-?[\d.]+), (-?[\d.]+)\),$", out, re.M)
    assert len(rows) == 21 and re.search(r"\d+ frames of 1 clip\(s\), open hand model", out), out
    wrist = np.array(rows[0], float)
    assert 3.0 < wrist[1] < 20.0  # MediaPipe's wrist sits towards the fingers, as in the shipped table
