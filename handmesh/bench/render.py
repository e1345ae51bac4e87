"""``handmesh-bench render``: hand-mesh overlay time, the project's z-buffer rasterizer vs an OpenCV painter's
algorithm, side by side in one run on one core.

The mesh is the shipped open hand (``handmesh/assets/open_hand_right.npz``) in its rest pose when it exists, else
a 770-vertex ellipsoid stand-in; it is placed so its bounding box covers about a quarter of the frame.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ASSET = Path(__file__).resolve().parents[1] / "assets" / "open_hand_right.npz"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``handmesh-bench render``."""
    parser.add_argument(
        "--size",
        type=int,
        nargs=2,
        default=(640, 480),
        metavar=("W", "H"),
        help="frame size in pixels (default: 640 480)",
    )
    parser.add_argument(
        "--coverage",
        type=float,
        default=0.25,
        help="fraction of the frame the hand's bounding box covers (default: 0.25)",
    )
    parser.add_argument("--repeats", type=int, default=300, help="timed calls per method (default: 300)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed calls per method first (default: 20)")
    parser.add_argument(
        "--mesh",
        choices=("auto", "hand", "ellipsoid"),
        default="auto",
        help="auto: the open hand if its asset exists, else the ellipsoid stand-in",
    )
    parser.add_argument("--save", type=Path, default=None, help="also write the overlays side by side to this PNG")


def bench_mesh(kind: str = "auto") -> tuple[np.ndarray, np.ndarray, str]:
    """``vertices (V, 3)`` (centred, largest extent along x, smallest along z), ``faces (F, 3)``, and a name."""
    from handmesh.render.primitives import ellipsoid

    if kind in ("auto", "hand") and ASSET.is_file():
        with np.load(ASSET, allow_pickle=False) as z:
            verts, faces = z["v_template"].astype(np.float64), z["faces"].astype(np.int32)
        name = f"open hand rest pose ({len(verts)} vertices, {len(faces)} faces)"
    elif kind == "hand":
        from handmesh.errors import MissingFileError

        raise MissingFileError(f"handmesh-bench render --mesh hand: the open hand asset {ASSET} does not exist")
    else:
        v, faces = ellipsoid((0.09, 0.05, 0.015))
        verts = v.astype(np.float64)
        name = f"ellipsoid stand-in ({len(verts)} vertices, {len(faces)} faces)"
    verts = verts - verts.mean(0)
    # Principal axes: the hand lies flat in the image plane with its palm (or back) towards the camera.
    _, _, vt = np.linalg.svd(verts, full_matrices=False)
    if np.linalg.det(vt) < 0:
        vt[2] *= -1
    return verts @ vt.T, faces, name


def place(verts: np.ndarray, width: int, height: int, coverage: float) -> tuple[np.ndarray, np.ndarray]:
    """Intrinsics for the frame and the mesh moved in front of the camera so its projected bounding box covers
    ``coverage`` of the frame, centred."""
    f = 0.9 * max(width, height)
    K = np.array([[f, 0, (width - 1) / 2], [0, f, (height - 1) / 2], [0, 0, 1]])
    ext = verts[:, :2].max(0) - verts[:, :2].min(0)
    z = f * np.sqrt(ext[0] * ext[1] / (coverage * width * height))
    return verts + np.array([0.0, 0.0, z]), K


