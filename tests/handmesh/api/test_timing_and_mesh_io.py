"""Per-stage timings and the OBJ / PLY mesh files."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from handmesh.errors import ConfigError
from handmesh.pipeline.mesh_io import obj_bytes, ply_bytes, write_mesh
from handmesh.pipeline.timing import STAGES, StageTimer


def test_stage_timer_records_last_mean_and_order() -> None:
    timer = StageTimer()
    assert timer.summary() == "no stages timed"
    timer.record("render", 4.0)
    timer.record("capture", 1.0)
    timer.record("capture", 3.0)
    timer.record("custom", 7.0)
    with timer.stage("network"):
        time.sleep(0.01)
    assert timer.stages() == ["capture", "network", "render", "custom"]  # pipeline order, then others
    assert timer.mean_ms("capture") == 2.0 and timer.last["capture"] == 3.0 and timer.count["capture"] == 2
    assert timer.last["network"] >= 9.0
    assert timer.mean_ms("detect") == 0.0
    assert timer.summary("last").startswith("capture 3.0  network ")
    with pytest.raises(ValueError, match="mean"):
        timer.summary("median")
    with pytest.raises(RuntimeError):
        with timer.stage("crop"):
            raise RuntimeError("boom")
    assert timer.count["crop"] == 1  # recorded even when the block raises
    timer.reset()
    assert timer.means() == {}
    assert STAGES == ("capture", "detect", "crop", "network", "fit", "hand_model", "render")


def _tetra() -> tuple[np.ndarray, np.ndarray]:
    v = np.array([[0, 0, 0.5], [0.1, 0, 0.5], [0, 0.1, 0.5], [0, 0, 0.6]], np.float32)
    f = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]], np.int32)
    return v, f


def _read_obj(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    lines = data.decode().splitlines()
    v = np.array([[float(x) for x in ln.split()[1:]] for ln in lines if ln.startswith("v ")])
    f = np.array([[int(x) - 1 for x in ln.split()[1:]] for ln in lines if ln.startswith("f ")])
    return v, f


def _read_ply(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    header, body = data.split(b"end_header\n", 1)
    counts = {ln.split()[1]: int(ln.split()[2]) for ln in header.decode().splitlines() if ln.startswith("element")}
    nv, nf = counts["vertex"], counts["face"]
    v = np.frombuffer(body[: 12 * nv], "<f4").reshape(nv, 3)
    rec = np.frombuffer(body[12 * nv :], dtype=[("n", "u1"), ("idx", "<i4", (3,))])
    assert len(rec) == nf and np.all(rec["n"] == 3)
    return v, rec["idx"]


def test_obj_and_ply_round_trip(tmp_path: Path) -> None:
    v, f = _tetra()
    for reader, data in ((_read_obj, obj_bytes(v, f)), (_read_ply, ply_bytes(v, f))):
        rv, rf = reader(data)
        np.testing.assert_allclose(rv, v, atol=1e-6)
        np.testing.assert_array_equal(rf, f)
    assert write_mesh(tmp_path / "a" / "hand.ply", v, f).read_bytes() == ply_bytes(v, f)
    assert write_mesh(tmp_path / "hand.OBJ", v, f).read_bytes() == obj_bytes(v, f)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "hand.OBJ", "hand.ply"]  # no temporary files left


def test_mesh_file_errors(tmp_path: Path) -> None:
    v, f = _tetra()
    with pytest.raises(ConfigError, match=r"\.obj or \.ply"):
        write_mesh(tmp_path / "hand.stl", v, f)
    with pytest.raises(ValueError, match="faces index vertices"):
        obj_bytes(v, f + 1)
    with pytest.raises(ValueError, match=r"vertices must have shape \(V, 3\)"):
        ply_bytes(v[:, :2], f)


def test_hand_saves_its_mesh(tmp_path: Path) -> None:
    from handmesh.pipeline.estimator import HandEstimator

    from .helpers import K_TEST, GroundTruthStage, OracleDetector, pose_hand, render_hand

    truth = pose_hand("left", (320, 240))
    frame, _ = render_hand([truth])
    with HandEstimator(GroundTruthStage(K_TEST, truths=[truth]), OracleDetector(K_TEST, [truth])) as est:
        (hand,) = est(frame, K_TEST)
    rv, rf = _read_obj(hand.save_mesh(tmp_path / "left.obj").read_bytes())
    np.testing.assert_allclose(rv, hand.vertices, atol=1e-6)
    np.testing.assert_array_equal(rf, hand.faces)
    assert "Hand(left" in repr(hand) and "track_id=None" in repr(hand)
