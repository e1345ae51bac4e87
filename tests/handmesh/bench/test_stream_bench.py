"""``handmesh-bench stream`` times the pipeline alone and publishing to clients, and reports the clients' latency
and drops beside the accuracy of the timed hands."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

pytest.importorskip("websockets")

from handmesh.bench import stream as bench  # noqa: E402

from ..api.conftest import _export_cache, small_checkpoint  # noqa: E402, F401 - fixtures used by name
from ..detection.conftest import hand_landmarker_bundle  # noqa: E402, F401 - the fixture is used by name


def test_bench_prints_both_conditions_latency_and_drops(
    hand_landmarker_bundle: Path,  # noqa: F811
    small_checkpoint: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    args = parser.parse_args(
        [
            "--checkpoint",
            str(small_checkpoint),
            "--backend",
            "torch",
            "--frames",
            "60",
            "--repeats",
            "1",
            "--warmup",
            "1",
            "--hand-landmarker",
            str(hand_landmarker_bundle),
        ]
    )
    assert bench.run(args) == 0
    out = capsys.readouterr().out
    assert "3 client(s) connected: 2 reading (own processes), 1 stalled" in out
    alone = re.search(r"pipeline alone \(no publishing\)\s+([\d.]+)\s+([\d.]+)", out)
    streaming = re.search(r"pipeline publishing to the clients\s+([\d.]+)\s+([\d.]+)", out)
    assert alone and streaming, out
    ratio = float(re.search(r"ratio with clients / alone: ([\d.]+)x", out).group(1))  # type: ignore[union-attr]
    assert ratio == pytest.approx(float(alone.group(2)) / float(streaming.group(2)), abs=0.002)
    assert re.search(r"median [\d.]+ ms, 90th percentile [\d.]+ ms, max [\d.]+ ms over \d+ receipts", out)
    received = [int(n) for n in re.findall(r"reading client \d: (\d+) of 60 published frames received", out)]
    assert len(received) == 2 and min(received) >= 54
    counts = [(int(s), int(d)) for s, d in re.findall(r"sent (\d+), dropped (\d+)", out)]
    # The stalled client drops; what it has neither got nor dropped is the frame stuck in its send and the next one.
    assert len(counts) == 3 and min(counts)[1] > 0 and all(58 <= s + d <= 60 for s, d in counts)
    assert re.search(r"PA-MPJPE [\d.]+ mm, hands in \d+/60 frames", out)
