"""``handmesh-bench model``: latency of the whole network (encoder, head and hand model) per backend.

Per variant at its recipe's input size (``configs/fastvit_*_freihand.yaml``; 224 for variants without a recipe, or
``--input-size``) and per batch size, it measures side by side in one run with one thread count: PyTorch in the
train-time form, PyTorch reparameterized, ONNX Runtime and TorchScript on the exports of the reparameterized
network (what ``handmesh-export`` writes). All four are timed round-robin, one call each per round, so load changes
on a shared machine hit all of them alike. The table reports medians, per-crop times and the ratios, then checks the
goals: reparameterized PyTorch >= 1.3x faster than train-time, and T8 through ONNX Runtime <= 8 ms per crop.

Weights are random with trained-like BatchNorm statistics and layer scales (see :mod:`handmesh.bench.backbone`);
the head has the recipe's settings and the hand model is the shipped open hand (MANO has the same size).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from handmesh.bench.backbone import _machine, _trained_like_

# The FreiHAND recipes (configs/fastvit_{t8,sa12,ma36}_freihand.yaml): input size and head feature fusion.
RECIPES: dict[str, tuple[int, bool]] = {
    "fastvit_t8": (224, False),
    "fastvit_sa12": (224, True),
    "fastvit_ma36": (256, True),
}
DEFAULT_VARIANTS = ["t8", "s12", "sa12", "ma36"]
COLUMNS = ("train", "reparam", "onnx", "torchscript")
LABELS = {"train": "torch train-time", "reparam": "torch reparam", "onnx": "ONNX Runtime", "torchscript": "TorchScript"}
GOAL_REPARAM_SPEEDUP = 1.3
GOAL_T8_ORT_MS_PER_CROP = 8.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``handmesh-bench model``."""
    parser.add_argument(
        "--variants",
        nargs="+",
        default=DEFAULT_VARIANTS,
        metavar="NAME",
        help="variants, canonical or short names (default: t8 s12 sa12 ma36)",
    )
    parser.add_argument(
        "--input-size",
        type=int,
        default=None,
        metavar="S",
        help="crop side for every variant, a multiple of 32 (default: each recipe's, 224 without one)",
    )
    parser.add_argument(
        "--batches", nargs="+", type=int, default=[1, 2], metavar="B", help="batch sizes (default: 1 2; two hands = 2)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="intra-op threads for torch and ONNX Runtime (default: torch's current setting)",
    )
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per backend (default: 20)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed calls per backend first (default: 5)")
    parser.add_argument("--head-hidden", type=int, default=1024, help="head width (default: 1024, the recipes')")
    parser.add_argument("--no-onnx", action="store_true", help="skip the ONNX Runtime column")
    parser.add_argument("--no-torchscript", action="store_true", help="skip the TorchScript column")
    parser.add_argument("--seed", type=int, default=0)


@dataclass
class Row:
    """Median latencies (ms per call) of one variant at one input size and batch size."""

    variant: str
    size: int
    batch: int
    ms: dict[str, float] = field(default_factory=dict)
    max_abs_m: float = float("nan")  # largest vertex difference of ONNX Runtime / TorchScript vs torch reparam


def _progress(msg: str) -> None:
    print(f"[model] {msg}", file=sys.stderr, flush=True)


def build_bench_network(variant: str, size: int, head_hidden: int, seed: int) -> torch.nn.Module:
    """A :class:`~handmesh.network.HandMeshNet` with the recipe's head, open hand, trained-like statistics."""
    from handmesh.hand_model import build_hand_model
    from handmesh.network import HandMeshNet

    torch.manual_seed(seed)
    fusion = RECIPES.get(variant, (224, False))[1]
    net = HandMeshNet(
        build_hand_model("open", "right"),
        variant=variant,
        input_size=size,
        feature_fusion=fusion,
        head_hidden=head_hidden,
    )
    _trained_like_(net.backbone, seed)
    return net.eval()


def _time_round_robin(fns: dict[str, Callable[[], Any]], warmup: int, repeats: int) -> dict[str, float]:
    """Median seconds per call of every function, one call each per round."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for r in range(warmup + repeats):
        for key, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            dt = time.perf_counter() - t0
            if r >= warmup:
                times[key].append(dt)
    return {k: statistics.median(v) for k, v in times.items()}


def _backends(
    net: torch.nn.Module, size: int, threads: int, onnx: bool, torchscript: bool
) -> dict[str, Callable[[torch.Tensor], np.ndarray]]:
    """name -> ``f(crops) -> vertices``: the train-time and reparameterized networks and the two exports."""
    from handmesh.artefact.describe import metadata_for
    from handmesh.export.graph import prepare_network

    reparam = prepare_network(net)
    out: dict[str, Callable[[torch.Tensor], np.ndarray]] = {}

    def torch_fn(model: torch.nn.Module) -> Callable[[torch.Tensor], np.ndarray]:
        def run(x: torch.Tensor) -> np.ndarray:
            with torch.inference_mode():
                return model(x).vertices.numpy()

        return run

    out["train"] = torch_fn(net)
    out["reparam"] = torch_fn(reparam)
    if onnx:
        import onnxruntime as ort

        from handmesh.export.to_onnx import onnx_bytes

        data = onnx_bytes(reparam, metadata_for(net, "onnx"))
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Sleeping threads, as the runtime's default: spinning ones would keep both cores busy while the torch
        # models of the same round run (and the torch pools' would do the same to ONNX Runtime's), which made
        # every interleaved timing 2-3x slower than the same model timed alone.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])

        def run_onnx(x: torch.Tensor) -> np.ndarray:
            return session.run(["vertices"], {"image": x.numpy()})[0]

        out["onnx"] = run_onnx
    if torchscript:
        from handmesh.artefact.support import quiet_tracing
        from handmesh.export.to_torchscript import torchscript_bytes

        data = torchscript_bytes(reparam, metadata_for(net, "torchscript"))
        with quiet_tracing():
            module = torch.jit.load(io.BytesIO(data)).eval()

        def run_ts(x: torch.Tensor) -> np.ndarray:
            with torch.inference_mode():
                return module(x)[3].numpy()

        out["torchscript"] = run_ts
    return out


def _fmt(v: float | None, digits: int = 2) -> str:
    return "n/a" if v is None or v != v else f"{v:.{digits}f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "n/a" if a is None or b is None or a != a or b != b or b == 0 else f"{a / b:.2f}x"


def format_table(rows: list[Row], header: list[str]) -> str:
    """The Markdown table (after '# ' header lines) and the goal checks that :func:`run` prints."""
    lines = [f"# {h}" for h in header]
    cols = [
        "variant",
        "size",
        "batch",
        "train ms",
        "reparam ms",
        "ORT ms",
        "TorchScript ms",
        "ORT ms/crop",
        "reparam speed-up",
        "ORT vs reparam",
        "TorchScript vs reparam",
        "max abs diff m",
    ]
    lines.append("| " + " | ".join(cols) + " |")
    lines.append("|" + "|".join("---" for _ in cols) + "|")
    for r in rows:
        ms = r.ms
        ort = ms.get("onnx")
        lines.append(
            f"| {r.variant} | {r.size} | {r.batch} | {_fmt(ms['train'])} | {_fmt(ms['reparam'])} | {_fmt(ort)} | "
            f"{_fmt(ms.get('torchscript'))} | {_fmt(None if ort is None else ort / r.batch)} | "
            f"{_ratio(ms['train'], ms['reparam'])} | {_ratio(ms['reparam'], ort)} | "
            f"{_ratio(ms['reparam'], ms.get('torchscript'))} | {r.max_abs_m:.1e} |"
        )
    lines.append("")
    lines.append(
        "ms: median per call (the whole batch); speed-ups are ratios of medians measured in the same rounds "
        "(reparam speed-up = train / reparam; X vs reparam = reparam / X, above 1 means X is faster). "
        "max abs diff: largest vertex difference of the exports vs torch reparameterized, metres."
    )
    lines.append("")
    lines.append("goals:")
    for r in rows:
        speedup = r.ms["train"] / r.ms["reparam"]
        ok = "met" if speedup >= GOAL_REPARAM_SPEEDUP else "NOT met"
        lines.append(
            f"- {r.variant} {r.size}px batch {r.batch}: reparameterized torch {speedup:.2f}x faster than "
            f"train-time (goal >= {GOAL_REPARAM_SPEEDUP}x): {ok}"
        )
        if r.variant == "fastvit_t8" and "onnx" in r.ms:
            per_crop = r.ms["onnx"] / r.batch
            ok = "met" if per_crop <= GOAL_T8_ORT_MS_PER_CROP else "NOT met"
            lines.append(
                f"- fastvit_t8 {r.size}px batch {r.batch}: ONNX Runtime {per_crop:.2f} ms per crop "
                f"(goal <= {GOAL_T8_ORT_MS_PER_CROP:g} ms): {ok}"
            )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Time every requested variant and batch size; print the table to stdout, progress to stderr."""
    from fastvit_backbone import get_variant
    from handmesh.errors import ConfigError

    variants = [get_variant(v).name for v in args.variants]
    if args.input_size is not None and (args.input_size <= 0 or args.input_size % 32):
        raise ConfigError(f"--input-size: {args.input_size} is not a positive multiple of 32 (FastViT's stride)")
    if any(b < 1 for b in args.batches):
        raise ConfigError(f"--batches: expected positive batch sizes, got {args.batches}")
    if args.repeats < 1 or args.warmup < 0:
        raise ConfigError("--repeats must be >= 1 and --warmup >= 0")
    if args.threads is not None:
        if args.threads < 1:
            raise ConfigError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    onnx_ok, onnx_note = not args.no_onnx, "ONNX Runtime skipped (--no-onnx)"
    if onnx_ok:
        try:
            import onnx  # noqa: F401
            import onnxruntime

            onnx_note = f"onnxruntime {onnxruntime.__version__} (CPUExecutionProvider)"
        except ImportError:
            onnx_ok, onnx_note = False, "onnx/onnxruntime not installed: ORT column skipped"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    header = [
        "handmesh-bench model: whole network (encoder + head + hand model) latency, median ms per call",
        f"command: handmesh-bench model {' '.join(_argv_echo(args))}",
        f"machine: {_machine()}" + (f"; load average at start {load:.2f}" if load is not None else ""),
        f"threads: {threads} (torch and ONNX Runtime); torch {torch.__version__}, {onnx_note}",
        f"timing: {args.warmup} warm-up + {args.repeats} timed calls per backend, round-robin; NCHW float32 on the "
        "CPU; open hand model, random weights with trained-like statistics",
    ]
    if load is not None and load > 0.5:
        _progress(
            f"warning: load average {load:.2f} - other processes are running; with them competing for the "
            "cores, timings are unreliable (re-run on a quiet machine)"
        )
    rows: list[Row] = []
    for i, name in enumerate(variants, 1):
        size = args.input_size or RECIPES.get(name, (224, False))[0]
        _progress(f"({i}/{len(variants)}) {name} at {size}x{size}: building and exporting")
        net = build_bench_network(name, size, args.head_hidden, args.seed)
        fns = _backends(net, size, threads, onnx_ok, not args.no_torchscript)
        for batch in args.batches:
            x = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(args.seed))
            ref = fns["reparam"](x)
            diffs = [float(np.abs(fn(x) - ref).max()) for k, fn in fns.items() if k in ("onnx", "torchscript")]
            medians = _time_round_robin(
                {k: (lambda fn=fn, x=x: fn(x)) for k, fn in fns.items()}, args.warmup, args.repeats
            )
            row = Row(
                name,
                size,
                batch,
                ms={k: v * 1e3 for k, v in medians.items()},
                max_abs_m=max(diffs) if diffs else float("nan"),
            )
            rows.append(row)
            _progress(
                f"({i}/{len(variants)}) {name} batch {batch}: "
                + ", ".join(f"{LABELS[k]} {v:.2f} ms" for k, v in row.ms.items())
            )
    print(format_table(rows, header))
    return 0


def _argv_echo(args: argparse.Namespace) -> list[str]:
    out = [
        "--variants",
        *args.variants,
        "--batches",
        *map(str, args.batches),
        "--repeats",
        str(args.repeats),
        "--warmup",
        str(args.warmup),
    ]
    if args.input_size is not None:
        out += ["--input-size", str(args.input_size)]
    if args.threads is not None:
        out += ["--threads", str(args.threads)]
    if args.head_hidden != 1024:
        out += ["--head-hidden", str(args.head_hidden)]
    if args.no_onnx:
        out.append("--no-onnx")
    if args.no_torchscript:
        out.append("--no-torchscript")
    return out
