"""``handmesh-demo`` headless: the written video has the right frame count and appears atomically, the summary has
FPS and per-stage times, image folders and meshes, bad frames skipped, a lost camera ends cleanly, clear errors."""

from __future__ import annotations

import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from handmesh.app.loop import DemoOptions, _handle_key, run_demo
from handmesh.app.sinks import VideoSink
from handmesh.app.sources import SAMPLE_CLIP, CameraSource, Frame
from handmesh.cli.demo import main

from .fakes import FakeCapture, RaisingSource


def count_frames(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


@pytest.fixture(autouse=True)
def _headless(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)


def _net(ckpt: Path) -> list[str]:
    return ["--checkpoint", str(ckpt), "--backend", "torch", "--no-display"]


def test_video_to_video_with_the_right_frame_count(
    small_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out" / "overlay.mp4"
    rc = main(
        [
            "--video",
            str(SAMPLE_CLIP),
            "--output",
            str(out),
            "--max-frames",
            "7",
            "--detector",
            "none",
            "--skeleton",
            *_net(small_checkpoint),
        ]
    )
    assert rc == 0
    assert count_frames(out) == 7
    assert sorted(p.name for p in out.parent.iterdir()) == ["overlay.mp4"]  # no temporary file left
    text = capsys.readouterr().out
    assert "7 frames from" in text and "FPS end to end (max frames)" in text
    for stage in ("capture", "detect", "crop", "network", "hand_model", "render"):
        assert f"{stage} " in text.split("per stage, mean ms:")[1].splitlines()[0]
    first = cv2.VideoCapture(str(out)).read()[1]
    assert first.shape == (480, 640, 3)


def test_no_source_and_no_display_runs_the_sample_clip(
    small_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["--max-frames", "3", "--detector", "none", *_net(small_checkpoint)]) == 0
    assert count_frames(tmp_path / "outputs" / "demo.mp4") == 3
    text = capsys.readouterr().out
    assert "sample clip" in text and "wrote outputs/demo.mp4" in text


def test_images_to_pngs_and_meshes(small_checkpoint: Path, tmp_path: Path) -> None:
    images = tmp_path / "in"
    images.mkdir()
    clip = cv2.VideoCapture(str(SAMPLE_CLIP))
    bgr = clip.read()[1]
    clip.release()
    cv2.imwrite(str(images / "1_color.png"), bgr)
    cv2.imwrite(str(images / "2_gray16.png"), cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.uint16) * 257)
    cv2.imwrite(str(images / "3_small.jpg"), cv2.resize(bgr, (320, 240)))
    (images / "4_broken.png").write_bytes(b"\x89PNG broken")
    out, meshes = tmp_path / "out", tmp_path / "meshes"
    with pytest.warns(UserWarning, match="4_broken.png"):
        rc = main(
            [
                "--images",
                str(images),
                "--output",
                str(out),
                "--save-mesh",
                str(meshes),
                "--mesh-format",
                "ply",
                "--detector",
                "none",
                "--mirror",
                *_net(small_checkpoint),
            ]
        )
    assert rc == 0
    assert sorted(p.name for p in out.iterdir()) == ["1_color.png", "2_gray16.png", "3_small.png"]
    assert cv2.imread(str(out / "3_small.png")).shape == (240, 320, 3)
    names = ("1_color", "2_gray16", "3_small")
    assert sorted(p.name for p in meshes.iterdir()) == [f"{n}_hand0_right.ply" for n in names]


def test_bad_frames_are_skipped(small_checkpoint: Path, tmp_path: Path) -> None:
    import handmesh

    class Source:
        name, fps, live = "test frames", 10.0, False

        def __init__(self) -> None:
            good = np.full((48, 64, 3), 100, np.uint8)
            self.frames = [good, np.zeros((0, 64, 3), np.uint8), good, np.zeros((48, 64, 5), np.uint8), good]

        def read(self) -> Frame | None:
            if not self.frames:
                return None
            i = 5 - len(self.frames)
            return Frame(self.frames.pop(0), i, 100 * i, 0.1, f"f{i}")

        def close(self) -> None:
            pass

    est = handmesh.load(small_checkpoint, backend="torch", detector="none", mode="video")
    with pytest.warns(UserWarning, match="skipped f[13]"):
        result = run_demo(DemoOptions(display=False, output=tmp_path / "o.mp4"), estimator=est, source=Source())
    est.close()
    assert (result.frames, result.skipped, result.stopped) == (3, 2, "end of source")
    assert count_frames(tmp_path / "o.mp4") == 3
    assert "skipped 2 bad frame(s)" in result.report()


def test_lost_camera_ends_the_demo_cleanly(small_checkpoint: Path, tmp_path: Path) -> None:
    import handmesh

    calls = []

    def open_capture(index: int, api: int) -> FakeCapture:
        calls.append(index)
        return FakeCapture(fps=300.0, fail_after=6 if len(calls) == 1 else 0)

    cam = CameraSource(0, retries=2, retry_delay=0.01, failures_before_reopen=2, open_capture=open_capture)
    est = handmesh.load(small_checkpoint, backend="torch", detector="none", mode="video")
    logs: list[str] = []
    result = run_demo(
        DemoOptions(display=False, output=tmp_path / "cam.mp4"), estimator=est, source=cam, log=logs.append
    )
    est.close()
    assert "stopped delivering frames" in result.stopped and any("stopping" in m for m in logs)
    assert 1 <= result.frames <= 5 and count_frames(tmp_path / "cam.mp4") == result.frames


def test_a_failed_run_leaves_no_partial_video(small_checkpoint: Path, tmp_path: Path) -> None:
    import handmesh

    out = tmp_path / "keep.mp4"
    out.write_bytes(b"an earlier good file")
    est = handmesh.load(small_checkpoint, backend="torch", detector="none")
    with pytest.raises(RuntimeError, match="decoder crashed"):
        run_demo(
            DemoOptions(display=False, output=out), estimator=est, source=RaisingSource(RuntimeError("decoder crashed"))
        )
    est.close()
    assert out.read_bytes() == b"an earlier good file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.mp4"]


