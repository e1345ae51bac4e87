"""A minimal webcam loop: hands found in every frame, meshes drawn, q to quit.

    python demo/webcam.py            # camera 0
    python demo/webcam.py --camera 1

(``handmesh-demo --camera 0`` is the full version: a capture thread, FPS and timings, recording, keys.)
"""

import argparse

import cv2

import handmesh

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--camera", type=int, default=0)
parser.add_argument("--checkpoint", default=None, help="default: the weights shipped with handmesh")
args = parser.parse_args()

capture = cv2.VideoCapture(args.camera)
if not capture.isOpened():
    raise SystemExit(f"cannot open camera {args.camera}")

with handmesh.load(args.checkpoint, mode="video") as estimator:  # video mode: tracking and smoothing between frames
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        frame = bgr[..., ::-1]
        hands = estimator(frame)
        picture = estimator.render(frame, hands)
        cv2.imshow("handmesh", picture[..., ::-1])
        if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
            break
capture.release()
cv2.destroyAllWindows()
