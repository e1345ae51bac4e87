"""Where the demo's frames come from: a camera (a capture thread serving the freshest frame), a video file or a
folder of images (both read in order, every frame exactly once).

Every source returns :class:`Frame` objects (RGB, a timestamp, the time spent capturing) from ``read()`` and
``None`` at the end of the stream; ``close()`` releases it. Errors a user can cause are clear: a camera index that
does not open lists what was tried and the video devices present, a video OpenCV cannot decode is named, an image
folder without images says so. Within a stream a bad frame is skipped (with a warning) rather than ending it.
"""

from __future__ import annotations

import glob
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from handmesh.errors import BackendUnavailableError, DataError, MissingFileError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
SAMPLE_CLIP = Path(__file__).resolve().parents[1] / "assets" / "sample_clip.mp4"
"""The clip shipped with the package (640x480, 30 fps, 5 s of a synthetic right hand; ``handmesh-synth video``)."""


@dataclass
class Frame:
    """One frame from a source.

    Attributes:
        rgb: ``(H, W, 3)`` uint8 RGB (``(H, W)``/``(H, W, 4)``/16-bit for image files that are so; the estimator
            converts them).
        index: position in the stream as delivered (0, 1, 2, ...).
        timestamp_ms: the frame's time in milliseconds, increasing (the video's clock for files, the capture
            clock for cameras).
        capture_ms: milliseconds spent reading and decoding it (for a camera: waiting for it).
        name: a label (the image file's name, or ``"frame_000012"``).
    """

    rgb: np.ndarray
    index: int
    timestamp_ms: int
    capture_ms: float
    name: str


def _bgr_to_rgb(image: np.ndarray) -> np.ndarray:
    """OpenCV's BGR / BGRA / grayscale -> RGB / RGBA / grayscale (any depth), C-contiguous."""
    if image.ndim == 3 and image.shape[2] in (3, 4):
        order = [2, 1, 0] if image.shape[2] == 3 else [2, 1, 0, 3]
        return np.ascontiguousarray(image[..., order])
    return np.ascontiguousarray(image)


# --------------------------------------------------------------------------------------------------- video file
class VideoFileSource:
    """Frames of a video file, in order, each once.

    Args:
        path: the video.
        max_bad_frames: for a file that does not say how many frames it has: consecutive undecodable frames after
            which the rest counts as unreadable. A file that does say reads on to its last frame past any damaged
            stretch (each skipped frame is counted and warned about). Default: 5.

    Raises:
        MissingFileError: no such file.
        DataError: OpenCV cannot open or decode it.
    """

    live = False

    def __init__(self, path: str | os.PathLike, max_bad_frames: int = 5) -> None:
        import cv2

        self.path = Path(path)
        if not self.path.is_file():
            raise MissingFileError(f"video {self.path} does not exist")
        self._cap = cv2.VideoCapture(str(self.path))
        if not self._cap.isOpened():
            raise DataError(
                f"cannot decode video {self.path}: OpenCV could not open it (not a video, or a codec "
                "this OpenCV build lacks; convert it to MPEG-4, e.g. with ffmpeg)"
            )
        fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if 0 < fps < 1000 else 30.0
        self.num_frames = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.name = str(self.path)
        self.max_bad_frames = int(max_bad_frames)
        self.skipped = 0
        self._index = 0
        self._pos = 0  # frames consumed from the file, decodable or not
        t0 = time.perf_counter()
        first = self._read_raw()
        if first is None:
            self.close()
            raise DataError(
                f"cannot decode video {self.path}: not a single frame could be read (corrupt, empty, or "
                "a codec this OpenCV build lacks)"
            )
        self._pending: tuple[np.ndarray, float] | None = (first, (time.perf_counter() - t0) * 1e3)

    def _read_raw(self) -> np.ndarray | None:
        """The next decodable frame (BGR), skipping undecodable ones; None at the end."""
        bad = 0
        while True:
            ok, bgr = self._cap.read()
            self._pos += 1
            if ok and bgr is not None and bgr.size:
                if bad:
                    self.skipped += bad
                    warnings.warn(
                        f"{self.path}: skipped {bad} undecodable frame(s) before frame {self._pos - 1}", stacklevel=3
                    )
                return bgr
            bad += 1
            if self.num_frames <= 0:  # no frame count: a run of failed reads is the end
                if bad > self.max_bad_frames:
                    return None
            elif self._pos >= self.num_frames:  # the frame count is reached: the end, past any damaged stretch
                damaged = bad - max(0, self._pos - self.num_frames)  # reads past the count are no frames
                if damaged > 0:
                    self.skipped += damaged
                    warnings.warn(f"{self.path}: the last {damaged} frame(s) could not be decoded", stacklevel=3)
                return None

    @property
    def size(self) -> tuple[int, int] | None:
        """``(W, H)`` of the frames."""
        import cv2

        w, h = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        return (w, h) if w > 0 and h > 0 else None

    def read(self) -> Frame | None:
        """The next frame, or None at the end of the file."""
        if self._pending is not None:
            bgr, ms = self._pending
            self._pending = None
        else:
            t0 = time.perf_counter()
            bgr = self._read_raw() if self._cap is not None else None
            ms = (time.perf_counter() - t0) * 1e3
        if bgr is None:
            return None
        t1 = time.perf_counter()
        rgb = _bgr_to_rgb(bgr)
        ms += (time.perf_counter() - t1) * 1e3
        i = self._index
        self._index += 1
        return Frame(rgb, i, int(round(i * 1000.0 / self.fps)), ms, f"frame_{i:06d}")

    def close(self) -> None:
        """Release the file."""
        if self._cap is not None:
            self._cap.release()
            self._cap = None  # type: ignore[assignment]


