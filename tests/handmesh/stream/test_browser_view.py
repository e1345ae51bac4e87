"""The 3D view in the browser (viser): what a real headless browser shows of it, the newest-frame worker, closing, and
a taken port.

The browser test drives Chromium headless (software WebGL, over the DevTools protocol) to a :class:`BrowserView`
holding the sample clip's hand (its ground-truth mesh and keypoints, and a mirrored copy as a left hand), with every
host but 127.0.0.1 unresolvable, and looks for the sides' colours in screenshots: where the camera saw the hand, and
gone once the same frame comes without hands. It skips where no Chromium or Chrome is installed (CI installs
Debian's ``chromium``).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest

from handmesh.errors import BackendUnavailableError, ConfigError
from handmesh.pipeline.hand import Hand
from handmesh.stream.schema import FrameEvent

pytest.importorskip("viser", reason="the browser view needs viser: pip install 'handmesh[serve]'")

from handmesh.stream.browser_view import LEFT_COLOR, RIGHT_COLOR, BrowserView  # noqa: E402 - after the skip

BROWSERS = ("chromium", "chromium-headless-shell", "chromium-browser", "google-chrome", "google-chrome-stable")
WIDTH, HEIGHT = 1280, 720  # the browser window


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _hand(side: str, vertices: np.ndarray, joints: np.ndarray, faces: np.ndarray, K: np.ndarray) -> Hand:
    """A hand with this mesh and these keypoints (2D projected with ``K``); the rest is filler."""
    z = np.zeros
    joints = np.asarray(joints, np.float32)
    uv = joints[:, :2] / joints[:, 2:] * np.diag(K)[:2] + K[:2, 2]
    box = np.array([*uv.min(0), *uv.max(0)], np.float64)
    return Hand(
        side,  # type: ignore[arg-type]
        1.0,
        box,
        box.copy(),
        np.asarray(vertices, np.float32),
        joints,
        uv.astype(np.float32),
        z(3, np.float32),
        z(45, np.float32),
        z(10, np.float32),
        z((16, 3, 3), np.float32),
        joints[0].copy(),
        np.asarray(K, np.float64),
        np.asarray(faces, np.int32),
    )


def _small_hand(side: str = "right", shift: float = 0.0) -> Hand:
    """A tetrahedron 'mesh' half a metre in front of the camera, with keypoints on a line: enough for the scene."""
    vertices = np.array([[0, 0, 0.5], [0.05, 0, 0.5], [0, 0.05, 0.5], [0, 0, 0.55]], np.float32) + [shift, 0, 0]
    faces = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]], np.int32)
    joints = np.stack([np.linspace(0, 0.1, 21) + shift, np.zeros(21), np.full(21, 0.5)], axis=1)
    return _hand(side, vertices, joints, faces, np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]]))


def _event(index: int, hands: list[Hand], image: np.ndarray | None = None) -> FrameEvent:
    image = np.full((480, 640, 3), 40, np.uint8) if image is None else image
    K = hands[0].K if hands else np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]])
    return FrameEvent(index, index * 33.3, image, K, hands, fps=30.0, latency_ms=12.0)


# ------------------------------------------------------------------------------------------------ unit tests
def test_update_keeps_only_the_newest_event_while_the_worker_is_busy() -> None:
    with BrowserView(port=0) as view:
        release = threading.Event()
        started = threading.Event()
        apply = view._apply

        def slow_apply(event: FrameEvent) -> None:
            if event.index == 0:  # hold the worker on the first frame
                started.set()
                assert release.wait(10)
            apply(event)

        view._apply = slow_apply  # type: ignore[method-assign]
        view.update(_event(0, [_small_hand()]))
        assert started.wait(10)
        hands = [_small_hand("right", shift=0.01 * i) for i in range(1, 5)]
        t = time.perf_counter()
        for i, hand in enumerate(hands, start=1):  # frames 1..4 while frame 0 is being applied
            view.update(_event(i, [hand, _small_hand("left", shift=-0.2)] if i == 4 else [hand]))
        assert time.perf_counter() - t < 0.05  # update never waits for the worker
        release.set()
        assert view.wait_idle(10)
        assert view.shown_index == 4 and view.applied == 2 and view.dropped == 3
        right, left = view._slots
        np.testing.assert_array_equal(right.mesh.vertices, hands[-1].vertices)
        np.testing.assert_array_equal(right.skeleton.points[0, 0], hands[-1].joints[0])
        assert (right.side, left.side) == ("right", "left")
        assert tuple(right.mesh.color) == RIGHT_COLOR and tuple(left.mesh.color) == LEFT_COLOR
        assert view._stats.content == "FPS 30.0 · latency 12 ms · hands 2"


def test_hand_slots_are_reused_and_vanished_hands_removed() -> None:
    with BrowserView(port=0) as view:
        view.update(_event(0, [_small_hand("right"), _small_hand("left", shift=-0.2)]))
        assert view.wait_idle(10)
        right_mesh, left_mesh = (slot.mesh for slot in view._slots)
        # The camera: a frustum with the field of view of K (fy 500) on the 640 x 480 frame, showing it.
        assert view._frustum.fov == pytest.approx(2 * np.arctan(240 / 500))
        assert view._frustum.aspect == pytest.approx(640 / 480)
        assert view._frustum.image.shape == view._picture.image.shape == (240, 320, 3)
        moved = _small_hand("right", shift=0.03)
        view.update(_event(1, [moved]))
        assert view.wait_idle(10)
        (slot,) = view._slots
        assert slot.mesh is right_mesh  # updated in place, not re-added
        np.testing.assert_array_equal(slot.mesh.vertices, moved.vertices)
        assert left_mesh._impl.removed
        view.update(_event(2, [_small_hand("left")]))  # the slot's side changed: new nodes in its colour
        assert view.wait_idle(10)
        (slot,) = view._slots
        assert slot.mesh is not right_mesh and right_mesh._impl.removed and tuple(slot.mesh.color) == LEFT_COLOR
        other = _small_hand("left")
        other.faces = other.faces[:, ::-1].copy()  # another mesh topology on the same side: new nodes again
        view.update(_event(3, [other]))
        assert view.wait_idle(10)
        assert view._slots[0].mesh is not slot.mesh and slot.mesh._impl.removed
        view._opacity.value = 1.0  # the panel: opaque meshes, no skeletons
        view._show_skeleton.value = False
        view._restyle()
        assert view._slots[0].mesh.opacity is None and not view._slots[0].skeleton.visible
        view.update(_event(4, []))
        assert view.wait_idle(10)
        assert view._slots == [] and view._stats.content.endswith("hands 0")


def test_close_is_idempotent_stops_the_worker_and_frees_the_port() -> None:
    port = _free_port()
    view = BrowserView(port=port)
    assert view.port == port and view.url == f"http://127.0.0.1:{port}/"
    view.update(_event(0, [_small_hand()]))
    view.close()
    view.close()
    assert not view._worker.is_alive()
    view.update(_event(1, []))  # ignored once closed
    with socket.socket() as s:  # the port is free again
        s.bind(("127.0.0.1", port))
    with BrowserView(port=port) as again:  # and the context manager closes
        pass
    assert not again._worker.is_alive()


def test_a_taken_port_is_a_clear_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(ConfigError, match=rf"cannot serve the 3D view on 127\.0\.0\.1:{port}: .*another port"):
            BrowserView(port=port)


def test_without_viser_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "viser", None)  # `import viser` raises ImportError
    with pytest.raises(BackendUnavailableError, match=r"pip install 'handmesh\[serve\]'"):
        BrowserView(port=0)


# ------------------------------------------------------------------------------------------ a real browser
def _browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip(f"no headless browser: none of {', '.join(BROWSERS)} is on PATH (apt-get install chromium)")


class _Browser:
    """A headless Chromium driven over the DevTools protocol: it loads a page, waits until the page shows some
    text, lets it draw, and takes a screenshot. Every host but 127.0.0.1 is unresolvable for it; :attr:`requests`
    collects every URL the pages asked for. (Its ``--screenshot`` mode waits on virtual time, which with viser's
    open WebSocket now and then never runs out or runs out before the scene arrives.)"""

    def __init__(self, executable: str, cwd: Path) -> None:
        from websockets.sync.client import connect

        profile = cwd / "profile"
        command = [
            executable,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--use-angle=swiftshader",
            "--enable-unsafe-swiftshader",
            f"--window-size={WIDTH},{HEIGHT}",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-default-apps",
            "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # the page must need nothing from outside
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "about:blank",
        ]
        self.log = cwd / "browser.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(command, cwd=cwd, stdout=log, stderr=log, start_new_session=True)
        self.requests: list[str] = []
        self._id = 0
        try:
            port = self._devtools_port(profile / "DevToolsActivePort")
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            with opener.open(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
                pages = [t for t in json.load(response) if t["type"] == "page"]
            self.ws = connect(pages[0]["webSocketDebuggerUrl"], proxy=None, max_size=None, open_timeout=10)
            self.call("Network.enable")
            self.call("Page.enable")
            self.call(
                "Emulation.setDeviceMetricsOverride", width=WIDTH, height=HEIGHT, deviceScaleFactor=1, mobile=False
            )
        except BaseException:
            self.close()
            raise

    def _devtools_port(self, path: Path, timeout: float = 20.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if path.is_file() and path.read_text().strip():
                return int(path.read_text().split()[0])
            assert self.process.poll() is None, f"the browser exited ({self.process.returncode}):\n{self._log()}"
            time.sleep(0.05)
        pytest.fail(f"the browser did not open its DevTools port in {timeout} s:\n{self._log()}")

    def _log(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def call(self, method: str, timeout: float = 20.0, **params: object) -> dict:
        self._id += 1
        sent = self._id
        self.ws.send(json.dumps({"id": sent, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self.ws.recv(timeout=max(0.01, deadline - time.monotonic())))
            if message.get("method") == "Network.requestWillBeSent":
                self.requests.append(message["params"]["request"]["url"])
            elif message.get("method") == "Network.webSocketCreated":
                self.requests.append(message["params"]["url"])
            elif message.get("id") == sent:
                assert "error" not in message, f"{method}: {message['error']}"
                return message.get("result", {})

    def evaluate(self, expression: str) -> object:
        result = self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        return result["result"].get("value")

    def load(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def wait_for_text(self, text: str, timeout: float = 20.0) -> None:
        """Wait until the page's text contains ``text``."""
        deadline = time.monotonic() + timeout
        while not self.evaluate(f"document.body !== null && document.body.innerText.includes({json.dumps(text)})"):
            assert time.monotonic() < deadline, f"the page did not show {text!r} in {timeout} s"
            time.sleep(0.1)

    def screenshot(self) -> np.ndarray:
        """The page as it is drawn now, ``(HEIGHT, WIDTH, 3)`` BGR."""
        import cv2

        png = base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])
        return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)

    def wait_for_screenshot(self, done: Callable[[np.ndarray], bool], timeout: float = 15.0) -> np.ndarray:
        """Screenshots until one is ``done`` (the scene's WebGL drawing lags the page's text, software WebGL draws a
        frame or two a second) or ``timeout`` seconds passed; the last one."""
        deadline = time.monotonic() + timeout
        while not done(image := self.screenshot()) and time.monotonic() < deadline:
            time.sleep(0.2)
        return image

    def close(self) -> None:
        if getattr(self, "ws", None) is not None:
            self.ws.close()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # the browser and its GPU and renderer processes
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def _side_mask(image_bgr: np.ndarray, color: tuple[int, int, int]) -> np.ndarray:
    """Pixels of the hue of ``color`` (RGB), saturated and not dark: a shaded mesh of that colour."""
    import cv2

    hsv = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2HSV_FULL).astype(np.int32)
    target = int(cv2.cvtColor(np.uint8([[color[::-1]]]), cv2.COLOR_BGR2HSV_FULL)[0, 0, 0])
    hue = np.abs(hsv[..., 0] - target)
    hue = np.minimum(hue, 256 - hue)
    return (hue <= 14) & (hsv[..., 1] >= 90) & (hsv[..., 2] >= 50)


