"""Where the demo's frames go: an MP4 written atomically, a folder of PNGs, per-frame hand meshes.

The video is written to a temporary file beside the destination and renamed onto it only when the run ends
normally (or is interrupted with Ctrl-C: the frames written so far make a valid video), so a crash never leaves a
truncated ``out.mp4`` and an earlier good file is kept until the new one is complete.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from handmesh.errors import BackendUnavailableError, ConfigError, OutputError
from handmesh.utils.atomic import atomic_write_bytes

VIDEO_SUFFIXES = (".mp4",)
FOURCC = "mp4v"  # MPEG-4 part 2: what opencv-python's bundled FFmpeg both writes and reads


def is_video_path(path: str | os.PathLike) -> bool:
    """Whether ``--output`` names a video file (``.mp4``) rather than a folder of frames."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


class VideoSink:
    """An MP4 (``mp4v``) written frame by frame to a temporary file and moved into place by :meth:`close`.

    The first frame fixes the size; later frames of another size (an image folder) are letterboxed into it.

    Args:
        path: the ``.mp4`` to write; its folder is created.
        fps: frames per second of the file.

    Raises:
        ConfigError: ``path`` does not end in ``.mp4``.
    """

    def __init__(self, path: str | os.PathLike, fps: float) -> None:
        self.path = Path(path)
        if not is_video_path(self.path):
            raise ConfigError(f"--output {self.path}: a video must end in .mp4 (or name a folder for PNG frames)")
        self.fps = float(fps) if fps and fps > 0 else 30.0
        self.tmp = self.path.with_name(f".{self.path.stem}.tmp{self.path.suffix}")
        self.frames = 0
        self._writer = None
        self._size: tuple[int, int] | None = None
        self._warned = False

    def write(self, rgb: np.ndarray, name: str | None = None) -> None:
        """Append one ``(H, W, 3)`` uint8 RGB frame (``name`` is unused: the same call as :class:`ImageDirSink`)."""
        import cv2

        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            h, w = rgb.shape[:2]
            self._size = (w, h)
            self._writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*FOURCC), self.fps, (w, h))
            if not self._writer.isOpened():
                self._writer = None
                raise BackendUnavailableError(
                    f"OpenCV cannot write {FOURCC} video to {self.tmp} on this machine; "
                    "write PNG frames instead (--output DIR)"
                )
        assert self._size is not None
        if (rgb.shape[1], rgb.shape[0]) != self._size:
            if not self._warned:
                warnings.warn(
                    f"{self.path}: frames of another size are letterboxed to the first frame's "
                    f"{self._size[0]}x{self._size[1]}",
                    stacklevel=2,
                )
                self._warned = True
            rgb = letterbox(rgb, *self._size)
        self._writer.write(np.ascontiguousarray(rgb[..., ::-1]))
        self.frames += 1

    def close(self, keep: bool = True) -> Path | None:
        """Finish the file: check it and move it onto :attr:`path` (``keep``), or delete it.

        OpenCV's writer reports no write error (a full disk gives a file that does not play), so the finished file
        is opened again and its frames counted before it replaces anything.

        Returns:
            The video's path, or None when nothing was kept (no frames, or ``keep=False``).

        Raises:
            OutputError: the file written holds fewer frames than were written to it; it is deleted and an
                existing :attr:`path` is left as it was.
        """
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if keep and self.frames and self.tmp.exists():
            readable = count_video_frames(self.tmp)
            if readable < self.frames:
                with contextlib.suppress(FileNotFoundError):
                    self.tmp.unlink()
                kept = "left as it was" if self.path.exists() else "not written"
                raise OutputError(
                    f"{self.path}: the video written holds {readable} readable frame(s) of "
                    f"{self.frames} (is the disk full?); {self.path} was {kept}"
                )
            os.replace(self.tmp, self.path)
            return self.path
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()
        return None


def count_video_frames(path: str | os.PathLike) -> int:
    """How many frames of a video file decode (0 when it does not open)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    n = 0
    try:
        while cap.isOpened() and cap.grab():
            n += 1
    finally:
        cap.release()
    return n


class ImageDirSink:
    """Frames as PNG files ``<name>.png`` in a folder (each written atomically).

    Args:
        folder: the folder; created if needed.
    """

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise ConfigError(f"--output {self.folder} is a file; name a folder for PNG frames or a .mp4 video")
        self.path = self.folder
        self.frames = 0

    def write(self, rgb: np.ndarray, name: str) -> Path:
        """Write one ``(H, W, 3)`` uint8 RGB frame as ``<name>.png``."""
        import cv2

        ok, data = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]))
        if not ok:
            raise BackendUnavailableError("OpenCV could not encode a PNG")
        path = self.folder / f"{name}.png"
        try:
            atomic_write_bytes(path, data.tobytes())
        except OSError as e:  # a full disk or a size limit: the frames written so far stay, this one is not there
            raise OutputError(
                f"{path}: could not be written ({e.strerror or e}); {self.frames} frame(s) were "
                f"written to {self.folder} before it"
            ) from e
        self.frames += 1
        return path

    def close(self, keep: bool = True) -> Path | None:
        """Nothing to finish; returns the folder."""
        return self.folder if self.frames else None


class MeshSink:
    """Each frame's hands as mesh files ``<frame>_hand<k>_<side>.<format>`` in a folder.

    Args:
        folder: the folder; created if needed.
        fmt: ``"obj"`` or ``"ply"``. Default: ``"obj"``.
    """

    def __init__(self, folder: str | os.PathLike, fmt: str = "obj") -> None:
        from handmesh.pipeline.mesh_io import MESH_FORMATS

        if fmt not in MESH_FORMATS:
            raise ConfigError(f"mesh format must be one of {', '.join(MESH_FORMATS)}, got {fmt!r}")
        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise ConfigError(f"--save-mesh {self.folder} is a file; name a folder")
        self.fmt = fmt
        self.files = 0

    def write(self, hands: Sequence, name: str) -> list[Path]:
        """Write every hand of one frame; returns the paths."""
        out = []
        for k, hand in enumerate(hands):
            out.append(hand.save_mesh(self.folder / f"{name}_hand{k}_{hand.handedness}.{self.fmt}"))
        self.files += len(out)
        return out


def letterbox(image: np.ndarray, width: int, height: int, fill: int = 0) -> np.ndarray:
    """``image`` scaled to fit ``width`` x ``height`` with its aspect kept, centred on a ``fill`` canvas."""
    import cv2

    h, w = image.shape[:2]
    s = min(width / w, height / h)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    canvas = np.full((height, width, 3), fill, np.uint8)
    x0, y0 = (width - nw) // 2, (height - nh) // 2
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    canvas[y0 : y0 + nh, x0 : x0 + nw] = cv2.resize(image, (nw, nh), interpolation=interp)
    return canvas
