"""``handmesh-bench fit`` records the fit's real inputs on a clip, replays them and prints ms per hand beside the
replayed fits' accuracy."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from handmesh.bench import fit as bench
from handmesh.errors import ConfigError

from ..detection.conftest import hand_landmarker_bundle  # noqa: F401 - the fixture is used by name


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_fit_bench_prints_times_and_accuracy(
    hand_landmarker_bundle: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert bench.run(_args("--frames", "6", "--repeats", "1", "--hand-landmarker", str(hand_landmarker_bundle))) == 0
    out = capsys.readouterr().out
    one = re.search(r"^1 hand per call\s+([\d.]+)\s+(\d+)$", out, re.M)
    two = re.search(r"^2 hands per call\s+([\d.]+)\s+(\d+)$", out, re.M)
    assert one and two, out
    assert float(one.group(1)) > 0 and float(two.group(1)) > 0
    assert int(two.group(2)) == 2 * int(one.group(2)) == 12  # every frame of the sample clip's start has a hand
    acc = re.search(r"2D error ([\d.]+) of the hand box diagonal \(median\), PA-MPJPE ([\d.]+) mm", out)
    assert acc and float(acc.group(1)) < 0.06 and float(acc.group(2)) < 20.0, out


def test_fit_bench_refuses_bad_options() -> None:
    with pytest.raises(ConfigError, match="--repeats"):
        bench.run(_args("--repeats", "0"))