# The 3D viewport without the panel (top right) and the "software WebGL" notice (top left, with an orange bar).
VIEWPORT = (slice(0, HEIGHT), slice(int(0.26 * WIDTH), int(0.72 * WIDTH)))
COLORS = {"right": RIGHT_COLOR, "left": LEFT_COLOR}


def test_a_real_browser_shows_the_hands_where_the_camera_saw_them(tmp_path: Path) -> None:
    import cv2

    from handmesh.app.sources import SAMPLE_CLIP, VideoFileSource
    from handmesh.hand_model import build_hand_model
    from handmesh.synth.video import load_clip

    executable = _browser()
    clip = load_clip(SAMPLE_CLIP)
    source = VideoFileSource(SAMPLE_CLIP)
    frame = source.read().rgb  # type: ignore[union-attr]
    source.close()
    faces = build_hand_model("open", "right").faces.numpy().astype(np.int32)
    right = _hand("right", clip.vertices[0], clip.keypoints3d[0], faces, clip.K)
    mirror = np.array([-1.0, 1.0, 1.0], np.float32)  # the right hand mirrored in the camera's y-z plane: a left hand
    left = _hand("left", clip.vertices[0] * mirror, clip.keypoints3d[0] * mirror, faces[:, ::-1], clip.K)

    def counts(image: np.ndarray) -> dict[str, int]:
        return {side: int(_side_mask(image, color)[VIEWPORT].sum()) for side, color in COLORS.items()}

    browser = _Browser(executable, tmp_path)
    try:
        with BrowserView(port=_free_port()) as view:
            view.update(FrameEvent(0, 0.0, frame, clip.K, [right, left], fps=29.8, latency_ms=21.0))
            assert view.wait_idle(10) and view.shown_index == 0
            browser.load(view.url)
            browser.wait_for_text("FPS 29.8 · latency 21 ms · hands 2")
            shot = browser.wait_for_screenshot(lambda image: min(counts(image).values()) > 3000)
            cv2.imwrite(str(tmp_path / "hands.png"), shot)
            # The same frame without hands, while the page is open.
            view.update(FrameEvent(1, 33.3, frame, clip.K, [], fps=29.8, latency_ms=21.0))
            assert view.wait_idle(10) and view.shown_index == 1
            browser.wait_for_text("hands 0")
            before = counts(shot)
            empty = browser.wait_for_screenshot(
                lambda image: all(n < 0.01 * before[s] for s, n in counts(image).items())
            )
            cv2.imwrite(str(tmp_path / "none.png"), empty)
    finally:
        browser.close()

    assert shot.shape == empty.shape == (HEIGHT, WIDTH, 3)
    masks = {side: _side_mask(shot, color)[VIEWPORT] for side, color in COLORS.items()}
    before = {side: int(mask.sum()) for side, mask in masks.items()}
    assert min(before.values()) > 3000, f"mesh-coloured pixels {before}: the hands are not shown (or a speck)"

    # Seen from the camera, the right hand is where the frame has it, as large: the box around its pixels is the box
    # around its projected vertices (the browser's vertical field of view is the camera's at the hand's depth; the
    # window is wider than the frame, its centre the principal point).
    rows, cols = np.nonzero(masks["right"])
    seen = np.array([*np.percentile(cols + VIEWPORT[1].start, [0.5, 99.5]), *np.percentile(rows, [0.5, 99.5])])
    uv = right.vertices[:, :2] / right.vertices[:, 2:] * np.diag(clip.K)[:2] + clip.K[:2, 2]
    scale = HEIGHT / frame.shape[0]
    x, y = WIDTH / 2 + (uv[:, 0] - clip.K[0, 2]) * scale, HEIGHT / 2 + (uv[:, 1] - clip.K[1, 2]) * scale
    expected = np.array([x.min(), x.max(), y.min(), y.max()])
    assert np.abs(seen - expected).max() < 25, f"hand at x {seen[:2]}, y {seen[2:]}; expected {expected}"
    assert np.median(np.nonzero(masks["left"])[1]) < np.median(cols)  # the mirrored left hand: on the left

    # Once the frame has no hands, no hand colours remain (in a scene still drawn dark, the frame in the panel).
    after = counts(empty)
    assert all(n < 0.01 * before[side] for side, n in after.items()), f"hand-coloured pixels {after} after {before}"
    assert np.mean(empty[VIEWPORT].max(axis=2) < 60) > 0.9, "the viewport is not the dark scene"
    panel = cv2.cvtColor(empty[150:400, int(0.75 * WIDTH) :], cv2.COLOR_BGR2HSV)
    assert np.mean(panel[..., 1] > 80) > 0.2, "no colourful frame in the panel"

    # Everything the page asked for came from this server (with every other host unresolvable, it showed all of the
    # above). Its WebSocket, opened by a worker, is not in this list; a net log shows it goes to the same address.
    origin = view.url.split("/")[2]
    assert view.url in browser.requests, browser.requests
    fetched = [urlsplit(r.removeprefix("blob:")) for r in browser.requests]  # data: URLs carry their content
    assert all(u.netloc == origin for u in fetched if u.scheme in ("http", "https", "ws", "wss")), browser.requests
