"""The JavaScript client page, run by a real headless browser against a live stream: it connects, reads the frames
and decodes the binary meshes."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("websockets")

from handmesh.stream.schema import FrameEvent  # noqa: E402
from handmesh.stream.server import HandStream  # noqa: E402

BROWSER = next(
    (shutil.which(b) for b in ("chromium", "chromium-headless-shell", "google-chrome") if shutil.which(b)), None
)


def _hand(side: str) -> SimpleNamespace:
    joints2d = np.stack([np.linspace(20, 100, 21), np.linspace(30, 90, 21)], 1).astype(np.float32)
    return SimpleNamespace(
        track_id=1,
        handedness=side,
        score=0.9,
        refined=False,
        fit_residual_px=float("nan"),
        joints=np.full((21, 3), 0.4, np.float32),
        joints2d=joints2d,
        vertices=np.zeros((778, 3), np.float32),
        faces=np.zeros((1538, 3), np.int32),
    )


@pytest.mark.skipif(BROWSER is None, reason="no chromium here (Debian: apt-get install chromium)")
def test_the_page_reads_frames_and_meshes(tmp_path) -> None:
    image, K = np.zeros((120, 160, 3), np.uint8), np.diag([100.0, 100.0, 1.0])
    with HandStream(port=0) as stream:
        stop = threading.Event()

        def publish() -> None:
            i = 0
            while not stop.is_set():
                stream.publish(FrameEvent(i, i * 33.0, image, K, [_hand("right"), _hand("left")]))
                i += 1
                time.sleep(0.005)

        publisher = threading.Thread(target=publish)
        publisher.start()
        try:
            # The DOM is read once the browser's virtual time has run out, which may come before the first frame
            # arrives over the real socket: a few tries, each with a fresh profile.
            for attempt in range(5):
                dom = subprocess.run(
                    [
                        BROWSER,
                        "--headless",
                        "--no-sandbox",
                        "--disable-gpu",
                        f"--user-data-dir={tmp_path / f'profile{attempt}'}",
                        "--dump-dom",
                        f"--virtual-time-budget={3000 * (attempt + 1)}",
                        stream.page_url,
                    ],
                    capture_output=True,
                    text=True,
                    timeout=90,
                    cwd=tmp_path,
                ).stdout
                if 'data-hands="2"' in dom:
                    break
        finally:
            stop.set()
            publisher.join()
    body = re.search(r"<body([^>]*)>", dom)
    assert body, dom[:500]
    attrs = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', body.group(1)))
    assert int(attrs.get("frames", 0)) >= 1 and attrs.get("hands") == "2", attrs
    assert attrs.get("mesh-values") == str(2 * 778 * 3)  # both hands' vertices decoded from the binary message
    assert re.search(r"frame \d+: 2 hand\(s\)", dom)
