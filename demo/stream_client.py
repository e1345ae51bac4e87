"""A client of ``handmesh-serve``: print each frame's hands as they arrive, the way an AR program would read them.

    handmesh-serve --camera 0 &                       # or --video clip.mp4
    python demo/stream_client.py                      # ws://127.0.0.1:8765/
    python demo/stream_client.py --url "ws://192.168.1.20:8765/?token=s3cret" --frames 100

Each frame is one JSON message (keypoints in metres, camera frame; 2D in pixels), followed by one binary message with
the meshes (see docs/streaming.md). Needs only the websockets package and numpy.
"""

import argparse
import json
import struct

import numpy as np
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--url", default="ws://127.0.0.1:8765/", help="the stream (default: ws://127.0.0.1:8765/)")
parser.add_argument("--frames", type=int, default=0, help="stop after this many frames (default: until it ends)")
parser.add_argument("--no-meshes", action="store_true", help="ask the server for keypoints only")
args = parser.parse_args()

faces = {}  # side -> (F, 3) triangles, sent once per side per connection
with connect(args.url) as ws:
    hello = json.loads(ws.recv())
    print(f"connected to {hello['server']} (stream version {hello['version']})")
    if args.no_meshes:
        ws.send(json.dumps({"type": "subscribe", "meshes": False}))
    seen = 0
    try:
        while not args.frames or seen < args.frames:
            msg = json.loads(ws.recv())
            if msg["type"] == "faces":
                faces[msg["side"]] = np.array(msg["faces"], dtype=np.int32)
                continue
            if msg["type"] == "error":
                print("server says:", msg["message"])
                continue
            vertices = None
            if msg["mesh"] is not None:  # the binary message that follows: header, then float32 xyz per hand
                data = ws.recv()
                _, _, n_hands, _, n_vertices = struct.unpack_from("<4sHHII", data)
                vertices = np.frombuffer(data, "<f4", offset=16).reshape(n_hands, n_vertices, 3)
            seen += 1
            parts = []
            for k, hand in enumerate(msg["hands"]):
                wrist = np.array(hand["keypoints3d"][0])
                tip = np.array(hand["keypoints3d"][8])  # index fingertip
                mesh = "" if vertices is None else f", mesh {vertices[k].shape[0]} vertices"
                parts.append(
                    f"{hand['side']} hand: wrist at {np.round(wrist, 3).tolist()} m, index tip "
                    f"{1000 * np.linalg.norm(tip - wrist):.0f} mm from it{mesh}"
                )
            print(f"frame {msg['frame']} ({msg['dropped']} dropped): " + ("; ".join(parts) or "no hands"))
    except ConnectionClosed:
        print("the stream ended")
