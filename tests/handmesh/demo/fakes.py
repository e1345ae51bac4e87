"""Fakes for demo tests: an OpenCV capture (numbered frames at a set rate, a camera that stops delivering) and a
frame source that raises part-way through."""

from __future__ import annotations

import threading
import time

import numpy as np

from handmesh.app.sources import Frame


class FakeCapture:
    """``cv2.VideoCapture``'s interface. Frame k is filled with k % 256 (so a test can tell which frame it got).

    Args:
        fps: frames per second delivered (``read`` sleeps to keep the rate).
        fail_after: ``read`` fails for good after this many frames (a camera unplugged). Default: never.
        opened: whether the device opens at all.
    """

    def __init__(self, fps: float = 200.0, fail_after: int | None = None, opened: bool = True) -> None:
        self.fps = fps
        self.fail_after = fail_after
        self.opened = opened
        self.count = 0
        self.released = False
        self.lock = threading.Lock()

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
        return self.opened and not self.released

    def read(self) -> tuple[bool, np.ndarray | None]:
        time.sleep(1.0 / self.fps)
        with self.lock:
            if self.released or (self.fail_after is not None and self.count >= self.fail_after):
                return False, None
            k = self.count
            self.count += 1
        return True, np.full((48, 64, 3), k % 256, np.uint8)

    def get(self, prop: int) -> float:
        return 0.0

    def set(self, prop: int, value: float) -> bool:
        return True

    def release(self) -> None:
        self.released = True


class RaisingSource:
    """A demo frame source whose ``read`` raises ``error`` at call ``at`` (grey 64x48 frames before it).

    Args:
        error: the exception to raise.
        at: the call that raises (1 is the first). Default: 3.
        live: whether it poses as a camera. Default: False.
    """

    fps = 10.0

    def __init__(self, error: BaseException, at: int = 3, live: bool = False) -> None:
        self.error = error
        self.at = at
        self.live = live
        self.name = "camera" if live else "test frames"
        self.n = 0

    def read(self) -> Frame | None:
        self.n += 1
        if self.n == self.at:
            raise self.error
        return Frame(np.full((48, 64, 3), 100, np.uint8), self.n - 1, 100 * self.n, 0.1, f"f{self.n}")

    def close(self) -> None:
        pass