def test_ctrl_c_stops_like_q_and_keeps_the_video(small_checkpoint: Path, tmp_path: Path) -> None:
    import handmesh

    est = handmesh.load(small_checkpoint, backend="torch", detector="none")
    result = run_demo(
        DemoOptions(display=False, output=tmp_path / "c.mp4"),
        estimator=est,
        source=RaisingSource(KeyboardInterrupt(), live=True),
    )
    est.close()
    assert (result.stopped, result.frames) == ("interrupted", 2) and count_frames(tmp_path / "c.mp4") == 2


def test_video_sink_letterboxes_other_sizes(tmp_path: Path) -> None:
    sink = VideoSink(tmp_path / "v.mp4", 10)
    sink.write(np.zeros((48, 64, 3), np.uint8))
    with pytest.warns(UserWarning, match="letterboxed"):
        sink.write(np.full((100, 50, 3), 255, np.uint8))
    assert sink.close() == tmp_path / "v.mp4" and count_frames(tmp_path / "v.mp4") == 2


def test_user_errors_are_one_line(small_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"garbage" * 100)
    assert main(["--video", str(bad), *_net(small_checkpoint)]) == 2
    assert f"cannot decode video {bad}" in capsys.readouterr().err
    assert (
        main(
            [
                "--video",
                str(SAMPLE_CLIP),
                "--output",
                str(tmp_path / "x.txt"),
                "--detector",
                "none",
                *_net(small_checkpoint),
            ]
        )
        == 2
    )
    assert "expected a .mp4 file or a folder" in capsys.readouterr().err
    assert main(["--camera", "99", *_net(small_checkpoint)]) == 2
    assert "camera 99 is not available; tried" in capsys.readouterr().err
    assert main(["--video", str(SAMPLE_CLIP), "--max-frames", "0", *_net(small_checkpoint)]) == 2
    assert "--max-frames must be >= 1" in capsys.readouterr().err


