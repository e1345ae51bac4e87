"""Image in, overlay out: find the hands in a photo and draw their meshes.

python demo/image_to_overlay.py photo.jpg overlay.png
python demo/image_to_overlay.py photo.jpg overlay.png --checkpoint runs/t8/best.pt
"""

import argparse

import cv2

import handmesh

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("image")
parser.add_argument("output", help="PNG to write")
parser.add_argument("--checkpoint", default=None, help="default: the weights shipped with handmesh")
args = parser.parse_args()

bgr = cv2.imread(args.image)
if bgr is None:
    raise SystemExit(f"cannot read {args.image}")
frame = bgr[..., ::-1]  # handmesh takes RGB

with handmesh.load(args.checkpoint, mode="image") as estimator:
    hands = estimator(frame)  # K defaults to a 60-degree field of view; pass K=... if you know the camera
    overlay = estimator.render(frame, hands, mesh=True, skeleton=True)

for hand in hands:
    x, y, z = hand.translation
    print(f"{hand.handedness} hand (score {hand.score:.2f}): wrist at ({x:+.3f}, {y:+.3f}, {z:.3f}) m")
cv2.imwrite(args.output, overlay[..., ::-1])
print(f"{len(hands)} hand(s); wrote {args.output}")
