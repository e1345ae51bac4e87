"""A 3D view of the live hands in the browser (viser): open ``http://127.0.0.1:8080/`` while it runs.

What it shows, on a dark background, in the camera frame of the input (metres; x right, y down, z forward):

* each hand's mesh, coloured by side (right hands :data:`RIGHT_COLOR` orange, left hands :data:`LEFT_COLOR` blue),
  see-through enough to show its 21-keypoint skeleton inside, drawn in the per-finger colours of the 2D overlay;
* the camera as a 10 cm frustum at the origin, with the field of view and aspect of ``K`` and the image size,
  showing the frame;
* a panel with ``FPS x · latency y ms · hands n``, checkboxes for the meshes and skeletons, a mesh opacity slider
  (1 makes them opaque) and the frame, downscaled to 320 pixels wide (picture-in-picture).

A browser that connects (or presses "Reset View") starts at the real camera, looking along +z with -y up, so it
first sees the hands where the camera saw them (from just in front of the camera's frustum, with the field of view
widened to match at the hands' depth); drag to orbit around them, scroll to zoom. The page and everything it loads
come from this server (viser ships its built client; no fonts, scripts or maps from the internet), so it works
offline.

    from handmesh.stream.browser_view import BrowserView
    with BrowserView(port=8080) as view:             # http://127.0.0.1:8080/
        view.update(event)                           # a FrameEvent per processed frame; returns at once

``handmesh-serve`` starts one on its own port. :meth:`BrowserView.update` only keeps the newest event; a worker
thread applies it to the scene, so a slow browser or a busy machine drops frames (counted in
:attr:`BrowserView.dropped`) and never slows the pipeline. viser is imported when a view starts (``pip install
'handmesh[serve]'``).
"""

from __future__ import annotations

import logging
import math
import socket
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from handmesh.errors import BackendUnavailableError, ConfigError
from handmesh.render.draw import HAND_BONES, KEYPOINT_COLORS
from handmesh.stream.schema import FrameEvent
from handmesh.utils.closing import Closing

__all__ = ["DEFAULT_PORT", "LEFT_COLOR", "RIGHT_COLOR", "BrowserView"]

DEFAULT_PORT = 8080
RIGHT_COLOR: tuple[int, int, int] = (255, 110, 30)
"""RGB of right hands' meshes (saturated orange; the 2D renderer's right hands are warm too)."""
LEFT_COLOR: tuple[int, int, int] = (30, 130, 255)
"""RGB of left hands' meshes (saturated blue)."""
MESH_OPACITY = 0.7  # see-through enough for the skeleton inside; the panel's slider changes it
PICTURE_WIDTH = 320  # pixels: the frame in the panel and on the frustum
FRUSTUM_DEPTH = 0.1  # metres from the camera to the frustum's picture
DEFAULT_LOOK_DEPTH = 0.5  # metres: where the view looks before it has seen a hand
_BONES = np.array(HAND_BONES, dtype=np.int64)
_BONE_COLORS = np.repeat(KEYPOINT_COLORS[_BONES[:, 1]][:, None, :], 2, axis=1)  # (20, 2, 3): the child's colour

log = logging.getLogger(__name__)


@dataclass
class _Slot:
    """The scene nodes of one hand slot (the k-th hand of a frame)."""

    side: str
    faces: np.ndarray
    mesh: Any
    skeleton: Any