def painter_overlay(
    frame: np.ndarray,
    verts: np.ndarray,
    faces: np.ndarray,
    K: np.ndarray,
    color: np.ndarray,
    light_dir: np.ndarray,
    alpha: float,
) -> np.ndarray:
    """The baseline: back-face culling, flat Lambert shading, faces filled far-to-near with
    ``cv2.fillConvexPoly`` inside the hand's bounding box, then alpha blending."""
    import cv2

    out = frame.copy()
    uv = verts[:, :2] / verts[:, 2:] * K[[0, 1], [0, 1]] + K[:2, 2]
    tri = uv[faces]
    a, b, c = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    n = np.cross(b - a, c - a)
    front = np.einsum("ij,ij->i", n, a) < 0
    n = n[front] / np.linalg.norm(n[front], axis=1, keepdims=True)
    shade = np.clip(0.35 + 0.7 * np.clip(n @ light_dir, 0, None), 0, 1)[:, None] * color * 255
    depth = a[front, 2] + b[front, 2] + c[front, 2]
    order = np.argsort(-depth)
    x0, y0 = np.floor(uv.min(0)).astype(int)
    x1, y1 = np.ceil(uv.max(0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, frame.shape[1]), min(y1, frame.shape[0])
    layer = np.zeros((y1 - y0, x1 - x0, 3), np.uint8)
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    pts = np.round(tri[front] - (x0, y0)).astype(np.int32)
    cols = shade.astype(np.int32).tolist()
    for i in order:
        cv2.fillConvexPoly(layer, pts[i], cols[i])
        cv2.fillConvexPoly(mask, pts[i], 255)
    roi = out[y0:y1, x0:x1]
    blend = cv2.addWeighted(roi, 1 - alpha, layer, alpha, 0)
    np.copyto(roi, blend, where=mask[..., None].astype(bool))
    return out


def _time(fn: Callable[[], object], repeats: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return times


def run(args: argparse.Namespace) -> int:
    """Run the benchmark and print its table."""
    import cv2
    import numba

    from handmesh.errors import ConfigError
    from handmesh.render import Light, Mesh, overlay, render

    width, height = args.size
    if width <= 0 or height <= 0 or not 0 < args.coverage <= 1 or args.repeats <= 0 or args.warmup < 0:
        raise ConfigError(
            "handmesh-bench render: --size must be positive, --coverage in (0, 1], --repeats > 0, --warmup >= 0"
        )
    numba.set_num_threads(1)  # the kernels are serial; this pins numba's pool too
    cv2.setNumThreads(1)

    verts, faces, mesh_name = bench_mesh(args.mesh)
    verts, K = place(verts, width, height, args.coverage)
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    frame = cv2.GaussianBlur(frame, (0, 0), 5)
    mesh = Mesh(verts, faces)
    light = Light()

    t = time.perf_counter()
    first = overlay(frame, mesh, K)
    first_call_s = time.perf_counter() - t
    res = render(mesh, K, (height, width), light)
    cov_mask = res.mask.mean()
    ys, xs = np.nonzero(res.mask)
    cov_box = (np.ptp(xs) + 1) * (np.ptp(ys) + 1) / (width * height) if len(xs) else 0.0

    methods: list[tuple[str, Callable[[], object]]] = [
        ("handmesh overlay (z-buffer, smooth, AA)", lambda: overlay(frame, mesh, K, 0.8, light)),
        ("handmesh overlay, no AA", lambda: overlay(frame, mesh, K, 0.8, light, antialias=False)),
        ("handmesh render (rgb + mask + depth, full frame)", lambda: render(mesh, K, (height, width), light)),
        (
            "OpenCV painter's (fillConvexPoly by depth, flat)",
            lambda: painter_overlay(frame, verts, faces, K, mesh.color, light.unit_direction(), 0.8),
        ),
    ]
    results = {name: _time(fn, args.repeats, args.warmup) for name, fn in methods}
    base = statistics.median(results[methods[-1][0]])

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"handmesh-bench render: {mesh_name}, frame {width}x{height}, hand bounding box {cov_box:.1%} of the "
        f"frame, silhouette {cov_mask:.1%}"
    )
    print(
        f"threads: numba 1 (serial kernels), OpenCV 1; {platform.processor() or platform.machine()}, "
        f"load average {load:.2f}; {args.repeats} calls after {args.warmup} warm-up"
    )
    print(f"first call (numba compile or cache load): {first_call_s:.2f} s")
    print()
    print(f"| {'method':<50} | median ms | p10 ms | p90 ms | vs painter's |")
    print(f"|{'-' * 52}|----------:|-------:|-------:|-------------:|")
    for name, _ in methods:
        ts = results[name]
        q = np.percentile(ts, [10, 90])
        med = statistics.median(ts)
        print(f"| {name:<50} | {med:9.2f} | {q[0]:6.2f} | {q[1]:6.2f} | {base / med:11.2f}x |")
    if args.save is not None:
        painter = painter_overlay(frame, verts, faces, K, mesh.color, light.unit_direction(), 0.8)
        args.save.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(args.save), cv2.cvtColor(np.concatenate([first, painter], 1), cv2.COLOR_RGB2BGR))
        print(f"\nwrote {args.save} (left: handmesh, right: painter's)")
    return 0
