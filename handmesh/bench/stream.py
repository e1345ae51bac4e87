"""``handmesh-bench stream``: what streaming the hands costs the live pipeline, and how late the clients get them.

The demo's pipeline (``handmesh.load(mode="video")``, one frame in flight, the mesh drawn) runs over the clip's
frames in alternating passes: without publishing, then publishing every frame to a
:class:`~handmesh.stream.HandStream` with clients connected, then without, ... so that background load affects both
alike. The clients: ``--clients - 1`` reading clients, each its own process (as real clients are), which note for
every frame the time from its publication to the arrival of its last message (the frame's JSON and, with meshes,
its binary mesh message) on the shared monotonic clock; and one stalled client that completed the handshake, has a
4 kB receive buffer and never reads. The table gives both conditions' FPS and their ratio, the latency, each
client's sent and dropped counts, and the accuracy of the timed hands against the clip's ground truth.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from handmesh.runtime.loader import BACKENDS

CLIENT = r"""
import json, sys, time
from websockets.sync.client import connect

latency, frames = [], 0
with connect(sys.argv[1], max_size=None) as ws:
    try:
        while True:
            message = ws.recv()
            now = time.perf_counter() * 1e3
            if isinstance(message, str):
                data = json.loads(message)
                if data["type"] != "frame":
                    continue
                frames += 1
                if data["mesh"] is not None:
                    ws.recv()
                    now = time.perf_counter() * 1e3
                latency.append(now - data["sent_ms"])
    except Exception:
        pass
print(json.dumps({"frames": frames, "latency_ms": latency}))
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``handmesh-bench stream``."""
    parser.add_argument("--clip", type=Path, default=None, help="video (default: the sample clip in the package)")
    parser.add_argument("--frames", type=int, default=None, help="frames of the clip per pass (default: all)")
    parser.add_argument("--clients", type=int, default=3, help="connected clients, one of them stalled (default: 3)")
    parser.add_argument("--repeats", type=int, default=4, help="timed passes per condition, alternating (default: 4)")
    parser.add_argument("--warmup", type=int, default=30, help="untimed frames first (default: 30)")
    parser.add_argument(
        "--backend", default="onnxruntime", choices=("auto", *BACKENDS), help="network runtime (default: onnxruntime)"
    )
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for the network and OpenCV (default: 2)")
    parser.add_argument("--no-meshes", action="store_true", help="stream keypoints only")
    parser.add_argument(
        "--checkpoint", type=Path, default=None, help="network checkpoint or export (default: the shipped weights)"
    )
    parser.add_argument(
        "--hand-landmarker", type=Path, default=None, help="hand_landmarker .task bundle (default: the cache)"
    )


def _publisher(stream, counter: list[int]):  # noqa: ANN202
    """``on_result`` for the demo's loop: publish each drawn frame's hands, numbering the frames."""
    from handmesh.stream.schema import FrameEvent

    def publish(p, hands: list) -> None:  # noqa: ANN001
        stream.publish(FrameEvent(counter[0], p.timestamp_ms, p.frame, p.K, hands))
        counter[0] += 1

    return publish


def stalled_client(port: int) -> socket.socket:
    """A client that completes the WebSocket handshake with a 4 kB receive buffer and then never reads."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    status = s.recv(4096).split(b"\r\n")[0]
    if b" 101 " not in status + b" ":
        s.close()
        raise ConnectionError(f"the stream refused the stalled client's handshake: {status!r}")
    return s


