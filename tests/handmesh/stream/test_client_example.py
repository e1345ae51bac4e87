"""``demo/stream_client.py`` reads a real stream: hands made up with known numbers, the script's printout checked."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("websockets")

from handmesh.stream.schema import FrameEvent  # noqa: E402
from handmesh.stream.server import HandStream  # noqa: E402

SCRIPT = Path(__file__).resolve().parents[3] / "demo" / "stream_client.py"


def _hand(side: str, x: float) -> SimpleNamespace:
    joints = np.zeros((21, 3), np.float32)
    joints[:, 0] = x
    joints[:, 2] = 0.5
    joints[8, 1] = -0.08  # index tip 80 mm above the wrist
    return SimpleNamespace(
        track_id=0,
        handedness=side,
        score=0.9,
        refined=True,
        fit_residual_px=1.5,
        joints=joints,
        joints2d=np.zeros((21, 2), np.float32),
        vertices=np.full((778, 3), x, np.float32),
        faces=np.zeros((1538, 3), np.int32),
    )


def test_the_example_client_prints_each_frame() -> None:
    image, K = np.zeros((48, 64, 3), np.uint8), np.diag([60.0, 60.0, 1.0])
    with HandStream(port=0) as stream:
        proc = subprocess.Popen(
            [sys.executable, str(SCRIPT), "--url", stream.url, "--frames", "3"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline, i = time.monotonic() + 60, 0
        while proc.poll() is None and time.monotonic() < deadline:
            if stream.clients():
                stream.publish(FrameEvent(i, i * 33.0, image, K, [_hand("right", 0.1), _hand("left", -0.1)]))
                i += 1
            time.sleep(0.05)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    lines = [ln for ln in out.splitlines() if ln.startswith("frame")]
    assert len(lines) == 3 and out.startswith("connected to handmesh")
    assert "right hand: wrist at [0.1, 0.0, 0.5] m, index tip 80 mm from it, mesh 778 vertices" in lines[0]
    assert "left hand: wrist at [-0.1, 0.0, 0.5] m" in lines[0]