# -------------------------------------------------------------------------------------------------- image folder
class ImageFolderSource:
    """The images of a folder in name order (``.jpg .jpeg .png .bmp .tif .tiff .webp``); undecodable ones are
    skipped with a warning. Grayscale, RGBA and 16-bit images are passed on as they are (the estimator converts).

    Args:
        folder: the folder.

    Raises:
        MissingFileError: no such folder.
        DataError: it holds no images.
    """

    live = False
    fps = 10.0

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise MissingFileError(f"image folder {self.folder} does not exist")
        self.files = sorted(
            p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
        )
        if not self.files:
            raise DataError(f"image folder {self.folder} holds no images (looked for {' '.join(IMAGE_SUFFIXES)})")
        self.name = str(self.folder)
        self.size = None
        self.skipped = 0
        self._next = 0
        self._index = 0

    def read(self) -> Frame | None:
        """The next decodable image, or None after the last."""
        import cv2

        while self._next < len(self.files):
            path = self.files[self._next]
            self._next += 1
            t0 = time.perf_counter()
            image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
            if image is None or image.size == 0:
                self.skipped += 1
                warnings.warn(f"skipped {path}: not an image OpenCV can decode", stacklevel=2)
                continue
            rgb = _bgr_to_rgb(image)
            ms = (time.perf_counter() - t0) * 1e3
            i = self._index
            self._index += 1
            return Frame(rgb, i, int(round(i * 1000.0 / self.fps)), ms, path.stem)
        return None

    def close(self) -> None:
        """Nothing to release."""


# -------------------------------------------------------------------------------------------------------- camera
def _backend_candidates() -> list[tuple[str, int]]:
    """``(name, cv2 API preference)`` to try for a camera index on this platform, default first."""
    import cv2

    out = [("OpenCV's default backend", int(cv2.CAP_ANY))]
    platform_apis = {
        "linux": ("V4L2", "CAP_V4L2"),
        "darwin": ("AVFoundation", "CAP_AVFOUNDATION"),
        "win32": ("DirectShow", "CAP_DSHOW"),
    }
    for prefix, (name, attr) in platform_apis.items():
        if sys.platform.startswith(prefix) and hasattr(cv2, attr):
            out.append((name, int(getattr(cv2, attr))))
    if sys.platform == "win32" and hasattr(cv2, "CAP_MSMF"):
        out.append(("Media Foundation", int(cv2.CAP_MSMF)))
    return out


def video_devices() -> list[str]:
    """The video device nodes present (``/dev/video*`` on Linux; empty elsewhere, where OpenCV cannot list them)."""
    return sorted(glob.glob("/dev/video*"), key=lambda p: (len(p), p)) if sys.platform.startswith("linux") else []


