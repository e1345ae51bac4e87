"""The live demo behind ``handmesh-demo``: frames in, meshes drawn, FPS and per-stage times on screen.

:func:`run_demo` takes a :class:`DemoOptions` (what the command-line flags set) and returns a :class:`DemoResult`
with the frame count, the end-to-end FPS and the per-stage timings. Without a source it uses camera 0 when a display
and a camera are there, and otherwise (a server, a container, CI) the sample clip shipped with the package, headless,
writing the overlay video to ``outputs/demo.mp4``.

Keys in the window: ``q`` or ``Esc`` quit, ``m`` mesh on/off, ``s`` skeleton on/off, ``space`` pause.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from handmesh.app.hud import draw_hud, hud_lines
from handmesh.app.window import WINDOW, Viewer3D, display_available
from handmesh.errors import BackendUnavailableError, ConfigError, DataError
from handmesh.pipeline.timing import StageTimer

DEFAULT_HEADLESS_OUTPUT = Path("outputs") / "demo.mp4"


@dataclass
class DemoOptions:
    """What to run (the ``handmesh-demo`` flags; see ``handmesh-demo --help``).

    Attributes:
        camera, video, images: the frame source, at most one. None of them: camera 0 with a display, else the
            shipped sample clip.
        output: a ``.mp4`` file or a folder for PNG frames. Default: None (none; ``outputs/demo.mp4`` when
            running headless without a source).
        display: show a window; None decides by whether a display is available. Default: None.
        max_frames: stop after this many frames. Default: None (the whole source).
        checkpoint, backend, device, threads, hand_model, max_hands, detector, hand_landmarker: passed to
            :func:`handmesh.load`.
        mode: ``"image"`` or ``"video"``; None: image for an image folder, video otherwise. Default: None.
        refine: ``"landmarks"`` (fit the hand model to the detector's landmarks) or ``"none"`` (the network alone),
            passed to :func:`handmesh.load`. Default: ``"landmarks"``.
        mirror: show and write the picture mirrored (a selfie view); the hands are computed on the camera's real
            image, so handedness and 3D stay the person's. Default: False.
        save_mesh: folder for each frame's meshes. Default: None.
        mesh_format: ``"obj"`` or ``"ply"``. Default: ``"obj"``.
        view3d: an open3d window with the meshes in 3D (needs open3d and a display). Default: False.
        mesh, skeleton: what to draw at the start (``m`` and ``s`` toggle them). Default: mesh only.
        hud: draw FPS and per-stage times on the picture. Default: True.
        camera_size: ``(W, H)`` to ask the camera for. Default: None (its default).
        serve: stream every frame's hands over WebSocket on this port (:class:`~handmesh.stream.HandStream`).
            Default: None (no stream).
        host: the address the stream and the browser view listen on. Default: ``"127.0.0.1"`` (this machine).
        token: a token stream clients must send (``?token=...``). Default: None.
        stream_meshes: send the binary mesh messages. Default: True.
        view_port: serve the 3D browser view (:class:`~handmesh.stream.browser_view.BrowserView`) on this port.
            Default: None (none).
    """

    camera: int | None = None
    video: Path | None = None
    images: Path | None = None
    output: Path | None = None
    display: bool | None = None
    max_frames: int | None = None
    checkpoint: Path | None = None
    backend: str = "auto"
    device: str = "auto"
    threads: int | None = None
    hand_model: str | None = None
    max_hands: int = 2
    detector: str = "mediapipe"
    hand_landmarker: Path | None = None
    mode: str | None = None
    refine: str = "landmarks"
    mirror: bool = False
    save_mesh: Path | None = None
    mesh_format: str = "obj"
    view3d: bool = False
    mesh: bool = True
    skeleton: bool = False
    hud: bool = True
    camera_size: tuple[int, int] | None = None
    serve: int | None = None
    host: str = "127.0.0.1"
    token: str | None = None
    stream_meshes: bool = True
    view_port: int | None = None


@dataclass
class DemoResult:
    """What a run did.

    Attributes:
        frames: frames processed (and written, when there is an output).
        seconds: wall-clock time of the loop.
        timings: per-stage times (capture, detect, crop, network, fit, hand_model, render).
        source: the source's name.
        output: the video or folder written, or None.
        mesh_files: mesh files written.
        skipped: bad frames skipped.
        stopped: why the loop ended (``"end of source"``, ``"max frames"``, ``"quit"``, or the camera-lost message).
        hands_per_frame: hands returned per processed frame.
        latency_ms: per processed frame, milliseconds from handing it to the estimator to its picture being
            drawn (capture excluded).
    """

    frames: int
    seconds: float
    timings: StageTimer
    source: str
    output: Path | None = None
    mesh_files: int = 0
    skipped: int = 0
    stopped: str = "end of source"
    hands_per_frame: list[int] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)

    @property
    def fps(self) -> float:
        """End-to-end frames per second (capture to written output)."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def report(self) -> str:
        """The summary printed at the end."""
        means = self.timings.means()
        per_stage = "  ".join(f"{k} {v:.1f}" for k, v in means.items())
        lines = [
            f"{self.frames} frames from {self.source} in {self.seconds:.1f} s: {self.fps:.1f} FPS end to end "
            f"({self.stopped})",
            f"per stage, mean ms: {per_stage or 'none'}",
        ]
        if self.latency_ms:
            lines.append(
                f"latency from frame to drawn picture: median {float(np.median(self.latency_ms)):.1f} ms "
                "(one frame is detected while the previous one is drawn)"
            )
        if self.hands_per_frame:
            found = sum(1 for n in self.hands_per_frame if n)
            lines.append(f"hands found in {found} of {len(self.hands_per_frame)} frames")
        if self.skipped:
            lines.append(f"skipped {self.skipped} bad frame(s)")
        if self.output is not None:
            lines.append(f"wrote {self.output}")
        if self.mesh_files:
            lines.append(f"wrote {self.mesh_files} mesh files")
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------------------- the loop
def _open_source(opts: DemoOptions, display: bool, log: Callable[[str], None]) -> tuple[Any, bool]:
    """The frame source and whether it is the fallback sample clip."""
    from handmesh.app.sources import SAMPLE_CLIP, CameraSource, VideoFileSource, open_source

    camera_kw: dict[str, Any] = {}
    if opts.camera_size:
        camera_kw = {"width": opts.camera_size[0], "height": opts.camera_size[1]}
    if opts.camera is not None or opts.video is not None or opts.images is not None:
        return open_source(opts.camera, opts.video, opts.images, **camera_kw), False
    if display:
        try:
            return CameraSource(0, **camera_kw), False
        except BackendUnavailableError as e:
            log(f"handmesh-demo: {str(e).split(';')[0]}; running on the sample clip instead")
    else:
        log(f"handmesh-demo: no source given and no display: running headless on the shipped sample clip {SAMPLE_CLIP}")
    return VideoFileSource(SAMPLE_CLIP), True


def _check_output(output: Path | None, flag: str = "--output", video_allowed: bool = True) -> None:
    """Refuse an output that cannot be written, before anything is loaded (a whole run used to be lost to a
    traceback at the end): neither a ``.mp4`` nor a folder, a ``.mp4`` that is a folder, a path below a file, or a
    folder this process may not write into."""
    from handmesh.app.sinks import is_video_path

    if output is None:
        return
    out = Path(output)
    video = video_allowed and is_video_path(out)
    if video_allowed and not video and out.suffix and not out.is_dir():
        raise ConfigError(f"{flag} {out}: expected a .mp4 file or a folder for PNG frames")
    if video and out.is_dir():
        raise ConfigError(f"{flag} {out}: is a folder; name a .mp4 file (or drop .mp4 to write PNG frames there)")
    if not video and out.exists() and not out.is_dir():
        raise ConfigError(f"{flag} {out}: is a file; expected a folder")
    parent = out.parent if video else out
    while not parent.exists() and parent != parent.parent:  # the folders to be made must go below a folder
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"{flag} {out}: {parent} is a file, so nothing can be written below it")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{flag} {out}: {parent} is not writable")


