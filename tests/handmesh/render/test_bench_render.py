"""``handmesh-bench render`` runs end to end and prints its table (no timing assertions)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from handmesh.bench.render import painter_overlay, place
from handmesh.cli.bench import main
from handmesh.render import Light, Mesh, render
from handmesh.render.primitives import ellipsoid


def test_bench_render_prints_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_png = tmp_path / "cmp.png"
    assert main(["render", "--repeats", "3", "--warmup", "1", "--mesh", "ellipsoid", "--save", str(out_png)]) == 0
    text = capsys.readouterr().out
    assert "numba 1" in text and "painter's" in text
    assert text.count("|") > 20
    assert out_png.stat().st_size > 1000


def test_bench_rejects_bad_flags(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "--repeats", "0"]) == 2
    assert "--repeats" in capsys.readouterr().err


def test_painter_baseline_covers_the_same_silhouette() -> None:
    v, f = ellipsoid((0.09, 0.05, 0.015))
    v, K = place(v.astype(np.float64), 320, 240, 0.25)
    frame = np.zeros((240, 320, 3), np.uint8)
    painted = painter_overlay(frame, v, f, K, np.array([1.0, 1.0, 1.0]), Light().unit_direction(), 1.0)
    ours = render(Mesh(v, f), K, (240, 320)).mask
    theirs = painted.sum(-1) > 0
    assert (ours != theirs).sum() < 0.05 * ours.sum()
