"""handmesh-mano convert / info, and the hand-model benchmark runs and prints its table."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import pytest

from handmesh.cli.mano import main
from handmesh.hand_model.mano_pickle import load_mano_pickle
from handmesh.hand_model.model_file import read_model_file


def test_convert_round_trip(
    tmp_path: Path, mano_dir: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    for side in ("RIGHT", "LEFT"):
        shutil.copy(mano_dir / f"MANO_{side}.pkl", tmp_path / f"MANO_{side}.pkl")
    with caplog.at_level("INFO"):
        assert main(["convert", str(tmp_path / "MANO_RIGHT.pkl"), str(tmp_path / "MANO_LEFT.pkl")]) == 0
    assert "wrote" in capsys.readouterr().out
    assert "negated the x component of shapedirs (smplx issue #48) (checked against the right model)" in caplog.text
    for side in ("RIGHT", "LEFT"):
        npz, pkl = read_model_file(tmp_path / f"MANO_{side}.npz"), load_mano_pickle(tmp_path / f"MANO_{side}.pkl")
        assert npz.is_right == (side == "RIGHT")
        for key in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "faces", "hands_mean"):
            np.testing.assert_array_equal(getattr(npz, key), getattr(pkl, key), err_msg=key)
    out = tmp_path / "elsewhere" / "r.npz"
    assert main(["convert", str(tmp_path / "MANO_RIGHT.pkl"), "-o", str(out)]) == 0
    assert read_model_file(out).is_right


def test_info(mano_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(mano_dir / "MANO_LEFT.pkl")]) == 0
    text = capsys.readouterr().out
    assert "shapedirs: float64 (778, 3, 10)" in text and "left hand" in text and "faces wound: outward" in text
    assert "boundary edges: 16" in text
    main(["convert", str(mano_dir / "MANO_RIGHT.pkl"), "-o", str(tmp_path / "r.npz")])
    capsys.readouterr()
    assert main(["info", str(tmp_path / "r.npz")]) == 0
    text = capsys.readouterr().out
    assert "right hand" in text and "744 320 443 555 672 (freihand convention)" in text


def test_user_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import os
    import pickle

    class Evil:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return os.system, ("true",)

    p = tmp_path / "MANO_RIGHT.pkl"
    p.write_bytes(pickle.dumps({"v_template": Evil()}, protocol=2, fix_imports=False))
    assert main(["convert", str(p)]) == 2
    assert "refusing to load global 'posix.system'" in capsys.readouterr().err
    assert main(["info", str(tmp_path / "absent.npz")]) == 2
    assert main(["convert", str(p), str(p), "-o", "x.npz"]) == 2
    assert not (tmp_path / "MANO_RIGHT.npz").exists()


def test_bench_prints_a_table(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from handmesh.bench import hand_model as bench

    monkeypatch.setenv("HANDMESH_MANO_DIR", str(tmp_path))  # nothing there: the stand-in or the open hand runs
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    args = parser.parse_args(["--repeats", "1", "--warmup", "0", "--batch-sizes", "1", "2", "--threads", "1"])
    assert bench.run(args) == 0
    out = capsys.readouterr().out
    assert "1 thread(s)" in out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "batch" not in line]
    assert len(rows) >= 2 and all(len(r.split("|")) == 9 for r in rows)