@dataclass
class _Outputs:
    """Where each processed frame goes besides the window: the overlay video or PNGs, the mesh files, the open3d
    window, and the publishers (the hand stream, the browser view)."""

    sink: Any = None
    mesh_sink: Any = None
    viewer: Viewer3D | None = None
    publishers: list[Any] = field(default_factory=list)


def _make_sink(output: Path | None, fps: float) -> Any:
    """The sink for an output :func:`_check_output` has accepted (or the headless default), or None."""
    from handmesh.app.sinks import ImageDirSink, VideoSink, is_video_path

    if output is None:
        return None
    return VideoSink(output, fps) if is_video_path(output) else ImageDirSink(output)


def run_demo(
    opts: DemoOptions, *, estimator: Any = None, source: Any = None, log: Callable[[str], None] = print
) -> DemoResult:
    """Run the demo loop until the source ends, ``max_frames`` is reached or the user quits.

    Args:
        opts: what to run.
        estimator: a ready :class:`~handmesh.pipeline.estimator.HandEstimator` (tests); by default one is loaded
            from ``opts`` with :func:`handmesh.load`.
        source: a ready frame source (tests); by default the one ``opts`` names.
        log: where progress messages go. Default: ``print``.

    Returns:
        :class:`DemoResult`.
    """
    import cv2

    if opts.max_frames is not None and opts.max_frames < 1:
        raise ConfigError(f"--max-frames must be >= 1, got {opts.max_frames}")
    _check_output(opts.output)
    _check_output(opts.save_mesh, "--save-mesh", video_allowed=False)
    if opts.camera is not None and opts.camera < 0:
        raise ConfigError(f"--camera {opts.camera}: camera indices start at 0")
    display = False if opts.display is False else display_available()
    if opts.display and not display:
        log("handmesh-demo: no display available; running headless")
    fallback = False
    if source is None:
        source, fallback = _open_source(opts, display, log)
    if fallback:
        display = False
    output = opts.output
    if output is None and fallback and not display:
        output = DEFAULT_HEADLESS_OUTPUT
    out = _Outputs()
    own_estimator = estimator is None
    kept: Path | None = None
    try:
        out.viewer = Viewer3D() if opts.view3d else None
        out.publishers = _open_publishers(opts, log)
        if estimator is None:
            from handmesh.api import load

            mode = opts.mode or ("image" if opts.images is not None else "video")
            estimator = load(
                opts.checkpoint,
                backend=opts.backend,
                hand_model=opts.hand_model,
                mode=mode,  # type: ignore[arg-type]
                max_hands=opts.max_hands,
                device=opts.device,
                threads=opts.threads,
                detector=opts.detector,
                hand_landmarker=opts.hand_landmarker,
                refine=opts.refine,  # type: ignore[arg-type]
            )
            log(f"handmesh-demo: {estimator.describe()}")
        out.sink = _make_sink(output, getattr(source, "fps", 30.0))
        if opts.save_mesh is not None:
            from handmesh.app.sinks import MeshSink

            out.mesh_sink = MeshSink(opts.save_mesh, opts.mesh_format)
        estimator.timings.reset()
        result = DemoResult(frames=0, seconds=0.0, timings=estimator.timings, source=str(source.name))
        t_start = time.perf_counter()
        try:
            result.stopped = _loop(opts, estimator, source, out, display, result, log)
        except KeyboardInterrupt:  # Ctrl-C ends a live run like q does: what was written is kept
            result.stopped = "interrupted"
        result.seconds = time.perf_counter() - t_start
        result.skipped += int(getattr(source, "skipped", 0))  # undecodable frames or files the source passed over
        if out.sink is not None:
            kept = out.sink.close(keep=True)
            out.sink = None
        result.output = kept
        result.mesh_files = out.mesh_sink.files if out.mesh_sink is not None else 0
        return result
    finally:
        if out.sink is not None:
            out.sink.close(keep=False)
        source.close()
        if own_estimator and estimator is not None:
            estimator.close()
        if out.viewer is not None:
            out.viewer.close()
        for publisher in out.publishers:
            publisher.close()
        if display:
            cv2.destroyAllWindows()