def _bind_error(host: str, port: int) -> OSError | None:
    """Why ``host:port`` cannot be listened on (as the server would bind it), or None when it can."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as e:
        return e
    for family, kind, proto, _, address in infos:
        with socket.socket(family, kind, proto) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # what asyncio's servers set
            try:
                s.bind(address)
            except OSError as e:
                return e
    return None


def _picture(image: np.ndarray, width: int = PICTURE_WIDTH) -> np.ndarray:
    """``image`` downscaled to ``width`` pixels wide (never upscaled), contiguous uint8 RGB."""
    import cv2

    h, w = image.shape[:2]
    if w > width:
        image = cv2.resize(image, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(image, dtype=np.uint8)


class BrowserView(Closing):
    """The hands in 3D in a browser tab: a viser server and a worker thread that applies the newest frame to it.

    Args:
        host: the address to listen on. Default: ``"127.0.0.1"`` (this machine only; ``"0.0.0.0"`` opens it to the
            network).
        port: the HTTP/WebSocket port; 0 picks a free one (see :attr:`port`). Default: 8080.

    Attributes:
        url: where to point the browser, ``http://host:port/``.
        port: the port it listens on.
        applied: frames applied to the scene so far.
        dropped: frames replaced by a newer one before they were applied.
        shown_index: :attr:`FrameEvent.index` of the frame the scene shows (None before the first).

    Raises:
        BackendUnavailableError: viser is not installed.
        ConfigError: the port is taken or the address cannot be used (the message names them).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
        try:
            import viser
        except ImportError as e:
            raise BackendUnavailableError(
                f"the browser view needs viser, which is not installed ({e}): pip install 'handmesh[serve]'"
            ) from None
        if port != 0:  # viser would quietly move to the next free port; say it instead
            error = _bind_error(host, port)
            if error is not None:
                raise ConfigError(
                    f"cannot serve the 3D view on {host}:{port}: {error.strerror or error} (is another server "
                    "running there? choose another port)"
                ) from error
        self.host = host
        self._server = viser.ViserServer(host=host, port=port, label="handmesh", verbose=False)
        self.port = int(self._server.get_port())
        if port != 0 and self.port != port:  # taken between the check and viser's bind
            self._server.stop()
            raise ConfigError(f"cannot serve the 3D view on {host}:{port}: the port is taken (choose another port)")
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        self.url = f"http://[{shown}]:{self.port}/" if ":" in shown else f"http://{shown}:{self.port}/"

        self.applied = 0
        self.dropped = 0
        self.shown_index: int | None = None
        self._cond = threading.Condition()
        self._pending: FrameEvent | None = None
        self._busy = False
        self._closed = False
        self._failures = 0
        self._scene_lock = threading.Lock()  # the slots, between the worker and the panel's checkboxes
        self._slots: list[_Slot] = []
        self._geometry: tuple[int, int, tuple[float, ...]] | None = None  # (width, height, K) the frustum shows
        self._look_depth: float | None = None  # set from the first hands seen
        self._frustum: Any = None
        self._picture: Any = None
        try:
            self._setup_scene()
        except BaseException:
            self._server.stop()
            raise
        self._worker = threading.Thread(target=self._work, name="handmesh-browser-view", daemon=True)
        self._worker.start()

    # ------------------------------------------------------------------ the pipeline's side (any thread)

    def update(self, event: FrameEvent) -> None:
        """Show ``event`` next; returns at once. An event not yet applied when a newer one arrives is dropped (and
        counted in :attr:`dropped`). Do not modify the event's arrays afterwards. Ignored after :meth:`close`."""
        with self._cond:
            if self._closed:
                return
            if self._pending is not None:
                self.dropped += 1
            self._pending = event
            self._cond.notify()

    publish = update  # the live loop hands every publisher (this view, the stream) the same event

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until every event given to :meth:`update` was applied or dropped; False after ``timeout`` seconds."""
        with self._cond:
            return self._cond.wait_for(lambda: self._closed or (self._pending is None and not self._busy), timeout)

    def close(self) -> None:
        """Stop the worker and the server (idempotent); connected browsers lose the connection."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._pending = None
            self._cond.notify_all()
        self._worker.join(timeout=10)
        self._server.stop()

    # ------------------------------------------------------------------ the worker's side

    def _work(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._closed or self._pending is not None)
                if self._closed:
                    return
                event, self._pending = self._pending, None
                self._busy = True
            try:
                self._apply(event)
                self.applied += 1
                self.shown_index = int(event.index)
            except Exception:  # noqa: BLE001 - one bad frame must not stop the view; say so once
                self._failures += 1
                if self._failures == 1:
                    log.exception(
                        "the browser view could not show frame %s (later failures are not logged)", event.index
                    )
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _setup_scene(self) -> None:
        server = self._server
        # No share button: viser's sharing relays the page through a server on the internet.
        server.gui.configure_theme(dark_mode=True, show_share_button=False)
        server.scene.set_up_direction("-y")  # the camera frame: y down, so orbiting keeps the image's up
        server.initial_camera.up = (0.0, -1.0, 0.0)
        self._set_initial_camera(480, 500.0, DEFAULT_LOOK_DEPTH)  # a webcam's, until the first frame
        self._stats = server.gui.add_markdown("FPS – · latency – ms · hands 0")
        self._show_mesh = server.gui.add_checkbox("Mesh", initial_value=True)
        self._show_skeleton = server.gui.add_checkbox("Skeleton", initial_value=True)
        self._opacity = server.gui.add_slider("Mesh opacity", min=0.1, max=1.0, step=0.05, initial_value=MESH_OPACITY)
        for control in (self._show_mesh, self._show_skeleton, self._opacity):
            control.on_update(lambda _: self._restyle())

    def _set_initial_camera(self, height: int, fy: float, depth: float) -> None:
        """Where a connecting browser (and "Reset View") starts: just in front of the camera (its frustum would
        hide everything from the origin itself), looking along +z at ``depth``, with the field of view widened so
        that at ``depth`` it shows what the camera saw there."""
        ahead = 1.2 * FRUSTUM_DEPTH
        depth = max(depth, 2 * ahead)
        half = math.atan(height / 2 / fy * depth / (depth - ahead))
        camera = self._server.initial_camera
        camera.fov = 2 * half
        camera.position = (0.0, 0.0, ahead)
        camera.look_at = (0.0, 0.0, depth)

    def _mesh_opacity(self) -> float | None:
        value = float(self._opacity.value)
        return None if value >= 0.999 else value  # None: opaque (no blending, no sorting artefacts)

    def _restyle(self) -> None:
        """Apply the panel's checkboxes and slider to the hands shown (a GUI callback thread)."""
        with self._scene_lock:
            for slot in self._slots:
                slot.mesh.visible = bool(self._show_mesh.value)
                slot.mesh.opacity = self._mesh_opacity()
                slot.skeleton.visible = bool(self._show_skeleton.value)

    def _apply(self, event: FrameEvent) -> None:
        """Make the scene show ``event`` (the worker thread)."""
        server = self._server
        image = np.asarray(event.image)
        height, width = image.shape[:2]
        K = np.asarray(event.K, dtype=np.float64)
        picture = _picture(image)
        hands = list(event.hands)
        with server.atomic(), self._scene_lock:
            geometry = (int(width), int(height), tuple(np.round(K.ravel(), 4).tolist()))
            if geometry != self._geometry:
                self._set_camera(width, height, K, picture)
                self._geometry = geometry
            else:
                self._frustum.image = picture
            if self._picture is None:
                self._picture = server.gui.add_image(picture, label="camera", jpeg_quality=80)
            else:
                self._picture.image = picture
            if hands and self._look_depth is None:
                self._look_depth = float(np.clip(np.mean([np.mean(h.joints[:, 2]) for h in hands]), 0.2, 3.0))
                self._set_initial_camera(height, float(K[1, 1]), self._look_depth)
            for k, hand in enumerate(hands):
                self._show_hand(k, hand)
            for slot in self._slots[len(hands) :]:
                slot.mesh.remove()
                slot.skeleton.remove()
            del self._slots[len(hands) :]
            self._stats.content = f"FPS {event.fps:.1f} · latency {event.latency_ms:.0f} ms · hands {len(hands)}"

    def _set_camera(self, width: int, height: int, K: np.ndarray, picture: np.ndarray) -> None:
        """The frustum of a ``width`` x ``height`` camera with intrinsics ``K`` at the origin (re-made when they
        change)."""
        fx, fy = float(K[0, 0]), float(K[1, 1])
        fov = 2 * math.atan(height / 2 / fy)
        aspect = (width / fx) / (height / fy)
        # viser normalises the frustum's volume and multiplies it by `scale`; this scale puts the picture
        # FRUSTUM_DEPTH in front of the camera.
        half_h = math.tan(fov / 2)
        scale = FRUSTUM_DEPTH * (half_h * half_h * aspect / 3) ** (1 / 3)
        if self._frustum is not None:
            self._frustum.remove()
        self._frustum = self._server.scene.add_camera_frustum(
            "/camera",
            fov=fov,
            aspect=aspect,
            scale=scale,
            thickness=2.0,
            thickness_units="screen",
            color=(190, 190, 190),  # light lines on the dark background
            image=picture,
            jpeg_quality=80,
            cast_shadow=False,
            receive_shadow=False,
        )
        self._set_initial_camera(height, fy, self._look_depth or DEFAULT_LOOK_DEPTH)

    def _show_hand(self, k: int, hand: Any) -> None:
        """Put ``hand`` in slot ``k``: new vertices and bones into the slot's nodes, or new nodes when the slot is
        new or its side or mesh topology changed."""
        vertices = np.asarray(hand.vertices, dtype=np.float32)
        faces = np.asarray(hand.faces, dtype=np.int32)
        side = str(hand.handedness)
        bones = np.asarray(hand.joints, dtype=np.float32)[_BONES]  # (20, 2, 3)
        if k < len(self._slots):
            slot = self._slots[k]
            same = slot.faces is faces or np.array_equal(slot.faces, faces)  # the pipeline shares one array per side
            if slot.side == side and same and len(slot.mesh.vertices) == len(vertices):
                slot.mesh.vertices = vertices
                slot.skeleton.points = bones
                return
            slot.mesh.remove()
            slot.skeleton.remove()
        scene = self._server.scene
        mesh = scene.add_mesh_simple(
            f"/hands/{k}/mesh",
            vertices,
            faces,
            color=RIGHT_COLOR if side == "right" else LEFT_COLOR,
            opacity=self._mesh_opacity(),
            cast_shadow=False,
            receive_shadow=False,
            visible=bool(self._show_mesh.value),
        )
        skeleton = scene.add_line_segments(
            f"/hands/{k}/skeleton",
            bones,
            _BONE_COLORS,
            thickness=3.0,
            thickness_units="screen",
            visible=bool(self._show_skeleton.value),
        )
        slot = _Slot(side, faces, mesh, skeleton)
        if k < len(self._slots):
            self._slots[k] = slot
        else:
            self._slots.append(slot)
