"""The network alone against the landmark fit, side by side on frames of a clip: one picture (PNG).

    python demo/compare_refine.py out.png                               # frames of the sample clip
    python demo/compare_refine.py out.png --video clip.mp4 --frames 20 60 100

Each row is one frame: the frame itself, the network's mesh alone (refine="none"), the mesh fitted to MediaPipe's
landmarks (refine="landmarks", the default), and the fitted hand's 21 keypoints, from video-mode runs.
"""

import argparse

import cv2
import numpy as np

import handmesh
from handmesh.app.sources import SAMPLE_CLIP

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("output", help="PNG file to write")
parser.add_argument("--video", default=str(SAMPLE_CLIP), help="default: the sample clip shipped with handmesh")
parser.add_argument("--frames", type=int, nargs="+", default=[20, 75, 130], help="frame numbers to show")
parser.add_argument("--width", type=int, default=240, help="width of each picture in the grid (default: 240)")
parser.add_argument("--checkpoint", default=None, help="default: the weights shipped with handmesh")
args = parser.parse_args()

capture = cv2.VideoCapture(args.video)
fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
rows = []
with (
    handmesh.load(args.checkpoint, mode="video", refine="none") as plain,
    handmesh.load(args.checkpoint, mode="video") as fitted,
):
    for i in range(max(args.frames) + 1):
        ok, bgr = capture.read()
        if not ok:
            break
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        t = int(round(i * 1000 / fps))
        before, after = plain(rgb, timestamp_ms=t), fitted(rgb, timestamp_ms=t)  # every frame: the tracks run on
        if i not in args.frames:
            continue
        row = [
            rgb.copy(),
            plain.render(rgb, before),
            fitted.render(rgb, after),
            fitted.render(rgb, after, mesh=False, skeleton=True),
        ]
        for picture, label in zip(row, (f"frame {i}", "network alone", "fitted to landmarks", "fitted keypoints")):
            cv2.putText(picture, label, (8, 30), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2)
        scale = args.width / rgb.shape[1]
        rows.append(np.hstack([cv2.resize(p, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) for p in row]))
capture.release()
if not rows:
    raise SystemExit(f"no frame of {args.frames} in {args.video}")
cv2.imwrite(args.output, cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR))
print(f"{len(rows)} frame(s); wrote {args.output}")
