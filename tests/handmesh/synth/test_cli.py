"""handmesh-synth command line: default command, messages, exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from handmesh.cli.synth import main


def test_dataset_is_the_default_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ds"
    assert main([str(out), "--train", "3", "--eval", "1", "--chunk-size", "2", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "wrote 4 images" in text and "images/s" in text
    assert (out / "training_xyz.json").is_file() and (out / "evaluation_K.json").is_file()
    assert main(["dataset", str(out), "--train", "3", "--eval", "1", "--chunk-size", "2", "--quiet", "--resume"]) == 0
    assert "nothing to do" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--train", "0", "--eval", "0"], "nothing to generate"),
        (["--train", "-3"], ">= 0"),
        (["--size", "-224"], "image size"),
        (["--workers", "0"], "workers"),
    ],
)
def test_impossible_requests_exit_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main([str(tmp_path / "x"), *args, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in err


def test_non_empty_folder_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "keep.txt").write_text("x")
    assert main([str(tmp_path), "--train", "2", "--eval", "0", "--quiet"]) == 2
    assert "not empty" in capsys.readouterr().err


def test_overwrite_and_resume_are_exclusive(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main([str(tmp_path), "--overwrite", "--resume"])


def test_video_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "c.mp4"
    args = ["video", str(out), "--seconds", "0.2", "--fps", "10", "--width", "128", "--height", "96", "--quiet"]
    assert main(args) == 0
    assert "2 frames" in capsys.readouterr().out
    assert out.stat().st_size > 0 and out.with_suffix(".json").stat().st_size > 0
    assert main(args) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_full_disk_is_one_line_and_exit_1(tmp_path: Path) -> None:
    """A file size limit in a child process (RLIMIT_FSIZE, SIGXFSZ ignored) stands in for a full disk; the run
    once ended in an OSError traceback."""
    import os
    import subprocess
    import sys
    import textwrap

    pytest.importorskip("resource")
    script = textwrap.dedent(f"""
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (3_000, 3_000))
        from handmesh.cli.synth import main
        sys.exit(main([{str(tmp_path / "ds")!r}, "--train", "4", "--eval", "0", "--chunk-size", "2", "--quiet"]))
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines[-1].startswith("error: ") and "file size limit" in lines[-1] and "Traceback" not in proc.stderr