def _loop(
    opts: DemoOptions,
    estimator: Any,
    source: Any,
    out: _Outputs,
    display: bool,
    result: DemoResult,
    log: Callable[[str], None],
) -> str:
    """Process frames until the source ends, ``max_frames`` or a quit; returns why it stopped.

    One frame is kept in flight: the detector works on frame t+1 (:meth:`HandEstimator.submit`) while frame t is
    estimated, drawn and written, so the landmarker and the rest use both cores. Frames are shown in order."""
    import cv2

    timer: StageTimer = estimator.timings
    state = {"mesh": opts.mesh, "skeleton": opts.skeleton, "paused": False}
    ticker = {"fps": 0.0, "t_prev": time.perf_counter()}
    shown = False
    pending: tuple[Any, Any] | None = None  # (source frame, PendingFrame)
    submitted = 0
    while True:
        if state["paused"] and shown:
            if _handle_key(cv2.waitKey(50) & 0xFF, state):
                return "quit"
            continue
        frame = None
        if opts.max_frames is None or submitted < opts.max_frames:
            try:
                frame = source.read()
            except KeyboardInterrupt:  # Ctrl-C: the frame already in flight is still drawn and written
                if pending is not None:
                    _finish(opts, estimator, pending, out, display, result, state, ticker)
                raise
        handle = None
        if frame is not None:
            timer.record("capture", frame.capture_ms)
            try:
                handle = estimator.submit(frame.rgb, timestamp_ms=frame.timestamp_ms)
                submitted += 1
            except DataError as e:  # a bad frame (empty, wrong layout): skip it, keep going
                result.skipped += 1
                warnings.warn(f"skipped {frame.name}: {e}", stacklevel=3)
        if pending is not None:
            outcome = _finish(opts, estimator, pending, out, display, result, state, ticker)
            pending = None
            if outcome == "quit":
                return "quit"
            shown = shown or display
        if handle is not None:
            pending = (frame, handle)
        elif frame is None:
            if opts.max_frames is not None and submitted >= opts.max_frames:
                return "max frames"
            lost = getattr(source, "lost", None)
            if lost:
                log(f"handmesh-demo: {lost}; stopping")
            return lost or "end of source"


