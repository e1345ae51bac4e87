"""``handmesh-bench detection`` runs end to end on a few real images and prints its table."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

from handmesh.app.sinks import letterbox
from handmesh.bench import detection as bench
from handmesh.errors import MissingFileError

from ..detection.conftest import hand_landmarker_bundle  # noqa: F401 - the fixture is used by name


def test_letterbox_keeps_aspect() -> None:
    out = letterbox(np.full((100, 400, 3), 255, np.uint8), 640, 480, fill=114)  # as the benchmark calls it
    assert out.shape == (480, 640, 3)
    rows = np.where(out[:, 320, 0] == 255)[0]
    assert len(rows) == 160 and rows[0] == 160  # 400x100 -> 640x160, centred


def test_bench_prints_table(
    hand_landmarker_bundle: Path,  # noqa: F811
    real_hands_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    photos, crops = tmp_path / "photos", tmp_path / "crops"
    photos.mkdir()
    crops.mkdir()
    for name in ("wilor_test8.jpg", "wilor_test1.jpg"):
        (photos / name).symlink_to(real_hands_dir / "photos" / name)
    for name in ("64_img.jpg", "64_K.npy"):
        (crops / name).symlink_to(real_hands_dir / "freihand_crops" / name)
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    args = parser.parse_args(
        [
            "--photos",
            str(photos),
            "--crops",
            str(crops),
            "--hand-landmarker",
            str(hand_landmarker_bundle),
            "--repeats",
            "2",
            "--video-frames",
            "3",
            "--max-hands",
            "1",
        ]
    )
    assert bench.run(args) == 0
    out = capsys.readouterr().out
    assert "IMAGE  num_hands=1" in out and "VIDEO  num_hands=1" in out
    assert "1/2 photos at 640x480" in out and "1/1 crops" in out  # wilor_test1 has no hand MediaPipe finds


def test_bench_without_photos_says_so(hand_landmarker_bundle: Path, tmp_path: Path) -> None:  # noqa: F811
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    args = parser.parse_args(["--photos", str(tmp_path / "none"), "--hand-landmarker", str(hand_landmarker_bundle)])
    with pytest.raises(MissingFileError, match="none"):
        bench.run(args)
