"""``handmesh-bench hand-model``: hand model forward time at batch 1 and 64 on the CPU.

Models measured: the shipped open hand when its asset is installed, MANO when its files are found, and otherwise
the MANO-format stand-in (:mod:`handmesh.testing.mano_standin`: same array sizes as MANO, so the same cost).
Times are medians over repeats after warm-up, under ``torch.no_grad`` (inference) and with a backward pass
(training); the table states the thread count.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from handmesh.errors import HandmeshError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``handmesh-bench hand-model``."""
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 64], help="default: 1 64")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's default)")
    parser.add_argument("--repeats", type=int, default=50, help="timed calls per row (default: 50)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed calls first (default: 5)")
    parser.add_argument("--mano-dir", default=None, help="folder with MANO_RIGHT.{npz,pkl} (default: usual lookup)")


def _median_ms(fn: Callable[[], object], repeats: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def _models(mano_dir: str | None) -> list[tuple[str, torch.nn.Module, float]]:
    """(label, model, load time ms) for every model available here."""
    from handmesh.hand_model.build import build_hand_model
    from handmesh.hand_model.model import HandModel
    from handmesh.testing.mano_standin import standin_model_arrays

    models = []
    for name in ("open", "mano"):
        t0 = time.perf_counter()
        try:
            model = build_hand_model(name, "right", mano_dir if name == "mano" else None)
        except HandmeshError as e:
            reason = str(e).split(" (looked in")[0]
            print(f"# {name}: not available: {reason[:110]}")
            continue
        models.append((name, model, (time.perf_counter() - t0) * 1e3))
    if not any(label == "mano" for label, _, _ in models):
        t0 = time.perf_counter()
        model = HandModel(standin_model_arrays())
        models.append(("mano-format stand-in", model, (time.perf_counter() - t0) * 1e3))
    return models


def run(args: argparse.Namespace) -> int:
    """Print the table."""
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    rows = []
    for label, model, load_ms in _models(args.mano_dir):
        model.eval()
        for B in args.batch_sizes:
            g = torch.Generator().manual_seed(0)
            go = torch.randn(B, 3, generator=g) * 0.5
            hp = torch.randn(B, 45, generator=g) * 0.3
            betas = torch.randn(B, 10, generator=g)

            def infer(model=model, go=go, hp=hp, betas=betas) -> object:
                with torch.no_grad():
                    return model(go, hp, betas)

            hp_train = hp.clone().requires_grad_(True)

            def train(model=model, go=go, hp_train=hp_train, betas=betas) -> object:
                out = model(go, hp_train, betas)
                out.vertices.sum().backward()
                return out

            fwd = _median_ms(infer, args.repeats, args.warmup)
            fwd_bwd = _median_ms(train, max(args.repeats // 2, 1), args.warmup)
            rows.append((label, model.num_vertices, B, fwd, fwd / B, fwd_bwd, load_ms))
    print(f"hand model forward on CPU, {threads} thread(s), float32, median of {args.repeats} calls")
    header = ("model", "V", "batch", "forward ms", "ms/sample", "fwd+bwd ms", "load ms")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for label, V, B, fwd, per, fb, load in rows:
        print(f"| {label} | {V} | {B} | {fwd:.2f} | {per:.3f} | {fb:.2f} | {load:.0f} |")
    return 0