class CameraSource:
    """A camera read by a background thread that keeps only the newest frame: :meth:`read` returns the freshest
    frame not yet served, so a slow consumer skips frames instead of falling behind.

    A camera that stops delivering is reopened up to ``retries`` times, ``retry_delay`` seconds apart; after that
    the stream ends (:meth:`read` returns None) and :attr:`lost` says why.

    Args:
        index: the camera index (0 is the first camera).
        width, height: resolution to ask for. Default: None (the camera's default).
        retries: reopen attempts after the camera stops delivering. Default: 5.
        retry_delay: seconds between attempts. Default: 0.5.
        failures_before_reopen: consecutive failed reads that count as the camera being lost. Default: 10.
        open_capture: ``(index, api_preference) -> capture`` with OpenCV's ``VideoCapture`` interface (``isOpened``,
            ``read``, ``release``, ``get``, ``set``). Default: ``cv2.VideoCapture`` (tests pass fakes).

    Raises:
        BackendUnavailableError: no backend opens the camera; the message lists what was tried and the devices
            present.
    """

    live = True

    def __init__(
        self,
        index: int,
        width: int | None = None,
        height: int | None = None,
        retries: int = 5,
        retry_delay: float = 0.5,
        failures_before_reopen: int = 10,
        open_capture: Callable[[int, int], Any] | None = None,
    ) -> None:
        import cv2

        self.index = int(index)
        self.name = f"camera {self.index}"
        self.retries = int(retries)
        self.retry_delay = float(retry_delay)
        self.failures_before_reopen = int(failures_before_reopen)
        self._open = open_capture or (lambda i, api: cv2.VideoCapture(i, api))
        self._want = (width, height)
        self.lost: str | None = None
        """Why the stream ended early (None while it runs or when closed by the caller)."""
        self.captured = 0
        """Frames captured by the thread (served or not)."""
        self.reopened = 0
        self._cap, self._api = self._open_first()
        fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if 0 < fps < 1000 else 30.0
        self._cond = threading.Condition()
        self._latest: tuple[np.ndarray, float] | None = None
        self._seq = 0
        self._served = 0
        self._index_out = 0
        self._stop = threading.Event()
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"handmesh-camera-{self.index}", daemon=True)
        self._thread.start()

    def _configure(self, cap: Any) -> None:
        import cv2

        w, h = self._want
        if w:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, float(w))
        if h:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, float(h))

    def _open_first(self) -> tuple[Any, int]:
        tried = []
        for name, api in _backend_candidates():
            cap = self._open(self.index, api)
            if cap is not None and cap.isOpened():
                self._configure(cap)
                ok, frame = cap.read()
                if ok and frame is not None and frame.size:
                    return cap, api
                tried.append(f"{name}: opened but delivered no frame")
            else:
                tried.append(f"{name}: could not open it")
            if cap is not None:
                cap.release()
        devices = video_devices()
        present = (
            f"video devices present: {', '.join(devices)}"
            if devices
            else "no /dev/video* devices present"
            if sys.platform.startswith("linux")
            else "OpenCV cannot list cameras on this platform"
        )
        raise BackendUnavailableError(
            f"camera {self.index} is not available; tried {'; '.join(tried)}. {present}. Use --camera N for another "
            "index, --video PATH or --images DIR (or run without a source on the shipped sample clip)"
        )

    def _run(self) -> None:
        failures = attempts = 0  # consecutive failed reads; reopen attempts since the last good frame
        while not self._stop.is_set():
            t0 = time.perf_counter()
            ok, bgr = self._cap.read()
            ms = (time.perf_counter() - t0) * 1e3
            if ok and bgr is not None and bgr.size:
                failures = attempts = 0
                with self._cond:
                    self._latest = (bgr, ms)
                    self._seq += 1
                    self.captured += 1
                    self._cond.notify_all()
                continue
            failures += 1
            if failures < self.failures_before_reopen:
                self._stop.wait(0.01)
                continue
            failures = 0
            if attempts >= self.retries:
                with self._cond:
                    self.lost = (
                        f"camera {self.index} stopped delivering frames and did not come back after "
                        f"{attempts} reopen attempt(s), {self.retry_delay:g} s apart"
                    )
                    self._cond.notify_all()
                return
            attempts += 1
            self._cap.release()
            if self._stop.wait(self.retry_delay):
                return
            # A capture that does not open reads nothing, so the next round counts as failures and tries again.
            self._cap = self._open(self.index, self._api)
            if self._cap.isOpened():
                self._configure(self._cap)
                self.reopened += 1

    def read(self, timeout: float | None = None) -> Frame | None:
        """The freshest frame not yet served, waiting for one if needed.

        Args:
            timeout: seconds to wait at most. Default: None (until a frame arrives or the camera is lost).

        Returns:
            The frame, or None when the camera was lost (see :attr:`lost`), closed, or ``timeout`` passed.
        """
        t0 = time.perf_counter()
        with self._cond:
            ok = self._cond.wait_for(
                lambda: self._seq > self._served or self.lost is not None or self._stop.is_set(), timeout
            )
            if not ok or self._seq <= self._served or self._latest is None:
                return None
            bgr, _ = self._latest
            self._served = self._seq
        rgb = _bgr_to_rgb(bgr)
        i = self._index_out
        self._index_out += 1
        ts = int((time.monotonic() - self._t0) * 1000)
        return Frame(rgb, i, ts, (time.perf_counter() - t0) * 1e3, f"frame_{i:06d}")

    def close(self) -> None:
        """Stop the thread and release the camera (idempotent)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)
        if self._cap is not None:
            self._cap.release()


def open_source(
    camera: int | None = None,
    video: str | os.PathLike | None = None,
    images: str | os.PathLike | None = None,
    **camera_options: Any,
):
    """The source named by exactly one of ``camera``, ``video``, ``images``.

    Returns:
        A :class:`CameraSource`, :class:`VideoFileSource` or :class:`ImageFolderSource`.
    """
    from handmesh.errors import ConfigError

    given = [name for name, v in (("camera", camera), ("video", video), ("images", images)) if v is not None]
    if len(given) != 1:
        raise ConfigError(f"give exactly one frame source (camera, video or images), got {given or 'none'}")
    if camera is not None:
        return CameraSource(camera, **camera_options)
    if video is not None:
        return VideoFileSource(video)
    return ImageFolderSource(images)  # type: ignore[arg-type]
