"""``handmesh-demo``: hands found in live frames, a mesh drawn on each, FPS and per-stage times on screen.

    handmesh-demo --camera 0                                   # a webcam, in a window
    handmesh-demo                                              # camera 0 with a display; else the sample clip,
                                                               # headless, writing outputs/demo.mp4
    handmesh-demo --video clip.mp4 --output out.mp4 --no-display
    handmesh-demo --images photos/ --output overlays/ --save-mesh meshes/
    handmesh-demo --setup-detector                             # build the offline MediaPipe bundle once
    handmesh-demo --camera 0 --serve 8765                      # also stream the hands over WebSocket

Keys: q or Esc quit, m mesh on/off, s skeleton on/off, space pause.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from handmesh.cli._common import user_errors_exit
from handmesh.runtime.loader import BACKENDS

DEMO_DESCRIPTION = (
    "Live 3D hand meshes: detect hands, recover their meshes and draw them, with FPS and per-stage times. Without a "
    "source: camera 0 when there is a display, else the sample clip shipped with the package (headless, writing "
    "outputs/demo.mp4). Keys: q/Esc quit, m mesh, s skeleton, space pause."
)


def build_parser(
    prog: str = "handmesh-demo", description: str = DEMO_DESCRIPTION, serving: bool = False
) -> argparse.ArgumentParser:
    """The argument parser (kebab-case flags); ``serving`` gives the stream flags the defaults of
    ``handmesh-serve`` (stream and browser view on, no window unless --display)."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    src = p.add_argument_group("source (at most one)").add_mutually_exclusive_group()
    src.add_argument("--camera", type=int, metavar="N", help="camera index (0 is the first camera)")
    src.add_argument("--video", type=Path, metavar="PATH", help="a video file, every frame in order")
    src.add_argument("--images", type=Path, metavar="DIR", help="a folder of images, in name order")
    out = p.add_argument_group("output")
    out.add_argument(
        "--output",
        type=Path,
        metavar="OUT",
        help="write the overlay: a .mp4 file (written atomically) or a folder for PNG frames",
    )
    if serving:  # no window unless asked for
        out.add_argument("--display", action="store_true", help="also show the picture in a window")
    else:  # a window when there is a display
        out.add_argument(
            "--no-display", dest="display", action="store_false", default=None, help="no window (headless)"
        )
    out.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames")
    out.add_argument("--save-mesh", type=Path, metavar="DIR", help="write each frame's hand meshes into DIR")
    out.add_argument(
        "--mesh-format", choices=("obj", "ply"), default="obj", help="file format of --save-mesh (default: obj)"
    )
    out.add_argument("--view3d", action="store_true", help="also show the meshes in an open3d window (needs open3d)")
    out.add_argument(
        "--mirror",
        action="store_true",
        help="show and write a mirror image (selfie view); hands are computed on the real image",
    )
    out.add_argument("--skeleton", action="store_true", help="draw the 21-keypoint skeleton from the start")
    out.add_argument("--no-mesh", action="store_true", help="start with the mesh hidden (m shows it)")
    out.add_argument("--no-hud", action="store_true", help="no FPS / timing text on the picture")
    net = p.add_argument_group("network")
    net.add_argument(
        "--checkpoint",
        type=Path,
        metavar="PATH",
        help="a handmesh checkpoint or exported model (default: the weights shipped with the package)",
    )
    net.add_argument(
        "--backend",
        default="auto",
        choices=("auto", *BACKENDS),
        help="network runtime (default: auto, the fastest available)",
    )
    net.add_argument("--device", default="auto", help="device for PyTorch backends: auto, cpu, cuda, mps")
    net.add_argument("--threads", type=int, metavar="N", help="CPU threads for the network")
    net.add_argument(
        "--hand-model",
        choices=("open", "mano"),
        default=None,
        help="hand model of the drawn mesh (default: the one the network was trained with)",
    )
    net.add_argument("--max-hands", type=int, default=2, metavar="N", help="most hands per frame (default: 2)")
    net.add_argument(
        "--mode",
        choices=("image", "video"),
        default=None,
        help="image: frames independent; video: tracking and smoothing (default: image for --images, video otherwise)",
    )
    net.add_argument(
        "--refine",
        choices=("landmarks", "none"),
        default="landmarks",
        help="landmarks: fit the hand model to MediaPipe's 21 landmarks with the network's prediction "
        "as prior (meshes that follow real fingers); none: the network alone (default: landmarks)",
    )
    _add_stream_arguments(p, serving)
    det = p.add_argument_group("detection")
    det.add_argument(
        "--detector",
        choices=("mediapipe", "none"),
        default="mediapipe",
        help="mediapipe: MediaPipe HandLandmarker (offline bundle); none: the centred square of the "
        "frame is the hand (default: mediapipe)",
    )
    det.add_argument(
        "--hand-landmarker",
        type=Path,
        metavar="PATH",
        help="a hand_landmarker .task bundle (default: the one built by --setup-detector)",
    )
    det.add_argument(
        "--setup-detector",
        action="store_true",
        help="build the offline MediaPipe bundle (pip fetches the mediapipe 0.10.21 wheel once) and exit",
    )
    return p


