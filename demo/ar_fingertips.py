"""An AR-style stream: each frame, every fingertip's position in camera space (metres).

    python demo/ar_fingertips.py                    # the sample clip shipped with handmesh
    python demo/ar_fingertips.py --camera 0
    python demo/ar_fingertips.py --video clip.mp4 --fx 600 --fy 600 --cx 320 --cy 240

Camera space: x right, y down, z forward from the camera, metres. Give the intrinsics of your camera for true
depths; without them a 60-degree field of view is assumed.
"""

import argparse

import cv2
import numpy as np

import handmesh
from handmesh.app.sources import SAMPLE_CLIP
from handmesh.pipeline.hand import FINGER_NAMES

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--camera", type=int, default=None)
parser.add_argument("--video", default=None)
parser.add_argument("--frames", type=int, default=30, help="stop after this many frames (default: 30)")
parser.add_argument("--checkpoint", default=None, help="default: the weights shipped with handmesh")
parser.add_argument("--fx", type=float, help="focal length in pixels (default: a 60-degree field of view)")
parser.add_argument("--fy", type=float, help="default: --fx")
parser.add_argument("--cx", type=float, help="principal point (default: the image centre)")
parser.add_argument("--cy", type=float)
args = parser.parse_args()

source = args.camera if args.camera is not None else args.video or str(SAMPLE_CLIP)
capture = cv2.VideoCapture(source)
K = None  # built at the first frame: --cx/--cy default to the image centre

with handmesh.load(args.checkpoint, mode="video", max_hands=2) as estimator:
    for i in range(args.frames):
        ok, bgr = capture.read()
        if not ok:
            break
        if args.fx and K is None:
            h, w = bgr.shape[:2]
            cx = args.cx if args.cx is not None else (w - 1) / 2
            cy = args.cy if args.cy is not None else (h - 1) / 2
            K = np.array([[args.fx, 0, cx], [0, args.fy or args.fx, cy], [0, 0, 1]])
        for hand in estimator(bgr[..., ::-1], K=K):
            tips = "  ".join(f"{n} ({x:+.3f} {y:+.3f} {z:.3f})" for n, (x, y, z) in zip(FINGER_NAMES, hand.fingertips))
            print(f"frame {i:4d} {hand.handedness:5s} {tips}")
capture.release()
