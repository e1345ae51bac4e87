"""``handmesh-bench pipeline`` runs both pipelines on a few frames of the sample clip and prints its table."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from handmesh.app.sources import SAMPLE_CLIP
from handmesh.bench import pipeline as bench

from ..api.conftest import _export_cache, small_checkpoint  # noqa: F401 - fixtures used by name
from ..detection.conftest import hand_landmarker_bundle  # noqa: F401 - the fixture is used by name


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_read_frames_resizes_and_times() -> None:
    frames, ms = bench.read_frames(SAMPLE_CLIP, (320, 240), 3)
    assert len(frames) == len(ms) == 3 and frames[0].shape == (240, 320, 3) and all(m > 0 for m in ms)


def test_bench_prints_both_pipelines_and_the_ratio(
    hand_landmarker_bundle: Path,  # noqa: F811
    small_checkpoint: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = _args(
        "--checkpoint",
        str(small_checkpoint),
        "--backend",
        "torch",
        "--frames",
        "4",
        "--warmup",
        "1",
        "--hand-landmarker",
        str(hand_landmarker_bundle),
    )
    assert bench.run(args) == 0
    out = capsys.readouterr().out
    assert "4 frames of sample_clip.mp4 at 640x480" in out and "threads 2" in out
    ours = re.search(r"handmesh \(mesh drawn\)\s+([\d.]+)\s+([\d.]+)((?:\s+[\d.]+){7})", out)
    mp = re.search(r"MediaPipe landmarks only \(VIDEO, skeleton\)\s+([\d.]+)\s+([\d.]+)", out)
    assert ours and mp, out
    stages = [float(x) for x in ours.group(3).split()]
    assert all(v > 0 for v in stages)  # capture, detect, crop, network, fit, hand_model, render all timed
    assert float(ours.group(1)) == pytest.approx(1000 / float(ours.group(2)), abs=0.051)  # FPS to one decimal
    ratio = float(re.search(r"ratio handmesh / MediaPipe FPS: ([\d.]+)x", out).group(1))  # type: ignore[union-attr]
    assert ratio == pytest.approx(float(mp.group(2)) / float(ours.group(2)), abs=0.006)  # FPS ratio = ms ratio
    assert "hands found: handmesh 8/8 frames, MediaPipe 8/8 frames" in out  # two passes of 4 frames each
    assert re.search(r"latency from frame to drawn picture: median [\d.]+ ms", out)
    # The timed hands scored against the clip's ground truth, beside the speed.
    acc = re.search(r"2D error ([\d.]+) of the hand box diagonal .*PA-MPJPE ([\d.]+) mm, hands in 4/4 frames", out)
    assert acc and 0.0 < float(acc.group(1)) < 0.1 and 0.0 < float(acc.group(2)) < 30.0, out


def test_bench_refuses_bad_options() -> None:
    from handmesh.errors import ConfigError

    with pytest.raises(ConfigError, match="--threads"):
        bench.run(_args("--threads", "0"))
