"""``handmesh-bench metrics``: time the FreiHAND metrics on an evaluation-sized set, stage by stage, and optionally the
annotation loading of a FreiHAND folder.

Ground truth comes from the shipped hand model with random poses when it is installed (realistic vertex spacing, which
is what the F-score search cost depends on), else from points on a hand-sized ellipsoid; predictions are the ground
truth with noise and a random similarity transform.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``handmesh-bench metrics``."""
    parser.add_argument("--samples", type=int, default=3960, help="samples to score (default: 3960, FreiHAND eval)")
    parser.add_argument("--noise-mm", type=float, default=8.0, help="prediction noise per coordinate (default: 8)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per stage; the best is reported (default: 3)")
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="also time loading the annotations of this FreiHAND folder (cold and cached)",
    )
    parser.add_argument("--seed", type=int, default=0)


def _hand_like(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, str]:
    """(n, 21, 3) keypoints and (n, 778, 3) vertices in metres, about 0.6 m in front of the camera."""
    try:
        import torch

        from handmesh.errors import HandmeshError
        from handmesh.hand_model import build_hand_model

        try:
            model = build_hand_model("open")
        except HandmeshError:
            model = None
        if model is not None:
            with torch.no_grad():
                out = model(torch.randn(n, 3) * 0.8, torch.randn(n, 45) * 0.3, torch.randn(n, 10) * 0.5)
            shift = np.array([0.0, 0.0, 0.6]) + rng.normal(size=(n, 1, 3)) * 0.05
            return out.joints.double().numpy() + shift, out.vertices.double().numpy() + shift, "open hand model"
    except ImportError:
        pass
    u = rng.normal(size=(n, 778, 3))
    verts = u / np.linalg.norm(u, axis=-1, keepdims=True) * [0.05, 0.09, 0.02] + [0.0, 0.0, 0.6]
    xyz = verts[:, rng.choice(778, 21, replace=False)]
    return xyz, verts, "ellipsoid surface (hand model not installed)"


def _best(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def run(args: argparse.Namespace) -> int:
    """Print the timing table."""
    import numba

    from handmesh.metrics import align_w_scale, evaluate, fscore
    from handmesh.metrics.freihand import pck_curve

    rng = np.random.default_rng(args.seed)
    gx, gv, source = _hand_like(args.samples, rng)
    noise = args.noise_mm / 1000.0
    px = gx + rng.normal(size=gx.shape) * noise
    pv = gv + rng.normal(size=gv.shape) * noise
    t0 = time.perf_counter()
    fscore(gv[:2], pv[:2])
    first = time.perf_counter() - t0
    pv_al = align_w_scale(gv, pv)
    th = np.linspace(0, 0.05, 100)
    rows = [
        ("first F-score call (loads or compiles the kernel)", first),
        ("align_w_scale keypoints", _best(lambda: align_w_scale(gx, px), args.repeat)),
        ("align_w_scale vertices", _best(lambda: align_w_scale(gv, pv), args.repeat)),
        ("F@5/15mm aligned vertices", _best(lambda: fscore(gv, pv_al), args.repeat)),
        ("F@5/15mm camera-frame vertices", _best(lambda: fscore(gv, pv), args.repeat)),
        ("PCK/AUC vertices", _best(lambda: pck_curve(np.linalg.norm(pv - gv, axis=-1), th), args.repeat)),
        ("evaluate() total, all metrics", _best(lambda: evaluate(px, gx, pv, gv), args.repeat)),
    ]
    if args.data is not None:
        import tempfile

        from handmesh.datasets.annotations import load_annotations

        with tempfile.TemporaryDirectory() as cache:
            for split in ("training", "evaluation"):
                t0 = time.perf_counter()
                ann = load_annotations(args.data, split, cache_dir=cache)
                rows.append((f"load {split} annotations, first time ({len(ann)} samples)", time.perf_counter() - t0))
                t0 = time.perf_counter()
                ann = load_annotations(args.data, split, cache_dir=cache)
                if ann.verts is not None:
                    np.asarray(ann.verts[:: max(1, len(ann) // 100)]).sum()  # touch some vertices
                rows.append((f"load {split} annotations, cached", time.perf_counter() - t0))
    width = max(len(name) for name, _ in rows)
    print(
        f"FreiHAND metrics on {args.samples} samples ({source}); numba threads: {numba.get_num_threads()}; "
        f"best of {args.repeat}"
    )
    print(f"  {'stage':<{width}}  seconds")
    for name, seconds in rows:
        print(f"  {name:<{width}}  {seconds:7.3f}")
    return 0
