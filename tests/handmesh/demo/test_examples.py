"""The examples in ``demo/`` run as scripts (the webcam one is only compiled: there is no camera here)."""

from __future__ import annotations

import os
import py_compile
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from handmesh.app.sources import SAMPLE_CLIP

from ..detection.conftest import hand_landmarker_bundle  # noqa: F401 - the fixture is used by name

DEMO = Path(__file__).resolve().parents[3] / "demo"


def _run(script: str, bundle: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(DEMO.parent), "HANDMESH_HAND_LANDMARKER": str(bundle)}
    return subprocess.run(
        [sys.executable, str(DEMO / script), *args], capture_output=True, text=True, env=env, timeout=300
    )


@pytest.mark.slow  # a fresh interpreter importing torch and mediapipe: ~10 s on 2 busy cores
def test_image_to_overlay(small_checkpoint: Path, hand_landmarker_bundle: Path, tmp_path: Path) -> None:  # noqa: F811
    cap = cv2.VideoCapture(str(SAMPLE_CLIP))
    cv2.imwrite(str(tmp_path / "hand.png"), cap.read()[1])
    cap.release()
    proc = _run(
        "image_to_overlay.py",
        hand_landmarker_bundle,
        str(tmp_path / "hand.png"),
        str(tmp_path / "out.png"),
        "--checkpoint",
        str(small_checkpoint),
    )
    assert proc.returncode == 0, proc.stderr
    assert "1 hand(s); wrote" in proc.stdout and "right hand" in proc.stdout
    assert cv2.imread(str(tmp_path / "out.png")).shape == (480, 640, 3)


@pytest.mark.slow  # a fresh interpreter importing torch and mediapipe
def test_ar_fingertips_prints_five_tips_per_frame(small_checkpoint: Path, hand_landmarker_bundle: Path) -> None:  # noqa: F811
    proc = _run("ar_fingertips.py", hand_landmarker_bundle, "--frames", "2", "--checkpoint", str(small_checkpoint))
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("frame")]
    assert len(lines) == 2 and all(ln.count("(") == 5 for ln in lines) and "pinky" in lines[0]


@pytest.mark.slow  # a fresh interpreter importing torch and mediapipe
def test_compare_refine_draws_one_row_per_frame(
    small_checkpoint: Path,
    hand_landmarker_bundle: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    out = tmp_path / "grid.png"
    proc = _run(
        "compare_refine.py",
        hand_landmarker_bundle,
        str(out),
        "--frames",
        "2",
        "5",
        "--width",
        "160",
        "--checkpoint",
        str(small_checkpoint),
    )
    assert proc.returncode == 0, proc.stderr
    assert "2 frame(s); wrote" in proc.stdout
    assert cv2.imread(str(out)).shape == (2 * 120, 4 * 160, 3)  # two frames, four pictures each


def test_webcam_example_compiles() -> None:
    py_compile.compile(str(DEMO / "webcam.py"), doraise=True)
    assert not (DEMO / "__init__.py").exists()  # demo/ is not a package (nothing imports it)