def _finish(
    opts: DemoOptions,
    estimator: Any,
    pending: tuple[Any, Any],
    out: _Outputs,
    display: bool,
    result: DemoResult,
    state: dict[str, bool],
    ticker: dict[str, float],
) -> str | None:
    """Estimate, draw, write and show one submitted frame; ``"quit"`` when the user asked to stop."""
    import cv2

    frame, handle = pending
    try:
        hands = estimator.collect(handle)
    except DataError as e:
        result.skipped += 1
        warnings.warn(f"skipped {frame.name}: {e}", stacklevel=3)
        return None
    picture = estimator.render(handle.frame, hands, mesh=state["mesh"], skeleton=state["skeleton"])
    if opts.mirror:
        picture = np.ascontiguousarray(picture[:, ::-1])
    now = time.perf_counter()
    dt, ticker["t_prev"] = now - ticker["t_prev"], now
    ticker["fps"] = 1.0 / max(dt, 1e-6) if ticker["fps"] == 0.0 else 0.9 * ticker["fps"] + 0.1 / max(dt, 1e-6)
    result.latency_ms.append((now - handle.submitted) * 1e3)
    if out.publishers:
        from handmesh.stream.schema import FrameEvent

        event = FrameEvent(
            result.frames, handle.timestamp_ms, handle.frame, handle.K, hands, ticker["fps"], result.latency_ms[-1]
        )
        for publisher in out.publishers:
            publisher.publish(event)
    if opts.hud:
        draw_hud(picture, hud_lines(ticker["fps"], estimator.timings, hands, state, keys=display))
    if out.sink is not None:
        out.sink.write(picture, frame.name)
    if out.mesh_sink is not None:
        out.mesh_sink.write(hands, frame.name)
    result.frames += 1
    result.hands_per_frame.append(len(hands))
    if out.viewer is not None and not out.viewer.update(hands):
        return "quit"
    if display:
        cv2.imshow(WINDOW, picture[..., ::-1])
        if _handle_key(cv2.waitKey(1) & 0xFF, state):
            return "quit"
    return None


def _open_publishers(opts: DemoOptions, log: Callable[[str], None]) -> list[Any]:
    """The hand stream and the browser view that ``opts`` asks for (each started, its address logged)."""
    publishers: list[Any] = []
    try:
        if opts.serve is not None:
            from handmesh.stream.server import HandStream

            stream = HandStream(opts.host, opts.serve, token=opts.token, meshes=opts.stream_meshes)
            publishers.append(stream)
            log(f"handmesh-demo: streaming hands at {stream.url} (a web client: {stream.page_url})")
        if opts.view_port is not None:
            from handmesh.stream.browser_view import BrowserView

            view = BrowserView(opts.host, opts.view_port)
            publishers.append(view)
            log(f"handmesh-demo: the 3D view is at {view.url}")
    except BaseException:
        for publisher in publishers:
            publisher.close()
        raise
    return publishers


def _handle_key(key: int, state: dict[str, bool]) -> bool:
    """Apply a key press to ``state``; True means quit."""
    if key in (ord("q"), 27):
        return True
    if key == ord("m"):
        state["mesh"] = not state["mesh"]
    elif key == ord("s"):
        state["skeleton"] = not state["skeleton"]
    elif key == ord(" "):
        state["paused"] = not state["paused"]
    return False