def _add_stream_arguments(p: argparse.ArgumentParser, serving: bool) -> None:
    from handmesh.stream.server import DEFAULT_PORT

    s = p.add_argument_group("stream (hands for other programs and the browser)")
    s.add_argument(
        "--serve",
        type=_port,
        metavar="PORT",
        default=DEFAULT_PORT if serving else None,
        help="stream every frame's hands over WebSocket on PORT (JSON keypoints, binary meshes; schema: "
        "docs/streaming.md)" + (f" (default: {DEFAULT_PORT}; 0 picks a free port)" if serving else ""),
    )
    s.add_argument(
        "--view-port",
        type=_port,
        metavar="PORT",
        default=8080 if serving else None,
        help="serve a 3D view of the hands in the browser on PORT" + (" (default: 8080)" if serving else ""),
    )
    if serving:
        s.add_argument("--no-view", action="store_true", help="no 3D browser view, only the stream")
    s.add_argument(
        "--host",
        default="127.0.0.1",
        help="address the stream and the view listen on (default: 127.0.0.1, this machine only; 0.0.0.0 opens "
        "them to the network: use --token then)",
    )
    s.add_argument("--token", help="clients must connect with ?token=TOKEN")
    s.add_argument("--no-stream-meshes", action="store_true", help="send keypoints only, no binary meshes")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0-65535, got {text!r}")
    return port


def options_from_args(args: argparse.Namespace) -> Any:
    """The :class:`~handmesh.app.loop.DemoOptions` the parsed flags describe."""
    from handmesh.app.loop import DemoOptions

    return DemoOptions(
        camera=args.camera,
        video=args.video,
        images=args.images,
        output=args.output,
        display=args.display,
        max_frames=args.max_frames,
        checkpoint=args.checkpoint,
        backend=args.backend,
        device=args.device,
        threads=args.threads,
        hand_model=args.hand_model,
        max_hands=args.max_hands,
        detector=args.detector,
        hand_landmarker=args.hand_landmarker,
        mode=args.mode,
        refine=args.refine,
        mirror=args.mirror,
        save_mesh=args.save_mesh,
        mesh_format=args.mesh_format,
        view3d=args.view3d,
        mesh=not args.no_mesh,
        skeleton=args.skeleton,
        hud=not args.no_hud,
        serve=args.serve,
        host=args.host,
        token=args.token,
        stream_meshes=not args.no_stream_meshes,
        view_port=None if getattr(args, "no_view", False) else args.view_port,
    )


@user_errors_exit
def main(argv: list[str] | None = None) -> int:
    """Parse the flags and run :func:`handmesh.app.loop.run_demo`."""
    return run(build_parser().parse_args(sys.argv[1:] if argv is None else argv))


def run(args: argparse.Namespace, prog: str = "handmesh-demo") -> int:
    """Run the demo the parsed flags describe (or build the detector bundle); ``prog`` names the command in its
    messages."""
    if args.setup_detector:
        from handmesh.detection.bundle import ensure_hand_landmarker

        path = ensure_hand_landmarker(args.hand_landmarker)
        print(f"hand landmarker bundle ready: {path}")
        return 0
    from handmesh.app.loop import run_demo

    def log(message: str) -> None:
        print(message.replace("handmesh-demo:", f"{prog}:", 1))

    result = run_demo(options_from_args(args), log=log)
    print(result.report())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