def test_view3d_without_open3d_says_how_to_get_it(
    small_checkpoint: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import builtins

    real_import = builtins.__import__

    def no_open3d(name, *args, **kwargs):  # type: ignore[no-untyped-def]
        if name == "open3d":
            raise ImportError("No module named 'open3d'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_open3d)
    assert main(["--video", str(SAMPLE_CLIP), "--view3d", *_net(small_checkpoint)]) == 2
    assert "--view3d needs open3d" in capsys.readouterr().err


def test_setup_detector_with_a_given_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = tmp_path / "hand_landmarker.task"
    with zipfile.ZipFile(bundle, "w") as zf:
        zf.writestr("hand_detector.tflite", b"x")
        zf.writestr("hand_landmarks_detector.tflite", b"y")
    assert main(["--setup-detector", "--hand-landmarker", str(bundle)]) == 0
    assert f"hand landmarker bundle ready: {bundle}" in capsys.readouterr().out
    assert main(["--setup-detector", "--hand-landmarker", str(tmp_path / "none.task")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_keys() -> None:
    state = {"mesh": True, "skeleton": False, "paused": False}
    assert not _handle_key(ord("m"), state) and state["mesh"] is False
    assert not _handle_key(ord("s"), state) and state["skeleton"] is True
    assert not _handle_key(ord(" "), state) and state["paused"] is True
    assert not _handle_key(ord("x"), state) and state == {"mesh": False, "skeleton": True, "paused": True}
    assert _handle_key(ord("q"), state) and _handle_key(27, state)


def test_window_keys_drive_the_loop(small_checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A window is simulated: each shown picture is recorded, keys come from a script (s, m, pause/unpause, q)."""
    import handmesh
    import handmesh.app.loop as demo

    keys = iter([ord("s"), 255, ord(" "), ord(" "), ord("m"), 255, ord("q")])
    shown: list[np.ndarray] = []
    monkeypatch.setattr(demo, "display_available", lambda: True)
    monkeypatch.setattr(cv2, "imshow", lambda name, img: shown.append(img.copy()))
    monkeypatch.setattr(cv2, "waitKey", lambda ms: next(keys))
    monkeypatch.setattr(cv2, "destroyAllWindows", lambda: None)
    from handmesh.app.sources import VideoFileSource

    est = handmesh.load(small_checkpoint, backend="torch", detector="none")
    drawn: list[tuple[bool, bool]] = []
    render = est.render

    def spy(frame, hands, *, mesh=True, skeleton=False, **kw):  # type: ignore[no-untyped-def]
        drawn.append((mesh, skeleton))
        return render(frame, hands, mesh=mesh, skeleton=skeleton, **kw)

    est.render = spy  # type: ignore[method-assign]
    result = run_demo(DemoOptions(), estimator=est, source=VideoFileSource(SAMPLE_CLIP))
    est.close()
    # Frames shown: 1 (then s: skeleton on), 2, 3 (space: paused; the next key, read while paused, unpauses),
    # 4 (then m: mesh off), 5, 6 (then q).
    assert result.stopped == "quit" and result.frames == 6 == len(shown)
    assert drawn == [(True, False), (True, True), (True, True), (True, True), (False, True), (False, True)]
    assert all(p.shape == (480, 640, 3) for p in shown)


def _damaged_copy(path: Path, stretch: int, seed: int = 0) -> Path:
    """The sample clip with ``stretch`` bytes of noise a third of the way in."""
    data = bytearray(SAMPLE_CLIP.read_bytes())
    at = len(data) // 3
    data[at : at + stretch] = np.random.default_rng(seed).integers(0, 256, stretch, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path


def test_damaged_stretch_in_a_video_is_skipped_not_the_end(small_checkpoint: Path, tmp_path: Path) -> None:
    """A damaged stretch in the middle once ended the run after 37 of 150 frames, saying "end of source"."""
    import handmesh
    from handmesh.app.sources import VideoFileSource

    clip = _damaged_copy(tmp_path / "damaged.mp4", 120_000)
    with pytest.warns(UserWarning, match="undecodable"):
        src = VideoFileSource(clip)
        n = 0
        while src.read() is not None:
            n += 1
    assert src.skipped > 5  # more than the old limit of consecutive bad frames
    assert n + src.skipped == 150 and n > 100  # the frames after the damage are read
    est = handmesh.load(small_checkpoint, backend="torch", detector="none", mode="video")
    with pytest.warns(UserWarning, match="undecodable"):
        result = run_demo(DemoOptions(video=clip, display=False, output=tmp_path / "o.mp4"), estimator=est)
    est.close()
    assert result.frames == n and result.stopped == "end of source"
    assert f"skipped {src.skipped} bad frame(s)" in result.report()


def test_images_summary_counts_files_it_could_not_read(small_checkpoint: Path, tmp_path: Path) -> None:
    import handmesh

    folder = tmp_path / "photos"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.full((48, 64, 3), 100, np.uint8))
    (folder / "b.png").write_bytes(b"not a picture")
    est = handmesh.load(small_checkpoint, backend="torch", detector="none")
    with pytest.warns(UserWarning, match="b.png"):
        result = run_demo(DemoOptions(images=folder, display=False, output=tmp_path / "out"), estimator=est)
    est.close()
    assert result.frames == 1 and "skipped 1 bad frame(s)" in result.report()


def test_a_video_that_does_not_play_never_replaces_a_good_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """OpenCV's writer reports no error on a full disk: the file is checked before it replaces anything."""
    from handmesh.app import sinks
    from handmesh.errors import OutputError

    good = tmp_path / "out.mp4"
    good.write_bytes(b"a video the user keeps")
    sink = VideoSink(good, 10)
    for _ in range(3):
        sink.write(np.full((48, 64, 3), 100, np.uint8))
    monkeypatch.setattr(sinks, "count_video_frames", lambda path: 1)  # as if the disk filled after one frame
    with pytest.raises(OutputError, match=r"1 readable frame\(s\) of 3.*left as it was"):
        sink.close()
    assert good.read_bytes() == b"a video the user keeps" and not sink.tmp.exists()
    monkeypatch.undo()
    sink = VideoSink(good, 10)
    sink.write(np.full((48, 64, 3), 100, np.uint8))
    assert sink.close() == good and count_frames(good) == 1  # a complete file does replace it


def test_disk_full_while_writing_the_video_exits_1_and_keeps_the_old_file(
    small_checkpoint: Path, tmp_path: Path
) -> None:
    """A real write failure: the demo in a child process with a file size limit (RLIMIT_FSIZE, SIGXFSZ ignored)."""
    import os
    import subprocess
    import sys
    import textwrap

    resource = pytest.importorskip("resource")
    good = tmp_path / "out.mp4"
    good.write_bytes(b"a video the user keeps")
    script = textwrap.dedent(f"""
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))
        from handmesh.cli.demo import main
        sys.exit(main(["--video", {str(SAMPLE_CLIP)!r}, "--output", {str(good)!r}, "--max-frames", "40",
                       "--detector", "none", "--checkpoint", {str(small_checkpoint)!r}, "--backend", "torch",
                       "--no-display"]))
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert resource is not None
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-2000:])
    assert "readable frame(s) of 40" in proc.stderr and "left as it was" in proc.stderr
    assert good.read_bytes() == b"a video the user keeps"


def test_png_frames_on_a_full_disk_are_one_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from handmesh.app import sinks
    from handmesh.errors import OutputError

    sink = sinks.ImageDirSink(tmp_path / "frames")
    sink.write(np.full((8, 8, 3), 100, np.uint8), "f0")

    def full(path, data):  # noqa: ANN001, ANN202
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(sinks, "atomic_write_bytes", full)
    with pytest.raises(OutputError, match=r"f1\.png: could not be written \(No space left on device\); 1 frame"):
        sink.write(np.full((8, 8, 3), 100, np.uint8), "f1")
    assert (tmp_path / "frames" / "f0.png").is_file()


def test_unwritable_outputs_are_refused_before_the_run(
    small_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "dir.mp4").mkdir()
    (tmp_path / "file.jpg").write_bytes(b"x")
    (tmp_path / "meshes.obj").write_bytes(b"x")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    video = ["--video", str(SAMPLE_CLIP)]
    cases = [
        ([*video, "--output", str(tmp_path / "dir.mp4")], "is a folder"),
        ([*video, "--output", str(tmp_path / "file.jpg" / "o.mp4")], "is a file, so nothing can be written below it"),
        ([*video, "--save-mesh", str(tmp_path / "meshes.obj")], "is a file; expected a folder"),
        (["--camera", "-1"], "camera indices start at 0"),  # once a segmentation fault in OpenCV
    ]
    import os

    if os.geteuid() != 0:  # root writes anywhere
        cases.append(([*video, "--output", str(locked / "o.mp4")], "is not writable"))
    for args, match in cases:
        assert main([*args, *_net(small_checkpoint)]) == 2, args
        assert match in capsys.readouterr().err, args