def run(args: argparse.Namespace) -> int:
    """Time the pipeline with and without the stream and print the table."""
    import cv2

    import handmesh
    from handmesh.app.sources import SAMPLE_CLIP
    from handmesh.bench.pipeline import accuracy_line, handmesh_pass, read_frames
    from handmesh.detection import find_hand_landmarker
    from handmesh.errors import ConfigError
    from handmesh.stream.server import HandStream

    if args.clients < 1 or args.repeats < 1 or args.warmup < 0 or args.threads < 1:
        raise ConfigError("handmesh-bench stream: --clients, --repeats and --threads must be >= 1, --warmup >= 0")
    clip = args.clip or SAMPLE_CLIP
    bundle = find_hand_landmarker(args.hand_landmarker)
    cv2.setNumThreads(args.threads)
    frames, _ = read_frames(clip, (640, 480), args.frames)
    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    estimator = handmesh.load(
        args.checkpoint,
        backend=args.backend,
        mode="video",
        threads=args.threads,
        hand_landmarker=bundle,
    )
    stream = HandStream(port=0, meshes=not args.no_meshes)
    readers = [
        subprocess.Popen([sys.executable, "-c", CLIENT, stream.url], stdout=subprocess.PIPE, text=True)
        for _ in range(args.clients - 1)
    ]
    stalled = stalled_client(stream.port)
    ms = {"none": [], "stream": []}
    try:
        deadline = time.monotonic() + 60
        while len(stream.clients()) < args.clients and time.monotonic() < deadline:
            time.sleep(0.05)
        connected = len(stream.clients())
        ts, counter = 0, [0]
        for i in range(min(args.warmup, len(frames))):
            estimator.render(frames[i], estimator(frames[i], timestamp_ms=ts))
            ts += 33
        last: list[list] = []
        for _ in range(args.repeats):
            for condition in ("none", "stream"):
                estimator.reset()
                times: list[float] = []
                publish = _publisher(stream, counter) if condition == "stream" else None
                last, ts = handmesh_pass(estimator, frames, ts, times, [], publish)
                ms[condition].append(times[0])
        time.sleep(0.5)  # let the readers take the last frames
        clients = stream.clients()
        backend = estimator.describe()
    finally:
        stream.close()
        stalled.close()
        estimator.close()
    results = [json.loads(p.communicate(timeout=60)[0] or "{}") for p in readers]
    load_end = os.getloadavg()[0] if hasattr(os, "getloadavg") else None

    fps = {k: 1000.0 / float(np.mean(v)) for k, v in ms.items()}
    latency = np.concatenate([r.get("latency_ms", []) for r in results]) if results else np.zeros(0)
    print(
        f"handmesh-bench stream: {len(frames)} frames of {clip.name} at 640x480, {args.repeats} timed passes per "
        f"condition, alternating, after {args.warmup} warm-up; {connected} client(s) connected: "
        f"{len(readers)} reading (own processes), 1 stalled (4 kB receive buffer, never reads); "
        f"meshes {'off' if args.no_meshes else 'on'}"
    )
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs visible"
        + ("" if load_start is None else f"; load average {load_start:.2f} at start, {load_end:.2f} at end")
    )
    print(f"handmesh: {backend}")
    print(f"{'condition':<44}{'FPS':>8}{'ms/frame':>10}  passes (ms/frame)")
    for name, key in (("pipeline alone (no publishing)", "none"), ("pipeline publishing to the clients", "stream")):
        passes = ", ".join(f"{v:.1f}" for v in ms[key])
        print(f"{name:<44}{fps[key]:>8.1f}{float(np.mean(ms[key])):>10.2f}  {passes}")
    print(f"ratio with clients / alone: {fps['stream'] / fps['none']:.3f}x  (goal: >= 0.95x)")
    if latency.size:
        print(
            f"latency from publishing a frame to a reading client having all of it: median "
            f"{float(np.median(latency)):.2f} ms, 90th percentile {float(np.percentile(latency, 90)):.2f} ms, "
            f"max {float(latency.max()):.2f} ms over {latency.size} receipts (goal: median <= 2 ms)"
        )
    published = counter[0]
    for k, r in enumerate(results):
        print(f"reading client {k + 1}: {r.get('frames', 0)} of {published} published frames received")
    for c in sorted(clients, key=lambda c: c.sent):
        print(f"server's count for {c.address}: sent {c.sent}, dropped {c.dropped}")
    print(accuracy_line(clip, (640, 480), frames, last, []))
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m handmesh.bench.stream [flags]`` (the same as ``handmesh-bench stream``)."""
    parser = argparse.ArgumentParser(prog="handmesh-bench stream", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
