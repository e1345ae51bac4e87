"""Frame sources: the camera thread serves the freshest frame and gives up cleanly on a lost camera; files are read
in order with exact counts; clear errors for a missing camera, an undecodable video, an empty folder."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from handmesh.app.sources import (
    SAMPLE_CLIP,
    CameraSource,
    ImageFolderSource,
    VideoFileSource,
    open_source,
    video_devices,
)
from handmesh.errors import BackendUnavailableError, ConfigError, DataError, MissingFileError

from .fakes import FakeCapture


def test_camera_serves_the_freshest_frame_once() -> None:
    cam = CameraSource(0, open_capture=lambda i, api: FakeCapture(fps=200.0))
    try:
        first = cam.read(timeout=2.0)
        assert first is not None and first.index == 0
        time.sleep(0.1)  # a slow consumer: ~20 frames arrive meanwhile
        second = cam.read(timeout=2.0)
        assert second is not None and second.index == 1
        assert int(second.rgb[0, 0, 0]) - int(first.rgb[0, 0, 0]) >= 5  # older frames were dropped, not queued
        third = cam.read(timeout=2.0)  # waits for a frame newer than the one served
        assert third is not None and int(third.rgb[0, 0, 0]) > int(second.rgb[0, 0, 0])
        assert third.timestamp_ms >= second.timestamp_ms and cam.captured > 3
        assert cam.live and cam.lost is None
    finally:
        cam.close()


def test_lost_camera_is_retried_then_the_stream_ends_with_a_message() -> None:
    opened: list[FakeCapture] = []

    def open_capture(index: int, api: int) -> FakeCapture:
        cap = FakeCapture(fps=500.0, fail_after=4 if not opened else 0)  # reopened: opens, but never delivers
        opened.append(cap)
        return cap

    cam = CameraSource(0, retries=2, retry_delay=0.01, failures_before_reopen=3, open_capture=open_capture)
    frames = []
    try:
        while (frame := cam.read(timeout=5.0)) is not None:
            frames.append(frame)
    finally:
        cam.close()
    assert 1 <= len(frames) <= 3  # the probe read at open took one of the four frames
    assert cam.lost is not None and "camera 0 stopped delivering frames" in cam.lost and "2 reopen" in cam.lost
    assert len(opened) == 3 and all(c.released for c in opened)  # the first capture and two reopen attempts


def test_lost_camera_that_comes_back_keeps_streaming() -> None:
    opened: list[FakeCapture] = []

    def open_capture(index: int, api: int) -> FakeCapture:
        cap = FakeCapture(fps=500.0, fail_after=3 if not opened else None)
        opened.append(cap)
        return cap

    cam = CameraSource(0, retries=3, retry_delay=0.01, failures_before_reopen=2, open_capture=open_capture)
    try:
        got = [cam.read(timeout=5.0) for _ in range(6)]
    finally:
        cam.close()
    assert all(f is not None for f in got) and cam.reopened == 1 and cam.lost is None


def test_missing_camera_lists_what_was_tried() -> None:
    with pytest.raises(BackendUnavailableError) as info:
        CameraSource(7, open_capture=lambda i, api: FakeCapture(opened=False))
    msg = str(info.value)
    assert "camera 7 is not available" in msg and "OpenCV's default backend: could not open it" in msg
    assert "--video PATH" in msg


def test_missing_camera_with_opencv() -> None:
    if video_devices():
        pytest.skip("this machine has video devices")
    with pytest.raises(BackendUnavailableError, match=r"camera 99 is not available; tried .*could not open it"):
        CameraSource(99)


def test_video_file_is_read_in_order_with_exact_counts() -> None:
    src = VideoFileSource(SAMPLE_CLIP)
    frames = []
    while (f := src.read()) is not None:
        frames.append(f.index)
    src.close()
    assert frames == list(range(150)) and src.num_frames == 150 and src.fps == 30.0 and not src.live


def test_undecodable_video_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    with pytest.raises(DataError, match=r"cannot decode video .*broken\.mp4"):
        VideoFileSource(bad)
    with pytest.raises(MissingFileError, match="nothing.mp4"):
        VideoFileSource(tmp_path / "nothing.mp4")


def test_image_folder_skips_bad_images_and_keeps_layouts(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "a_color.png"), np.full((20, 30, 3), (10, 20, 30), np.uint8))  # BGR on disk
    cv2.imwrite(str(tmp_path / "b_gray16.png"), np.full((20, 30), 40000, np.uint16))
    cv2.imwrite(str(tmp_path / "c_rgba.png"), np.full((20, 30, 4), 200, np.uint8))
    (tmp_path / "d_broken.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "notes.txt").write_text("ignored")
    src = ImageFolderSource(tmp_path)
    with pytest.warns(UserWarning, match="d_broken.jpg"):
        frames = []
        while (f := src.read()) is not None:
            frames.append(f)
    assert [f.name for f in frames] == ["a_color", "b_gray16", "c_rgba"] and src.skipped == 1
    assert frames[0].rgb[0, 0].tolist() == [30, 20, 10]  # RGB
    assert frames[1].rgb.dtype == np.uint16 and frames[1].rgb.ndim == 2
    assert frames[2].rgb.shape == (20, 30, 4)


def test_empty_image_folder_and_source_choice(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="holds no images"):
        ImageFolderSource(tmp_path)
    with pytest.raises(MissingFileError, match="does not exist"):
        ImageFolderSource(tmp_path / "none")
    with pytest.raises(ConfigError, match="exactly one frame source"):
        open_source(camera=0, video=SAMPLE_CLIP)
